// Unit tests of the daemon's group writer: every delivery submitted from many threads is
// committed exactly once, and its checkpoints keep the WAL bounded under sustained writes.
#include "support/fixtures.hpp"
#include "support/support.hpp"
#include "support/temp_store.hpp"
#include "wabactl/delivery_writer.hpp"
#include "wabactl/error.hpp"
#include "wabactl/inbox.hpp"
#include "wabactl/store.hpp"
#include "wabactl/tenants.hpp"
#include "wabactl/webhook.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

using namespace wabactl;
using testsupport::TempDir;

namespace {

std::string inbound(int n) {
  return fmt::format(
      R"({{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages",)"
      R"("value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550000000",)"
      R"("phone_number_id":"{0}"}},"contacts":[{{"profile":{{"name":"Customer {1}"}},"wa_id":"1555{1:07d}"}}],)"
      R"("messages":[{{"from":"1555{1:07d}","id":"wamid.WRITER{1:010d}","timestamp":"1764000000",)"
      R"("type":"text","text":{{"body":"message {1} with some text to fill a page or two"}}}}]}}}}]}}]}})",
      fixtures::acme.phone_number_id, n);
}

DeliveryJob job_for(const std::string& body) {
  return {body, parse_delivery(body), fixtures::numbers({fixtures::acme}), "shared", "signature"};
}

// A database file with the tenant acme, closed again: the writer opens its own connections.
std::filesystem::path database_with_acme(const TempDir& dir) {
  auto path = dir / "wabactl.db";
  Store store(path);
  add_tenant(store, "acme", std::nullopt);
  return path;
}

// The nice value of each of this process's threads (/proc/self/task/*/stat, field 19).
std::vector<int> thread_nice_values() {
  std::vector<int> out;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream in(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    // After the command come state (field 3) ... nice (field 19).
    for (int i = 3; i <= 19 && fields >> field; ++i) {
      if (i == 19) out.push_back(std::stoi(field));
    }
  }
  return out;
}

} // namespace

TEST_CASE("the group writer runs above the request threads' priority when allowed") {
  TempDir dir;
  auto path = database_with_acme(dir);
  int base = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
  int wanted = std::max(-20, base - DeliveryWriter::priority_boost);
  // Whether this process may do it at all (root, CAP_SYS_NICE, RLIMIT_NICE), tried on a
  // thread of its own.
  bool allowed = false;
  std::thread([&] {
    allowed = setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), wanted) == 0;
  }).join();
  CAPTURE(base);
  CAPTURE(allowed);
  for (int nice : thread_nice_values()) CHECK(nice == base);

  DeliveryWriter writer(path, Durability::normal);
  writer.start();
  // Stored either way: a refused priority is not an error.
  CHECK(writer.store(job_for(inbound(1))).stored);
  auto values = thread_nice_values();
  CHECK(std::count(values.begin(), values.end(), wanted) == (allowed && wanted != base ? 1 : 0));
  writer.stop();
}

TEST_CASE("the checkpoint thread runs below the process's priority") {
  TempDir dir;
  auto path = database_with_acme(dir);
  int base = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
  int lowered = std::min(19, base + DeliveryWriter::checkpoint_priority_drop);
  CAPTURE(base);
  if (lowered == base) {
    testsupport::skip(
        "this process already runs at nice 19: the checkpoint thread cannot be told apart");
    return;
  }
  auto count_lowered = [&] {
    auto values = thread_nice_values();
    return std::count(values.begin(), values.end(), lowered);
  };
  CHECK(count_lowered() == 0);

  DeliveryWriter writer(path, Durability::normal);
  writer.start();
  // The thread lowers its own priority as it starts.
  for (int i = 0; i < 500 && count_lowered() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(count_lowered() == 1);
  CHECK(writer.store(job_for(inbound(1))).stored);
  writer.stop();
  CHECK(count_lowered() == 0);
}

TEST_CASE("the group writer commits deliveries from many threads once each, WAL bounded") {
  TempDir dir;
  auto path = database_with_acme(dir);
  // Small thresholds so a test-sized load crosses them many times. Without checkpoints the
  // 1,600 deliveries below leave a WAL of well over 10,000 frames.
  CheckpointPolicy policy{64, 512};
  DeliveryWriter writer(path, Durability::normal, policy);
  writer.start();

  constexpr int threads = 8;
  constexpr int per_thread = 200;
  std::vector<int> stored(threads, 0);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        auto outcome = writer.store(job_for(inbound(t * per_thread + i)));
        if (outcome.stored && outcome.stats.messages == 1) ++stored[static_cast<std::size_t>(t)];
      }
    });
  }
  for (auto& th : pool) th.join();
  // The same delivery again is absorbed, not stored twice.
  auto again = writer.store(job_for(inbound(7)));
  CHECK(again.stored);
  CHECK(again.stats.duplicate_delivery);
  CHECK(again.stats.messages == 0);
  writer.stop();

  for (int t = 0; t < threads; ++t) CHECK(stored[static_cast<std::size_t>(t)] == per_thread);
  SQLite::Database db(path.string(), SQLite::OPEN_READONLY);
  std::uintmax_t wal_bytes = std::filesystem::file_size(dir / "wabactl.db-wal");
  auto frame_bytes = static_cast<std::uintmax_t>(db.execAndGet("PRAGMA page_size").getInt()) + 24;
  CAPTURE(wal_bytes);
  // The inline bound plus the frames of the groups committed before the WAL starts over.
  CHECK(wal_bytes <= 1024 * frame_bytes);

  CHECK(db.execAndGet("SELECT count(*) FROM whatsapp_messages").getInt64() == threads * per_thread);
  CHECK(db.execAndGet("SELECT count(DISTINCT message_id) FROM whatsapp_messages").getInt64() ==
        threads * per_thread);
  CHECK(db.execAndGet("SELECT count FROM unread_counts WHERE tenant_id = 'acme'").getInt64() ==
        threads * per_thread);
  CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
}

TEST_CASE("a stopped group writer refuses new deliveries instead of losing them") {
  TempDir dir;
  auto path = database_with_acme(dir);
  DeliveryWriter writer(path, Durability::normal);
  writer.start();
  CHECK(writer.store(job_for(inbound(1))).stored);
  writer.stop();
  auto late = writer.store(job_for(inbound(2)));
  CHECK_FALSE(late.stored);
  CHECK_FALSE(late.error.empty());
  SQLite::Database db(path.string(), SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("SELECT count(*) FROM whatsapp_messages").getInt64() == 1);
}

TEST_CASE("commit listeners hear of every group commit, which events it added, and only join "
          "before start") {
  TempDir dir;
  auto path = database_with_acme(dir);
  DeliveryWriter writer(path, Durability::normal);
  std::vector<GroupCommit> commits;
  writer.on_commit([&](const GroupCommit& c) { commits.push_back(c); });
  writer.start();
  CHECK_THROWS_AS(writer.on_commit([](const GroupCommit&) {}), Error);
  CHECK(writer.store(job_for(inbound(1))).stored);
  // A duplicate adds no event.
  CHECK(writer.store(job_for(inbound(1))).stored);
  writer.stop();
  REQUIRE(commits.size() == 2);
  CHECK(commits[0].deliveries == 1);
  CHECK(commits[0].appended_events);
  CHECK(commits[0].took.count() > 0);
  CHECK(commits[1].deliveries == 1);
  CHECK_FALSE(commits[1].appended_events);
}

TEST_CASE("a handoff wakes its waiter once signalled, whichever comes first") {
  SUBCASE("signalled before the wait: the wait returns at once") {
    Handoff h;
    h.signal();
    h.wait();
  }
  SUBCASE("signalled while waiting: every waiter of many handoffs returns, none early") {
    constexpr int rounds = 2000;
    std::atomic<int> signalled{0};
    std::atomic<int> early{0};
    for (int i = 0; i < rounds; ++i) {
      Handoff h;
      std::atomic<bool> sent{false};
      std::thread waker([&] {
        if (i % 2 == 0) std::this_thread::yield();
        sent.store(true);
        h.signal();
        signalled.fetch_add(1);
      });
      h.wait();
      if (!sent.load()) early.fetch_add(1);
      waker.join();
    }
    CHECK(signalled.load() == rounds);
    CHECK(early.load() == 0);
  }
}

TEST_CASE("a delivery that fails in a group is rolled back alone, the others are stored") {
  TempDir dir;
  auto path = database_with_acme(dir);
  Store store(path);
  // Stands in for any failure inside one delivery's ingest (a constraint, a bug).
  testsupport::raw_db(store).exec("CREATE TRIGGER refuse BEFORE INSERT ON whatsapp_messages "
                                  "WHEN NEW.message_id = 'wamid.WRITER0000000002' "
                                  "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END");
  auto count = [&](const char* sql) { return testsupport::query_int(store, sql); };

  SUBCASE("in a group of three, the middle one") {
    std::vector<std::string> bodies = {inbound(1), inbound(2), inbound(3)};
    std::vector<DeliveryJob> jobs;
    for (const auto& b : bodies) jobs.push_back(job_for(b));
    auto outcomes = store_group(store, {&jobs[0], &jobs[1], &jobs[2]});
    REQUIRE(outcomes.size() == 3);
    CHECK(outcomes[0].stored);
    CHECK_FALSE(outcomes[1].stored);
    CHECK(outcomes[1].error.find("refused by the test") != std::string::npos);
    CHECK(outcomes[2].stored);
    CHECK(count("SELECT count(*) FROM whatsapp_messages") == 2);
    CHECK(count("SELECT count(*) FROM whatsapp_messages WHERE message_id = "
                "'wamid.WRITER0000000002'") == 0);
    // Its archived body and contact went with it.
    CHECK(count("SELECT count(*) FROM webhook_deliveries") == 2);
    CHECK(count("SELECT count(*) FROM contacts WHERE phone_number = '15550000002'") == 0);
    CHECK(count("SELECT count FROM unread_counts WHERE tenant_id = 'acme'") == 2);
    // The statistics are those of what was committed: each event id is in the table.
    for (std::size_t i : {std::size_t{0}, std::size_t{2}}) {
      CHECK(outcomes[i].stats.messages == 1);
      REQUIRE_FALSE(outcomes[i].stats.event_ids.empty());
      for (auto id : outcomes[i].stats.event_ids) {
        CHECK(count(fmt::format("SELECT count(*) FROM events WHERE id = {}", id).c_str()) == 1);
      }
    }
    CHECK(count("SELECT count(*) FROM events") ==
          static_cast<std::int64_t>(outcomes[0].stats.event_ids.size() +
                                    outcomes[2].stats.event_ids.size()));
  }
  SUBCASE("alone") {
    const std::string body = inbound(2); // the job refers to it
    auto job = job_for(body);
    auto outcomes = store_group(store, {&job});
    REQUIRE(outcomes.size() == 1);
    CHECK_FALSE(outcomes[0].stored);
    CHECK(outcomes[0].error.find("refused by the test") != std::string::npos);
    CHECK(count("SELECT count(*) FROM webhook_deliveries") == 0);
    CHECK(count("SELECT count(*) FROM events") == 0);
  }
}
