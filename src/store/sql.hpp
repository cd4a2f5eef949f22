#pragma once
// Binding and reading SQL NULLs as std::optional, and the lease on a cached prepared statement
// (Store::prepare), for the modules that write SQL.

#include "wabactl/messages.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <memory>
#include <optional>
#include <string>

namespace wabactl {

/// The message on the current row of a statement that selects message_select().
Message row_to_message(SQLite::Statement& q);

/// A column's text, or nullopt when it is NULL.
inline std::optional<std::string> opt_text(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getString();
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
