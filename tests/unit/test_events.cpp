#include "support/support.hpp"
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
