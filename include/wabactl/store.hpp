#pragma once
// The store: the one place that knows the database engine. Callers see a Store (a
// connection with its transactions, durability and change counter) and the repositories
// that work on it, one header per concept: tenants.hpp, configs.hpp, tokens.hpp,
// messages.hpp (messages and the event log), conversations.hpp (history, unread, read
// marks), outbox.hpp (sends), inbox.hpp (webhook deliveries) and delivery_writer.hpp
// (the daemon's group commit). Every operation is named for what it does, scoped to one
// tenant where data is a tenant's, and reports engine failures as StoreError.
//
// The engine today is SQLite: one file in WAL mode, schema versioned with PRAGMA
// user_version and migrated forward on open. Nothing outside src/store sees it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wabactl/error.hpp"

namespace wabactl {

/// A failure of the database engine itself (a lock held too long, a full disk, a damaged
/// file): the CLI exits 1 with it, the REST API answers 503 so the client retries.
class StoreError : public Error {
public:
  explicit StoreError(const std::string& what)
      : Error(Exit::internal, "database: " + what,
              "another process may hold a lock, or the file is damaged") {}
};

/// How durable each commit is: `full` syncs the WAL on every commit (survives power loss),
/// `normal` syncs at checkpoints (survives a process crash).
enum class Durability { full, normal };

/// How a connection writes its WAL: `direct` as SQLite does (two writes per frame),
/// `batched` gathered into one write per commit (src/store/wal_batch.hpp). Batched needs
/// Durability::full: the commit's sync is what makes the frames reach the file.
enum class WalWrites { direct, batched };

class Store {
public:
  /// The schema version this build writes; older databases are migrated up to it.
  static int latest_version();

  /// Opens (creating it and its 0700 parent folder if needed) and migrates the database.
  /// Newer schema versions than this build knows are refused with a clear error.
  explicit Store(const std::filesystem::path& path, Durability durability = Durability::full,
                 WalWrites wal = WalWrites::direct);

  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  ~Store();

  /// The database file path.
  const std::filesystem::path& path() const;
  /// A number that changes whenever another connection (or process) commits: a cheap way to
  /// see that anything may have changed since it was last read.
  std::int64_t data_version();
  /// Reads from the database (a health check): StoreError when it does not answer.
  void check();
  /// How long a statement waits for another connection's write lock before it fails.
  void set_busy_timeout(std::chrono::milliseconds wait);

  /// Runs `fn` in one transaction that takes the write lock at once, committed with the
  /// store's durability; rolls back when it throws. Called inside another transaction, it
  /// uses a savepoint that rolls back only its own changes (the outer one commits them).
  void transaction(const std::function<void()>& fn);
  /// The same, committed with `durability` instead of the store's: `normal` for a change a
  /// power loss may undo safely (Meta's answer to a send, whose row then stays claimed and
  /// is never re-sent), saving its sync. Inside another transaction the outer one decides.
  void transaction(const std::function<void()>& fn, Durability durability);

  /// When this connection closes as the last one, leaves the WAL as it is (no checkpoint
  /// and its fsyncs at exit) while the WAL file is under `wal_bytes`; past that, SQLite's
  /// checkpoint on close runs and removes it. For short-lived CLI processes: every process
  /// that opens the database as the first connection reads the whole WAL to rebuild its
  /// index (about 3 us a page), so the WAL must not be left to grow to SQLite's 1,000-page
  /// automatic checkpoint.
  void checkpoint_on_close_past(std::uintmax_t wal_bytes);

  /// Small key/value settings (Argon2id salt, key check). nullopt when absent.
  std::optional<std::vector<unsigned char>> setting(std::string_view name);
  void set_setting(std::string_view name, const std::vector<unsigned char>& value);

  /// The engine's connection, for the repositories inside src/store (store/sql.hpp).
  struct Impl;
  Impl& impl() { return *impl_; }

private:
  std::unique_ptr<Impl> impl_;
};

} // namespace wabactl
