#include "support/support.hpp"
#include "wabactl/error.hpp"
#include "wabactl/events.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/store.hpp"
#include "wabactl/tenants.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <thread>

using namespace wabactl;
using namespace std::chrono_literals;

namespace {

struct HubFixture {
  testsupport::TempDir dir;
  std::filesystem::path db = dir / "events.db";
  Store writer{db};
  EventHub hub;

  explicit HubFixture(std::size_t queue_limit = 4096,
                      std::chrono::milliseconds poll_interval = std::chrono::milliseconds(20))
      : hub(EventHubOptions{db, poll_interval, queue_limit}) {
    add_tenant(writer, "acme", std::nullopt);
    add_tenant(writer, "globex", std::nullopt);
  }
  std::int64_t event(const std::string& tenant, std::int64_t unread) {
    // Writers append events inside their transaction; so does this one.
    std::int64_t id = 0;
    writer.transaction(
        [&] { id = append_event(writer, tenant, event_unread_changed, std::nullopt, unread); });
    return id;
  }
};

// Collects events until `count` arrived or five seconds passed.
std::vector<StreamEventPtr> collect(Subscription& sub, std::size_t count) {
  std::vector<StreamEventPtr> got;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (got.size() < count && std::chrono::steady_clock::now() < deadline) {
    for (auto& e : sub.wait(100ms)) got.push_back(e);
  }
  return got;
}

} // namespace

TEST_CASE("event hub: events written by another connection reach the tenant's subscribers") {
  HubFixture f;
  f.event("acme", 1); // before start: not live
  f.hub.start();
  std::atomic<int> notified{0};
  auto acme = f.hub.subscribe("acme", [&] { ++notified; });
  auto globex = f.hub.subscribe("globex");
  CHECK(f.hub.subscribers() == 2);
  std::int64_t a1 = f.event("acme", 2);
  std::int64_t g1 = f.event("globex", 7);
  std::int64_t a2 = f.event("acme", 3);
  auto got = collect(*acme, 2);
  REQUIRE(got.size() == 2);
  CHECK(got[0]->id == a1);
  CHECK(got[1]->id == a2);
  auto j = nlohmann::json::parse(got[1]->json);
  CHECK(j["unread"] == 3);
  CHECK(j["tenant_id"] == "acme");
  // The callback runs right after the events are queued, so it may trail the reader a little.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (notified.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  CHECK(notified.load() >= 1);
  auto other = collect(*globex, 1);
  REQUIRE(other.size() == 1);
  CHECK(other[0]->id == g1);
  CHECK(globex->wait(50ms).empty());
  f.hub.unsubscribe(acme);
  CHECK(f.hub.subscribers() == 1);
}

TEST_CASE("event hub: replay reads a tenant's events after an id, oldest first") {
  HubFixture f;
  std::int64_t a1 = f.event("acme", 1);
  f.event("globex", 1);
  std::int64_t a2 = f.event("acme", 2);
  std::int64_t a3 = f.event("acme", 3);
  auto all = read_events(f.writer, "acme", 0, 100);
  REQUIRE(all.size() == 3);
  CHECK(all[0]->id == a1);
  auto later = read_events(f.writer, "acme", a1, 1);
  REQUIRE(later.size() == 1);
  CHECK(later[0]->id == a2);
  CHECK(read_events(f.writer, "acme", a3, 100).empty());
  CHECK(read_events(f.writer, "nobody", 0, 100).empty());
}

TEST_CASE("event hub: a subscriber that falls behind is dropped, others keep receiving") {
  HubFixture f(5);
  f.hub.start();
  auto slow = f.hub.subscribe("acme");
  auto fast = f.hub.subscribe("acme");
  std::vector<StreamEventPtr> fast_got;
  for (int i = 0; i < 12; ++i) {
    f.event("acme", i);
    f.hub.wake();
    auto got = collect(*fast, 1);
    fast_got.insert(fast_got.end(), got.begin(), got.end());
  }
  CHECK(fast_got.size() == 12);
  CHECK_FALSE(fast->dropped());
  CHECK(slow->dropped());
  CHECK(slow->take().empty());
  CHECK(f.hub.subscribers() == 1);
}

TEST_CASE("event hub: without subscribers a wake costs no poll, the interval moves the cursor") {
  HubFixture f(4096, 2s);
  f.hub.start();
  auto start = f.hub.cursor();
  std::int64_t a1 = f.event("acme", 1);
  f.hub.wake();
  std::this_thread::sleep_for(100ms);
  CHECK(f.hub.cursor() == start); // the wake found nobody to poll for

  // A subscriber that joins before the interval's poll also gets the event from before it
  // (streams skip ids at or below their own cursor); a wake now polls at once.
  auto sub = f.hub.subscribe("acme");
  std::int64_t a2 = f.event("acme", 2);
  f.hub.wake();
  auto got = collect(*sub, 2);
  REQUIRE(got.size() == 2);
  CHECK(got[0]->id == a1);
  CHECK(got[1]->id == a2);
  CHECK(f.hub.cursor() == a2);

  // Once it leaves, the cursor follows the table at the interval's poll again.
  f.hub.unsubscribe(sub);
  std::int64_t a3 = f.event("acme", 3);
  f.hub.wake();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (f.hub.cursor() != a3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  CHECK(f.hub.cursor() == a3);
}

TEST_CASE("event hub: stopping drops every subscriber and later subscriptions") {
  HubFixture f;
  f.hub.start();
  auto sub = f.hub.subscribe("acme");
  f.hub.stop();
  CHECK(sub->dropped());
  CHECK(f.hub.subscribe("acme")->dropped());
  f.hub.stop();
}

TEST_CASE("Last-Event-ID: absent or empty starts now, digits resume, the header wins") {
  using std::nullopt;
  CHECK(parse_last_event_id(nullopt, nullopt) == nullopt);
  CHECK(parse_last_event_id(std::string(), nullopt) == nullopt);
  CHECK(parse_last_event_id(nullopt, std::string("  ")) == nullopt);
  CHECK(parse_last_event_id(std::string("42"), nullopt) == 42);
  CHECK(parse_last_event_id(nullopt, std::string(" 42 ")) == 42);
  CHECK(parse_last_event_id(nullopt, std::string("0")) == 0);
  CHECK(parse_last_event_id(nullopt, std::string("9223372036854775807")) ==
        std::int64_t{9223372036854775807});
  CHECK(parse_last_event_id(std::string("5"), std::string("abc")) == 5);
  // A header that is there but empty is the client's word: the query is not looked at.
  CHECK(parse_last_event_id(std::string(""), std::string("7")) == nullopt);
}

TEST_CASE("Last-Event-ID: anything but an event id is a usage error with one message") {
  for (const char* bad : {"abc", "-1", "+1", "1.5", "12abc", "0x10", "1 2", "9223372036854775808",
                          "99999999999999999999999"}) {
    CAPTURE(bad);
    for (bool header : {true, false}) {
      std::optional<std::string> v = std::string(bad);
      try {
        parse_last_event_id(header ? v : std::nullopt, header ? std::nullopt : v);
        FAIL("accepted");
      } catch (const Error& e) {
        CHECK(e.code() == Exit::usage);
        CHECK(std::string(e.what()) == "Last-Event-ID must be an event id (a number)");
      }
    }
  }
}

TEST_CASE("event follower: replay then live, an event committed in between arrives once") {
  // A long interval: the hub polls only when woken, so what it queued is known.
  HubFixture f(4096, 2s);
  f.hub.start();
  auto dispatched = [&](std::int64_t id) {
    f.hub.wake();
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (f.hub.cursor() < id && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    REQUIRE(f.hub.cursor() >= id);
  };
  std::int64_t cursor = last_event_id(f.writer); // the stream's start, read before subscribing
  std::int64_t a1 = f.event("acme", 1);          // between reading it and subscribing
  f.event("globex", 1);
  auto sub = f.hub.subscribe("acme");
  std::int64_t a2 = f.event("acme", 2); // subscribed: both in the table and queued
  dispatched(a2);

  EventFollower follow("acme", cursor, sub);
  std::vector<std::int64_t> got;
  auto pull = [&] {
    auto events = follow.next(f.writer, 1);
    for (const auto& e : events) {
      CHECK(e->tenant_id == "acme");
      got.push_back(e->id);
    }
    return events.size();
  };
  CHECK(pull() == 1);
  CHECK(follow.replaying());
  std::int64_t a3 = f.event("acme", 3); // committed during the replay
  dispatched(a3);
  CHECK(pull() == 1);
  CHECK(pull() == 1);
  CHECK(follow.replaying());
  // The replay's empty page hands over to the queue, whose events were all replayed.
  CHECK(pull() == 0);
  CHECK_FALSE(follow.replaying());
  std::int64_t a4 = f.event("acme", 4);
  dispatched(a4);
  CHECK(pull() == 1);
  CHECK(pull() == 0);
  CHECK(got == std::vector<std::int64_t>{a1, a2, a3, a4});
  CHECK(follow.cursor() == a4);
  CHECK_FALSE(follow.dropped());
}

TEST_CASE("event follower: a dropped subscription ends the stream once the replay is done") {
  HubFixture f(2);
  f.hub.start();
  auto sub = f.hub.subscribe("acme");
  EventFollower follow("acme", last_event_id(f.writer), sub);
  std::int64_t last = 0;
  for (int i = 0; i < 5; ++i) last = f.event("acme", i);
  f.hub.wake();
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!sub->dropped() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  REQUIRE(sub->dropped());
  // The table still has every event: the replay delivers them before the stream ends.
  CHECK_FALSE(follow.dropped());
  auto events = follow.next(f.writer, 256);
  REQUIRE(events.size() == 5);
  CHECK(events.back()->id == last);
  CHECK_FALSE(follow.replaying());
  CHECK(follow.dropped());
}

TEST_CASE("event follower: without a subscription every pull reads the table") {
  HubFixture f;
  std::int64_t a1 = f.event("acme", 1);
  EventFollower table("acme", 0);
  auto first = table.next(f.writer, 10);
  REQUIRE(first.size() == 1);
  CHECK(first[0]->id == a1);
  CHECK(table.next(f.writer, 10).empty());
  CHECK(table.replaying());
  f.event("globex", 1);
  std::int64_t a2 = f.event("acme", 2);
  auto second = table.next(f.writer, 10);
  REQUIRE(second.size() == 1);
  CHECK(second[0]->id == a2);
  CHECK_FALSE(table.dropped());
}
