#pragma once
// What the repositories inside src/store share and nothing outside sees: the SQLite
// connection of a Store, its cache of prepared statements, binding and reading SQL NULLs as
// std::optional, and the translation of SQLite's exceptions into StoreError.

#include "wabactl/messages.hpp"
#include "wabactl/store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace wabactl {

/// The SQLite connection of a store.
SQLite::Database& sqlite(Store& store);

/// Whether the store's connection is inside a transaction.
bool in_transaction(Store& store);

class StatementLease;

/// A prepared statement for `sql` from the connection's cache, for SQL that runs again and
/// again (webhook ingest, event log): preparing costs more than running most of it. The
/// statement is reset and its bindings cleared when the lease ends. A statement that is
/// already leased (nested use), or SQL beyond the cache's bound, gets a fresh statement.
StatementLease prepare(Store& store, std::string_view sql);

/// Runs `fn`, reporting SQLite's exceptions as StoreError: every operation a repository
/// offers runs inside one, so callers never see the engine's types.
template <typename Fn> decltype(auto) translated(Fn&& fn) {
  try {
    return fn();
  } catch (const SQLite::Exception& e) {
    throw StoreError(e.what());
  }
}

/// SQL: when the customer-service window of conversation `conversation` of `tenant` (SQL
/// expressions) closes (CONTRACT.md §8: 24 h after its customer's latest message, by Meta's
/// timestamp; null when the customer never wrote), open or not. Our sends, echoes and
/// statuses do not count, nor Meta's system notices. One seek in messages_customer_latest.
std::string window_closes_sql(const char* tenant, const char* conversation);

/// `closes` (from window_closes_sql) when it is still ahead of now, else nullopt.
std::optional<std::string> open_window(std::optional<std::string> closes);

/// The message on the current row of a statement that selects message_select().
Message row_to_message(SQLite::Statement& q);

/// A column's text, or nullopt when it is NULL.
inline std::optional<std::string> opt_text(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getString();
}

/// A column's bytes (sealed secrets), empty when it is NULL.
inline std::vector<unsigned char> blob(const SQLite::Column& c) {
  if (c.isNull()) return {};
  const auto* p = static_cast<const unsigned char*>(c.getBlob());
  return {p, p + c.getBytes()};
}

/// Binds `v` to the parameter `key` (index or name), or NULL when it is nullopt.
template <typename Key, typename T>
void bind_opt(SQLite::Statement& q, Key key, const std::optional<T>& v) {
  if (v) {
    q.bind(key, *v);
  } else {
    q.bind(key);
  }
}

/// Binds text to `key` without copying it, or NULL when it is nullopt. The text must stay
/// alive until the statement has run: the webhook writer binds a dozen strings per delivery,
/// and copying each (an allocation and a free) was 5 % of its work.
template <typename Key>
void bind_ref(SQLite::Statement& q, Key key, const std::optional<std::string>& v) {
  if (v) {
    q.bindNoCopy(key, *v);
  } else {
    q.bind(key);
  }
}

/// A statement handed out by Store::prepare. When the lease ends the statement is reset and
/// unbound, so a cached SELECT never keeps a read snapshot open between uses, and the cache
/// may hand it out again.
class StatementLease {
public:
  StatementLease(SQLite::Statement& cached, bool& in_use) noexcept
      : statement_(&cached), in_use_(&in_use) {
    in_use = true;
  }
  explicit StatementLease(std::unique_ptr<SQLite::Statement> own) noexcept
      : statement_(own.get()), own_(std::move(own)) {}
  StatementLease(StatementLease&& other) noexcept
      : statement_(other.statement_), in_use_(other.in_use_), own_(std::move(other.own_)) {
    other.statement_ = nullptr;
    other.in_use_ = nullptr;
  }
  StatementLease(const StatementLease&) = delete;
  StatementLease& operator=(const StatementLease&) = delete;
  StatementLease& operator=(StatementLease&&) = delete;
  ~StatementLease() {
    if (in_use_ == nullptr) return;
    // tryReset reports the last step's error, which the caller has already seen thrown.
    statement_->tryReset();
    try {
      statement_->clearBindings();
    } catch (const SQLite::Exception&) {
      // sqlite3_clear_bindings cannot fail; nothing to report from a destructor anyway.
    }
    *in_use_ = false;
  }

  SQLite::Statement& operator*() const noexcept { return *statement_; }
  SQLite::Statement* operator->() const noexcept { return statement_; }

private:
  SQLite::Statement* statement_;
  bool* in_use_ = nullptr;
  std::unique_ptr<SQLite::Statement> own_;
};

} // namespace wabactl
