#pragma once
// The SQLite store: one file in WAL mode, schema versioned with PRAGMA user_version and
// migrated forward on open. Repositories (tenants.hpp, configs.hpp, ...) work on a Store.

#include <cstddef>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace SQLite {
class Database;
}

namespace wabactl {

class StatementLease;

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
  /// An in-memory database (tests).
  static Store in_memory();
  /// Opens without migrating beyond `version` (tests of migrations).
  static Store at_version(const std::filesystem::path& path, int version);

  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  ~Store();

  /// The underlying connection, for repositories inside the library.
  SQLite::Database& db();
  /// The schema version of the open database.
  int version();
  /// The database file path (empty for in-memory databases).
  const std::filesystem::path& path() const;
  /// A number that changes whenever another connection (or process) commits: a cheap way to
  /// see that anything may have changed since it was last read.
  std::int64_t data_version();
  /// How long a statement waits for another connection's write lock before it fails.
  void set_busy_timeout(std::chrono::milliseconds wait);

  /// Runs `fn` inside BEGIN IMMEDIATE ... COMMIT; rolls back when it throws. Called inside
  /// another transaction, it uses a savepoint that rolls back only its own changes.
  void transaction(const std::function<void()>& fn);

  /// When this connection closes as the last one, leaves the WAL as it is (no checkpoint
  /// and its fsyncs at exit) while the WAL file is under `wal_bytes`; past that, SQLite's
  /// checkpoint on close runs and removes it. For short-lived CLI processes: every process
  /// that opens the database as the first connection reads the whole WAL to rebuild its
  /// index (about 3 us a page), so the WAL must not be left to grow to SQLite's 1,000-page
  /// automatic checkpoint.
  void checkpoint_on_close_past(std::uintmax_t wal_bytes);

  /// A prepared statement for `sql` from this connection's cache, for SQL that runs again
  /// and again (webhook ingest, event log): preparing costs more than running most of it.
  /// The statement is reset and its bindings cleared when the lease ends. A statement that
  /// is already leased (nested use), or SQL beyond the cache's bound, gets a fresh statement.
  StatementLease prepare(std::string_view sql);

  /// Small key/value settings (Argon2id salt, key check). nullopt when absent.
  std::optional<std::vector<unsigned char>> setting(std::string_view name);
  void set_setting(std::string_view name, const std::vector<unsigned char>& value);

  struct Impl;

private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Migrates the open database forward to `target` (used by Store and by tests).
void migrate(SQLite::Database& db, int target);

} // namespace wabactl
