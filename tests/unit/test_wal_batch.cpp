// The batched WAL writes of the webhook writer's connection (src/store/wal_batch.cpp): one
// write per commit, every commit readable by other connections at once, transactions that
// spill or outgrow the buffer intact, WAL restarts after checkpoints, and nothing committed
// lost when the process dies.
#include "support/support.hpp"
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
using testsupport::TempDir;

namespace {

void make_table(Store& store) {
  store.db().exec("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, k TEXT UNIQUE, v BLOB)");
}

// A connection with batched WAL writes on the test table.
Store batched_writer(const std::filesystem::path& path) {
  Store writer(path, Durability::full, WalWrites::batched);
  make_table(writer);
  return writer;
}

// Inserts `rows` rows with random-looking keys (so every commit dirties index pages at
// several places) starting at `first`, in one transaction.
void insert_rows(Store& store, int first, int rows, std::size_t value_size = 200) {
  store.transaction([&] {
    SQLite::Statement q(store.db(), "INSERT INTO t(id, k, v) VALUES(?, ?, zeroblob(?))");
    for (int i = first; i < first + rows; ++i) {
      q.bind(1, i);
      q.bind(2, fmt::format("{:08x}", static_cast<unsigned>(i) * 2654435761u));
      q.bind(3, static_cast<int>(value_size));
      q.exec();
      q.reset();
    }
  });
}

long long count_rows(const std::filesystem::path& db) {
  Store reader(db);
  return reader.db().execAndGet("SELECT count(*) FROM t").getInt64();
}

std::string integrity(const std::filesystem::path& db) {
  Store reader(db);
  return reader.db().execAndGet("PRAGMA integrity_check").getString();
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
  Store writer = batched_writer(path);
  Store direct_writer(path, Durability::full, WalWrites::direct);
  insert_rows(writer, 0, 1); // the WAL header and the schema are in place

  Store reader(path);
  for (int round = 1; round <= 5; ++round) {
    auto before = write_calls();
    insert_rows(writer, round * 1000, 120);
    auto batched_writes = write_calls() - before;
    CAPTURE(batched_writes);
    // The frames, in one write; SQLite adds no other write to a WAL commit. Sanitizer
    // builds add a few of their own (pipe writes that probe memory) on the same thread.
    CHECK(batched_writes >= 1);
    CHECK(batched_writes <= 4);
    CHECK(reader.db().execAndGet("SELECT count(*) FROM t").getInt64() == 1 + round * 120);
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
    Store writer = batched_writer(path);
    // A tiny cache makes SQLite write pages to the WAL mid-transaction and read them back.
    writer.db().exec("PRAGMA cache_size = 5");
    insert_rows(writer, 0, 3000, 300);
    CHECK(count_rows(path) == 3000);
    writer.db().exec("PRAGMA cache_size = -2000");
    // One commit of about 3 MiB: wider than the 1 MiB buffer.
    insert_rows(writer, 10000, 10, 300000);
    // Rolled back work never becomes visible.
    CHECK_THROWS(writer.transaction([&] {
      writer.db().exec("INSERT INTO t(id, k, v) VALUES(99999, 'gone', zeroblob(5000))");
      throw std::runtime_error("abandon");
    }));
    // The writer reads its own committed rows back.
    CHECK(writer.db().execAndGet("SELECT sum(length(v)) FROM t WHERE id >= 10000").getInt64() ==
          3000000);
  }
  CHECK(count_rows(path) == 3010);
  Store reader(path);
  CHECK(reader.db().execAndGet("SELECT count(*) FROM t WHERE id = 99999").getInt64() == 0);
  CHECK(integrity(path) == "ok");
}

TEST_CASE("batched WAL: writing goes on across checkpoints that restart the WAL") {
  TempDir dir;
  auto path = dir / "w.db";
  Store writer = batched_writer(path);
  Store other(path);
  for (int round = 0; round < 6; ++round) {
    insert_rows(writer, round * 1000, 200);
    // TRUNCATE empties the WAL file: the next commit writes from offset 0 again.
    auto mode = round % 2 == 0 ? "TRUNCATE" : "RESTART";
    auto r = other.db().execAndGet(fmt::format("PRAGMA wal_checkpoint({})", mode));
    CHECK(r.getInt() == 0); // not busy
    CHECK(other.db().execAndGet("SELECT count(*) FROM t").getInt64() == (round + 1) * 200);
  }
  // A checkpoint from the writer's own connection, then more rows.
  writer.db().exec("PRAGMA wal_checkpoint(TRUNCATE)");
  insert_rows(writer, 50000, 10);
  CHECK(count_rows(path) == 6 * 200 + 10);
  CHECK(integrity(path) == "ok");
}

TEST_CASE("batched WAL: every commit a killed process reported is in the database") {
  TempDir dir;
  auto path = dir / "w.db";
  {
    Store setup(path);
    make_table(setup);
  }
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(fds[0]);
    try {
      Store writer(path, Durability::full, WalWrites::batched);
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

TEST_CASE("batched WAL writes are refused without synchronous=FULL") {
  TempDir dir;
  CHECK(code_of([&] { Store s(dir / "w.db", Durability::normal, WalWrites::batched); }) ==
        Exit::internal);
}
