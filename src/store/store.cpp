#include "wabactl/store.hpp"

#include "store/migrations.hpp"
#include "store/sql.hpp"
#include "store/wal_batch.hpp"
#include "wabactl/error.hpp"
#include "wabactl/util.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace wabactl {

namespace {

struct CachedStatement {
  SQLite::Statement statement;
  bool in_use = false;
};

// Statement texts run to hundreds of bytes, and hashing all of one on every prepare() was
// 3 % of the webhook writer's instructions. The texts differ in length or in a few sampled
// words; a collision only costs the full comparison the map makes anyway.
struct SqlHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    if (s.size() < 16) return std::hash<std::string_view>{}(s);
    std::uint64_t h = s.size();
    const std::size_t last = s.size() - 8; // every word read lies within the text
    for (std::size_t at : {std::size_t{0}, last / 3, last * 2 / 3, last}) {
      std::uint64_t word = 0;
      std::memcpy(&word, s.data() + at, sizeof word);
      h = (h ^ word) * 0x9E3779B97F4A7C15ULL;
      h ^= h >> 29;
    }
    return static_cast<std::size_t>(h);
  }
};

// SQLite's memory statistics take a process-wide mutex on every allocation (60 per webhook
// delivery in the writer), and nothing here reads them. The setting must come before the
// library initialises, that is before the first connection opens.
void configure_sqlite() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

// Every SQL text in the program is a constant or built from a few variants; the bound only
// guards against a future caller that formats values into SQL.
constexpr std::size_t max_cached_statements = 128;

} // namespace

struct Store::Impl {
  std::filesystem::path path;
  SQLite::Database db;
  // Declared after `db`: statements are finalized before the connection closes.
  std::unordered_map<std::string, std::unique_ptr<CachedStatement>, SqlHash, std::equal_to<>>
      statements;
  std::optional<std::uintmax_t> close_checkpoint_past; ///< see checkpoint_on_close_past()
  Durability durability = Durability::normal;
  Impl(std::filesystem::path p, const std::string& name, int flags, const char* vfs = nullptr)
      : path(std::move(p)), db(name.c_str(), flags, 0, vfs) {}
};

SQLite::Database& sqlite(Store& store) {
  return store.impl().db;
}

namespace {

constexpr int open_flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;

void set_synchronous(SQLite::Database& db, Durability durability) {
  db.exec(durability == Durability::full ? "PRAGMA synchronous = FULL"
                                         : "PRAGMA synchronous = NORMAL");
}

void apply_pragmas(SQLite::Database& db, Durability durability) {
  db.exec("PRAGMA foreign_keys = ON");
  db.setBusyTimeout(10000);
  // New databases get 2 KiB pages. Every delivery dirties a few pages at random places in
  // the indexes, and each goes to the WAL and again to the database at checkpoint: the
  // webhook bench does 7,180 req/s with 2 KiB pages against 6,030-6,200 with SQLite's 4 KiB
  // (169 vs 197-209 us of daemon CPU per request); reads of a 50-message page stay within
  // noise. SQLite ignores this on a database that already has tables.
  db.exec("PRAGMA page_size = 2048");
  std::string mode = db.execAndGet("PRAGMA journal_mode = WAL").getString();
  if (mode != "wal") {
    throw Error(Exit::internal, "the database could not be switched to WAL mode");
  }
  set_synchronous(db, durability);
}

// Creates the database file with mode 0600 before SQLite opens it, so secrets never sit in
// a world-readable file (SQLite gives its -wal and -shm files the same mode).
void precreate(const std::filesystem::path& path) {
  // POSIX locks belong to the process: closing any descriptor of a database this process
  // already has open would drop its SQLite locks (another process could then delete the
  // live WAL). An existing file is therefore left alone.
  std::error_code exists_error;
  if (std::filesystem::is_regular_file(path, exists_error)) return;
  make_private_dirs(path.parent_path());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    int e = errno;
    throw Error(exit_for_path_errno(e),
                fmt::format("cannot open database '{}': {}", path.string(), std::strerror(e)),
                "check --db or $WABACTL_DB");
  }
  ::close(fd);
}

int user_version(SQLite::Database& db) {
  return db.execAndGet("PRAGMA user_version").getInt();
}

} // namespace

static std::unique_ptr<Store::Impl> open_store_impl(const std::filesystem::path& path,
                                                    Durability durability,
                                                    WalWrites wal = WalWrites::direct) {
  if (wal == WalWrites::batched && durability != Durability::full) {
    throw Error(Exit::internal, "batched WAL writes need synchronous=FULL");
  }
  configure_sqlite();
  precreate(path);
  try {
    const char* vfs = wal == WalWrites::batched ? batched_wal_vfs() : nullptr;
    auto impl = std::make_unique<Store::Impl>(path, path.string(), open_flags, vfs);
    apply_pragmas(impl->db, durability);
    impl->durability = durability;
    return impl;
  } catch (const SQLite::Exception& e) {
    throw Error(Exit::internal,
                fmt::format("cannot open database '{}': {}", path.string(), e.what()));
  }
}

void migrate(SQLite::Database& db, int target) {
  const auto& list = migrations();
  int current = user_version(db);
  if (current > static_cast<int>(list.size())) {
    throw Error(Exit::internal,
                fmt::format("the database has schema version {}, newer than this wabactl "
                            "understands ({})",
                            current, list.size()),
                "upgrade wabactl");
  }
  while (current < target) {
    // Each step is one transaction: an interrupted migration leaves the previous version.
    db.exec("BEGIN IMMEDIATE");
    try {
      // Re-read under the write lock: another process may have migrated meanwhile.
      current = user_version(db);
      if (current >= target) {
        db.exec("COMMIT");
        break;
      }
      db.exec(list[static_cast<std::size_t>(current)]);
      db.exec(fmt::format("PRAGMA user_version = {}", current + 1));
      db.exec("COMMIT");
      ++current;
    } catch (...) {
      db.exec("ROLLBACK");
      throw;
    }
  }
}

int Store::latest_version() {
  return static_cast<int>(migrations().size());
}

Store::Store(const std::filesystem::path& path, Durability durability, WalWrites wal)
    : impl_(open_store_impl(path, durability, wal)) {
  try {
    migrate(impl_->db, latest_version());
  } catch (const SQLite::Exception& e) {
    throw Error(Exit::internal,
                fmt::format("cannot migrate database '{}': {}", path.string(), e.what()));
  }
}

Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() {
  if (!impl_ || !impl_->close_checkpoint_past) return;
  std::error_code ec;
  auto wal = std::filesystem::file_size(impl_->path.string() + "-wal", ec);
  int skip = ec || wal < *impl_->close_checkpoint_past ? 1 : 0;
  // A refusal only means the default (a checkpoint when this is the last connection).
  sqlite3_db_config(impl_->db.getHandle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, skip, nullptr);
}

const std::filesystem::path& Store::path() const {
  return impl_->path;
}

std::int64_t Store::data_version() {
  return translated([&] { return impl_->db.execAndGet("PRAGMA data_version").getInt64(); });
}

void Store::check() {
  translated([&] { impl_->db.execAndGet("SELECT count(*) FROM tenants").getInt64(); });
}

void Store::set_busy_timeout(std::chrono::milliseconds wait) {
  impl_->db.setBusyTimeout(static_cast<int>(wait.count()));
}

bool in_transaction(Store& store) {
  return sqlite3_get_autocommit(sqlite(store).getHandle()) == 0;
}

void Store::transaction(const std::function<void()>& fn) {
  transaction(fn, impl_->durability);
}

namespace {

void run_transaction(Store& store, const std::function<void()>& fn) {
  auto& db = sqlite(store);
  if (in_transaction(store)) {
    // Already inside a transaction: a savepoint gives the inner call its own rollback.
    prepare(store, "SAVEPOINT nested")->exec();
    try {
      fn();
      prepare(store, "RELEASE nested")->exec();
    } catch (...) {
      try {
        db.exec("ROLLBACK TO nested");
        db.exec("RELEASE nested");
      } catch (const SQLite::Exception&) {
        // The outer transaction is gone already; the original error is the one to report.
      }
      throw;
    }
    return;
  }
  prepare(store, "BEGIN IMMEDIATE")->exec();
  try {
    fn();
    prepare(store, "COMMIT")->exec();
  } catch (...) {
    try {
      db.exec("ROLLBACK");
    } catch (const SQLite::Exception&) {
      // SQLite may already have rolled back (e.g. after SQLITE_FULL); the original error
      // is the one worth reporting.
    }
    throw;
  }
}

} // namespace

void Store::transaction(const std::function<void()>& fn, Durability durability) {
  translated([&] {
    // PRAGMA synchronous applies to the commits that follow on this connection: set for
    // this transaction only, and only when it differs from the store's.
    bool switched = durability != impl_->durability && !in_transaction(*this);
    if (!switched) return run_transaction(*this, fn);
    set_synchronous(impl_->db, durability);
    try {
      run_transaction(*this, fn);
    } catch (...) {
      set_synchronous(impl_->db, impl_->durability);
      throw;
    }
    set_synchronous(impl_->db, impl_->durability);
  });
}

void Store::checkpoint_on_close_past(std::uintmax_t wal_bytes) {
  impl_->close_checkpoint_past = wal_bytes;
}

StatementLease prepare(Store& store, std::string_view sql) {
  auto& impl = store.impl();
  auto& cache = impl.statements;
  auto it = cache.find(sql);
  if (it == cache.end() && cache.size() < max_cached_statements) {
    auto entry = std::unique_ptr<CachedStatement>(
        new CachedStatement{SQLite::Statement(impl.db, std::string(sql))});
    it = cache.emplace(std::string(sql), std::move(entry)).first;
  }
  if (it == cache.end() || it->second->in_use) {
    return StatementLease(std::make_unique<SQLite::Statement>(impl.db, std::string(sql)));
  }
  return StatementLease(it->second->statement, it->second->in_use);
}

std::optional<std::vector<unsigned char>> Store::setting(std::string_view name) {
  return translated([&]() -> std::optional<std::vector<unsigned char>> {
    SQLite::Statement q(impl_->db, "SELECT value FROM settings WHERE name = ?");
    q.bind(1, std::string(name));
    if (!q.executeStep()) return std::nullopt;
    const auto* p = static_cast<const unsigned char*>(q.getColumn(0).getBlob());
    return std::vector<unsigned char>(p, p + q.getColumn(0).getBytes());
  });
}

void Store::set_setting(std::string_view name, const std::vector<unsigned char>& value) {
  translated([&] {
    SQLite::Statement q(impl_->db, "INSERT INTO settings(name, value) VALUES(?, ?) "
                                   "ON CONFLICT(name) DO UPDATE SET value = excluded.value");
    q.bind(1, std::string(name));
    q.bind(2, value.data(), static_cast<int>(value.size()));
    q.exec();
  });
}

} // namespace wabactl
