// The batched WAL writes of the webhook writer's connection (src/store/wal_batch.cpp): one
// write per commit, every commit readable by other connections at once, transactions that
// spill or outgrow the buffer intact, WAL restarts after checkpoints, and nothing committed
// lost when the process dies. The VFS is driven through connections of the test's own; the
// store's use of it through the store's interface.
#include "store/wal_batch.hpp"
#include "support/support.hpp"
#include "support/temp_store.hpp"
#include "unit/test_helpers.hpp"
#include "wabactl/error.hpp"
#include "wabactl/store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

using namespace wabactl;
using testhelpers::code_of;
using testsupport::raw_db;
using testsupport::TempDir;

namespace {

// A connection of the test's own set up as the store sets up its own (2 KiB pages on a new
// file, WAL mode, synchronous=FULL), writing its WAL through the batching VFS or (`batched`
// false) SQLite's own.
SQLite::Database connection(const std::filesystem::path& path, bool batched) {
  SQLite::Database db(path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, 10000,
                      batched ? batched_wal_vfs() : "");
  db.exec("PRAGMA page_size = 2048");
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = FULL");
  db.exec("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, k TEXT UNIQUE, v BLOB)");
  return db;
}

SQLite::Database batched_writer(const std::filesystem::path& path) {
  return connection(path, true);
}

// Inserts `rows` rows with random-looking keys (so every commit dirties index pages at
// several places) starting at `first`, in one transaction.
void insert_rows(SQLite::Database& db, int first, int rows, std::size_t value_size = 200) {
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement q(db, "INSERT INTO t(id, k, v) VALUES(?, ?, zeroblob(?))");
  for (int i = first; i < first + rows; ++i) {
    q.bind(1, i);
    q.bind(2, fmt::format("{:08x}", static_cast<unsigned>(i) * 2654435761u));
    q.bind(3, static_cast<int>(value_size));
    q.exec();
    q.reset();
  }
  tx.commit();
}

long long count_rows(const std::filesystem::path& db) {
  return raw_db(db).execAndGet("SELECT count(*) FROM t").getInt64();
}

std::string integrity(const std::filesystem::path& db) {
  return raw_db(db).execAndGet("PRAGMA integrity_check").getString();
}

// Write system calls this thread has made (write, pwrite, ...), from /proc/thread-self/io:
// other threads of the test process do not count.
long long write_calls() {
  std::ifstream io("/proc/thread-self/io");
  std::string key;
  long long value = 0;
  while (io >> key >> value) {
    if (key == "syscw:") return value;
  }
  FAIL("no syscw in /proc/thread-self/io");
  return 0;
}

} // namespace

TEST_CASE("batched WAL: a commit is one write, and the other connections read it at once") {
  TempDir dir;
  auto path = dir / "w.db";
  auto writer = batched_writer(path);
  auto direct_writer = connection(path, false);
  insert_rows(writer, 0, 1); // the WAL header and the schema are in place

  auto reader = raw_db(path);
  for (int round = 1; round <= 5; ++round) {
    auto before = write_calls();
    insert_rows(writer, round * 1000, 120);
    auto batched_writes = write_calls() - before;
    CAPTURE(batched_writes);
    // The frames, in one write; SQLite adds no other write to a WAL commit. Sanitizer
    // builds add a few of their own (pipe writes that probe memory) on the same thread.
    CHECK(batched_writes >= 1);
    CHECK(batched_writes <= 4);
    CHECK(reader.execAndGet("SELECT count(*) FROM t").getInt64() == 1 + round * 120);
  }

  // The same work through SQLite's own writes: two per frame.
  auto before = write_calls();
  insert_rows(direct_writer, 10000, 120);
  auto direct_writes = write_calls() - before;
  CAPTURE(direct_writes);
  CHECK(direct_writes >= 30);
  CHECK(count_rows(path) == 1 + 6 * 120);
  CHECK(integrity(path) == "ok");
}

TEST_CASE("batched WAL: a transaction that spills its cache or outgrows the buffer is intact") {
  TempDir dir;
  auto path = dir / "w.db";
  {
    auto writer = batched_writer(path);
    // A tiny cache makes SQLite write pages to the WAL mid-transaction and read them back.
    writer.exec("PRAGMA cache_size = 5");
    insert_rows(writer, 0, 3000, 300);
    CHECK(count_rows(path) == 3000);
    writer.exec("PRAGMA cache_size = -2000");
    // One commit of about 3 MiB: wider than the 1 MiB buffer.
    insert_rows(writer, 10000, 10, 300000);
    // Rolled back work never becomes visible.
    writer.exec("BEGIN IMMEDIATE");
    writer.exec("INSERT INTO t(id, k, v) VALUES(99999, 'gone', zeroblob(5000))");
    writer.exec("ROLLBACK");
    // The writer reads its own committed rows back.
    CHECK(writer.execAndGet("SELECT sum(length(v)) FROM t WHERE id >= 10000").getInt64() ==
          3000000);
  }
  CHECK(count_rows(path) == 3010);
  CHECK(raw_db(path).execAndGet("SELECT count(*) FROM t WHERE id = 99999").getInt64() == 0);
  CHECK(integrity(path) == "ok");
}

TEST_CASE("batched WAL: writing goes on across checkpoints that restart the WAL") {
  TempDir dir;
  auto path = dir / "w.db";
  auto writer = batched_writer(path);
  auto other = raw_db(path);
  for (int round = 0; round < 6; ++round) {
    insert_rows(writer, round * 1000, 200);
    // TRUNCATE empties the WAL file: the next commit writes from offset 0 again.
    auto mode = round % 2 == 0 ? "TRUNCATE" : "RESTART";
    auto r = other.execAndGet(fmt::format("PRAGMA wal_checkpoint({})", mode));
    CHECK(r.getInt() == 0); // not busy
    CHECK(other.execAndGet("SELECT count(*) FROM t").getInt64() == (round + 1) * 200);
  }
  // A checkpoint from the writer's own connection, then more rows.
  writer.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  insert_rows(writer, 50000, 10);
  CHECK(count_rows(path) == 6 * 200 + 10);
  CHECK(integrity(path) == "ok");
}

TEST_CASE("batched WAL: every commit a killed process reported is in the database") {
  TempDir dir;
  auto path = dir / "w.db";
  connection(path, false); // the file and its table, for the child to write to
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(fds[0]);
    try {
      auto writer = batched_writer(path);
      for (int i = 0;; ++i) {
        insert_rows(writer, i * 10, 10);
        if (::write(fds[1], &i, sizeof i) != static_cast<ssize_t>(sizeof i)) ::_exit(3);
      }
    } catch (...) {
      ::_exit(2);
    }
  }
  ::close(fds[1]);
  int last = -1;
  int i = 0;
  while (last < 200 && ::read(fds[0], &i, sizeof i) == static_cast<ssize_t>(sizeof i)) last = i;
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(fds[0]);
  CHECK(WIFSIGNALED(status));
  REQUIRE(last >= 200);
  // Reported commits are there; the one in flight is there in whole or not at all.
  auto rows = count_rows(path);
  CHECK(rows >= (last + 1) * 10);
  CHECK(rows % 10 == 0);
  CHECK(integrity(path) == "ok");
}

TEST_CASE("a store opened with batched WAL writes commits in one write") {
  TempDir dir;
  Store store(dir / "w.db", Durability::full, WalWrites::batched);
  store.set_setting("warm-up", {1}); // the WAL header is in place
  // About 30 pages of 2 KiB: SQLite's own writes would be two per page.
  const std::vector<unsigned char> value(60000, 7);
  auto before = write_calls();
  store.set_setting("big", value);
  auto writes = write_calls() - before;
  CAPTURE(writes);
  CHECK(writes >= 1);
  CHECK(writes <= 4);
  CHECK(store.setting("big") == value);
  CHECK(integrity(dir / "w.db") == "ok");

  // The same commit on a store with SQLite's own writes.
  Store direct(dir / "d.db", Durability::full, WalWrites::direct);
  direct.set_setting("warm-up", {1});
  before = write_calls();
  direct.set_setting("big", value);
  auto direct_writes = write_calls() - before;
  CAPTURE(direct_writes);
  CHECK(direct_writes >= 30);
}

TEST_CASE("batched WAL writes are refused without synchronous=FULL") {
  TempDir dir;
  CHECK(code_of([&] { Store s(dir / "w.db", Durability::normal, WalWrites::batched); }) ==
        Exit::internal);
}
