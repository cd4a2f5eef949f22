// Forwarding hooks (CONTRACT.md §13) below the daemon: the signature, URL and address
// rules, event types, the hook rows with their sealed secrets, and the delivery queue's
// order, retries, giving up and disabling.
#include "support/temp_store.hpp"
#include "wabactl/configs.hpp"
#include "wabactl/error.hpp"
#include "wabactl/hook_queue.hpp"
#include "wabactl/hooks.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/secrets.hpp"
#include "wabactl/util.hpp"

#include <doctest/doctest.h>

#include <array>
#include <chrono>

using namespace wabactl;
using testsupport::TempStore;

namespace {

MasterKey key_of(unsigned char fill) {
  std::array<unsigned char, MasterKey::size> bytes{};
  bytes.fill(fill);
  return MasterKey(bytes.data(), "test key");
}

// An event of `tenant` about a message to or from `phone`.
std::int64_t message_event(Store& store, const std::string& tenant, const std::string& phone,
                           const char* type = event_message_received) {
  std::int64_t id = 0;
  store.transaction([&] {
    Message m;
    m.tenant_id = tenant;
    m.phone_number = phone;
    m.direction = "incoming";
    m.status = "received";
    m.type = "text";
    m.text = "hi";
    m.timestamp = "2026-12-01T10:00:00Z";
    id = append_event(store, tenant, type, m, std::nullopt);
  });
  return id;
}

ForwardingHook forwarding(Store& store, const std::string& id) {
  for (auto& f : forwarding_hooks(store)) {
    if (f.hook.id == id) return f;
  }
  FAIL("hook ", id, " is not active");
  return {};
}

std::size_t expand(Store& store, ForwardingHook& f, std::int64_t now) {
  std::size_t n = 0;
  store.transaction([&] { n = expand_hook(store, f, 1000, now); });
  return n;
}

AttemptResult result_of(const DueDelivery& d, bool ok, std::int64_t at) {
  AttemptResult r;
  r.hook_id = d.hook_id;
  r.event_id = d.event_id;
  r.lane = d.lane;
  r.attempts = d.attempts;
  r.acknowledged = ok;
  r.status = ok ? 200 : 500;
  if (!ok) r.error = "HTTP 500";
  r.attempted_ms = at;
  return r;
}

std::vector<std::int64_t> ids_of(const std::vector<DueDelivery>& due) {
  std::vector<std::int64_t> out;
  for (const auto& d : due) out.push_back(d.event_id);
  return out;
}

} // namespace

TEST_CASE("hook signatures follow Standard Webhooks: the specification's own example") {
  // From the Standard Webhooks specification's test vectors.
  CHECK(standard_webhook_signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
            R"({"test": 2432232314})") == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  // Any change of id, time or body changes it.
  const std::string base =
      standard_webhook_signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "1", 1614265330, "{}");
  CHECK(standard_webhook_signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "2", 1614265330,
                                   "{}") != base);
  CHECK(standard_webhook_signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "1", 1614265331,
                                   "{}") != base);
  CHECK(standard_webhook_signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "1", 1614265330,
                                   "{ }") != base);
  CHECK_THROWS_AS(standard_webhook_signature("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "1", 1, "{}"),
                  Error);
  CHECK_THROWS_AS(standard_webhook_signature("whsec_!!!", "1", 1, "{}"), Error);
}

TEST_CASE("hook URLs: http or https with a host, nothing hidden in them") {
  auto u = parse_hook_url("https://App.Example.com/whatsapp/events?src=wabactl");
  CHECK(u.scheme == "https");
  CHECK(u.host == "app.example.com");
  CHECK(u.port == 443);
  CHECK(parse_hook_url("http://example.com:8080").port == 8080);
  CHECK(parse_hook_url("http://[2001:db8::1]:9000/x").host == "2001:db8::1");
  CHECK(parse_hook_url("http://[2001:db8::1]/x").port == 80);

  for (const std::string bad :
       {"", "example.com/x", "ftp://example.com/", "file:///etc/passwd", "javascript:alert(1)",
        "https://user:pw@example.com/", "https://token@example.com/", "https:///path",
        "https://example.com:0/", "https://example.com:65536/", "https://example.com:80x/",
        "https://example.com:/", "https://exa mple.com/", "https://example.com/#frag",
        "https://ex\xc3\xa4mple.com/", "https://[::1/", "https://[zz::1]/",
        "https://example.com\r\nX-Injected: 1/", "https://exa%6dple.com/"}) {
    CAPTURE(bad);
    try {
      parse_hook_url(bad);
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == Exit::usage);
      CHECK(std::string(e.what()).find("invalid hook URL") != std::string::npos);
    }
  }
  CHECK_THROWS_AS(parse_hook_url("https://example.com/" + std::string(3000, 'a')), Error);
}

TEST_CASE("addresses a hook may not reach, named by why") {
  struct Case {
    const char* address;
    const char* reason; // nullptr: public
  };
  const Case cases[] = {
      {"127.0.0.1", "loopback"},
      {"127.255.0.9", "loopback"},
      {"::1", "loopback"},
      {"0.0.0.0", "unspecified"},
      {"::", "unspecified"},
      {"10.1.2.3", "private (RFC 1918)"},
      {"172.16.0.1", "private (RFC 1918)"},
      {"172.31.255.255", "private (RFC 1918)"},
      {"192.168.1.1", "private (RFC 1918)"},
      {"169.254.169.254", "cloud metadata"},
      {"fd00:ec2::254", "cloud metadata"},
      {"169.254.1.1", "link-local"},
      {"fe80::1", "link-local"},
      {"fc00::1", "unique local (RFC 4193)"},
      {"fd12:3456::1", "unique local (RFC 4193)"},
      {"100.64.0.1", "CGNAT (RFC 6598)"},
      {"100.127.255.254", "CGNAT (RFC 6598)"},
      {"100.100.100.200", "CGNAT (RFC 6598)"},
      {"::ffff:127.0.0.1", "loopback"},
      {"::ffff:10.0.0.1", "private (RFC 1918)"},
      {"64:ff9b::a9fe:a9fe", "cloud metadata"},
      {"224.0.0.1", "multicast"},
      {"ff02::1", "multicast"},
      {"240.0.0.1", "reserved"},
      {"255.255.255.255", "reserved"},
      {"8.8.8.8", nullptr},
      {"172.32.0.1", nullptr},
      {"100.128.0.1", nullptr},
      {"192.169.0.1", nullptr},
      {"2001:4860:4860::8888", nullptr},
      {"::ffff:8.8.8.8", nullptr},
  };
  for (const auto& c : cases) {
    CAPTURE(c.address);
    auto why = private_address_reason(c.address);
    if (c.reason == nullptr) {
      CHECK_FALSE(why);
    } else {
      REQUIRE(why);
      CHECK(*why == c.reason);
    }
  }
}

TEST_CASE("hook add refuses private receivers unless allowed") {
  for (const std::string url :
       {"http://127.0.0.1:9000/in", "http://localhost/in", "http://api.localhost/in",
        "http://[::1]/in", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.8/",
        "http://[::ffff:192.168.0.1]/"}) {
    CAPTURE(url);
    try {
      check_hook_url(url, false);
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == Exit::usage);
      CHECK(std::string(e.what()).find("address") != std::string::npos);
      CHECK(e.hint().find("--allow-private") != std::string::npos);
    }
    CHECK_NOTHROW(check_hook_url(url, true));
  }
  CHECK_NOTHROW(check_hook_url("https://93.184.215.14/in", false));
}

TEST_CASE("hook event types: checked, deduplicated, in a fixed order") {
  auto defaults = default_hook_events();
  CHECK(std::find(defaults.begin(), defaults.end(), "unread.changed") == defaults.end());
  CHECK(std::find(defaults.begin(), defaults.end(), "message.received") != defaults.end());
  CHECK(defaults.size() + 1 == hook_event_types().size());
  CHECK(parse_hook_events({"message.status, message.received", "message.status"}) ==
        std::vector<std::string>{"message.received", "message.status"});
  CHECK_THROWS_AS(parse_hook_events({"message.received,message.deleted"}), Error);
  CHECK_THROWS_AS(parse_hook_events({"hook.test"}), Error);
  CHECK_THROWS_AS(parse_hook_events({" , "}), Error);
  CHECK_THROWS_AS(parse_hook_events({}), Error);
}

TEST_CASE("retry delays double from 1 s to 1 h, jittered") {
  using std::chrono::milliseconds;
  for (int i = 0; i < 50; ++i) {
    auto first = hook_retry_delay(1);
    CHECK(first >= milliseconds(500));
    CHECK(first <= milliseconds(1000));
    auto fifth = hook_retry_delay(5);
    CHECK(fifth >= milliseconds(8000));
    CHECK(fifth <= milliseconds(16000));
    auto late = hook_retry_delay(40);
    CHECK(late >= milliseconds(1800 * 1000));
    CHECK(late <= milliseconds(3600 * 1000));
  }
}

TEST_CASE("hooks are a tenant's own, with a secret sealed and shown once") {
  TempStore store({"acme", "globex"});
  MasterKey key = key_of(7);
  auto added = add_hook(store, key, "acme", "https://a.example/in", default_hook_events(), false);
  CHECK(added.hook.id.starts_with("hk_"));
  CHECK(added.hook.id.size() == 15);
  CHECK(added.secret.starts_with("whsec_"));
  CHECK(added.secret.size() == 6 + 44);
  CHECK(hook_secret(store, key, added.hook) == added.secret);

  // Not in the database file in plaintext.
  auto raw = testsupport::raw_db(store);
  SQLite::Statement q(raw, "SELECT secret FROM hooks");
  REQUIRE(q.executeStep());
  std::string sealed(static_cast<const char*>(q.getColumn(0).getBlob()),
                     static_cast<std::size_t>(q.getColumn(0).getBytes()));
  CHECK(sealed.find(added.secret.substr(6, 20)) == std::string::npos);

  auto json = to_json(added.hook);
  CHECK(json["state"] == "active");
  CHECK(json["allow_private"] == false);
  CHECK_FALSE(json.contains("secret"));

  CHECK(list_hooks(store, "acme").size() == 1);
  CHECK(list_hooks(store, "globex").empty());
  CHECK_FALSE(find_hook(store, "globex", added.hook.id));
  CHECK_FALSE(remove_hook(store, "globex", added.hook.id));
  CHECK(find_hook(store, "acme", added.hook.id));

  // A rotation re-seals it: the old key no longer opens it, the new one does.
  MasterKey next = key_of(9);
  write_key_check(store, key);
  rotate_master_key(store, key, next);
  CHECK(hook_secret(store, next, added.hook) == added.secret);
  CHECK_THROWS_AS(hook_secret(store, key, added.hook), Error);

  for (std::size_t i = 1; i < max_hooks_per_tenant; ++i) {
    add_hook(store, next, "acme", "https://a.example/" + std::to_string(i), {"message.sent"},
             false);
  }
  try {
    add_hook(store, next, "acme", "https://a.example/last", {"message.sent"}, false);
    FAIL("a 21st hook was added");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::exists);
  }
  CHECK(remove_hook(store, "acme", added.hook.id));
  CHECK_FALSE(find_hook(store, "acme", added.hook.id));
}

TEST_CASE("a hook forwards what happens after it was added, in order within a conversation") {
  TempStore store({"acme", "globex"});
  MasterKey key = key_of(3);
  message_event(store, "acme", "15550001"); // before the hook: not forwarded
  auto h = add_hook(store, key, "acme", "https://a.example/in", default_hook_events(), false);
  auto f = forwarding(store, h.hook.id);

  std::int64_t a1 = message_event(store, "acme", "15550001");
  std::int64_t b1 = message_event(store, "acme", "15550002");
  std::int64_t a2 = message_event(store, "acme", "15550001", event_message_status);
  message_event(store, "acme", "15550001", event_unread_changed); // not taken by default
  message_event(store, "globex", "15550001");                     // another tenant's
  std::int64_t a3 = message_event(store, "acme", "15550001");
  store.transaction([&] { append_hook_test_event(store, h.hook); }); // never forwarded

  const std::int64_t t0 = 1'800'000'000'000;
  CHECK(expand(store, f, t0) == 6); // acme's six, the unread and test events among them
  CHECK(expand(store, f, t0) == 0); // the cursor moved past them

  // One due per conversation: a1 and b1; a2 and a3 wait behind a1.
  auto due = due_deliveries(store, h.hook.id, t0, 10);
  CHECK(ids_of(due) == std::vector<std::int64_t>{a1, b1});
  CHECK(due[0].lane == "p:15550001");
  CHECK(nlohmann::json::parse(event_json(store, a1).value())["id"] == a1);

  // a1 fails: it is retried later and a2 still waits; b1 is acknowledged.
  auto rec =
      record_attempts(store, {result_of(due[0], false, t0), result_of(due[1], true, t0)}, t0);
  CHECK(rec.acknowledged == 1);
  CHECK(rec.retried == 1);
  CHECK(due_deliveries(store, h.hook.id, t0, 10).empty());
  auto later = due_deliveries(store, h.hook.id, t0 + 1000, 10);
  CHECK(ids_of(later) == std::vector<std::int64_t>{a1});
  CHECK(later[0].attempts == 1);

  // a1 acknowledged now: a2 is next, then a3.
  record_attempts(store, {result_of(later[0], true, t0 + 1000)}, t0 + 1000);
  auto next = due_deliveries(store, h.hook.id, t0 + 1000, 10);
  CHECK(ids_of(next) == std::vector<std::int64_t>{a2});
  record_attempts(store, {result_of(next[0], true, t0 + 1000)}, t0 + 1000);
  CHECK(ids_of(due_deliveries(store, h.hook.id, t0 + 1000, 10)) == std::vector<std::int64_t>{a3});

  auto listed = list_hook_deliveries(store, h.hook, false, 10);
  REQUIRE(listed.size() == 4);
  CHECK(listed.front().event_id == a3); // newest first
  auto first = listed.back();
  CHECK(first.event_id == a1);
  CHECK(first.state == DeliveryState::acknowledged);
  CHECK(first.attempts == 2);
  CHECK(first.last_status == 200);
  CHECK_FALSE(first.next_attempt_at);
  CHECK(list_hook_deliveries(store, h.hook, true, 10).empty());

  auto backlog = hook_backlogs(store);
  REQUIRE(backlog.size() == 1);
  CHECK(backlog[0].pending == 1); // a3
}

TEST_CASE("a delivery failing for 72 hours is given up, and a hook failing as long is disabled") {
  TempStore store({"acme"});
  MasterKey key = key_of(4);
  auto h = add_hook(store, key, "acme", "https://a.example/in", {"message.received"}, false);
  auto f = forwarding(store, h.hook.id);
  std::int64_t e1 = message_event(store, "acme", "15550001");
  std::int64_t e2 = message_event(store, "acme", "15550001");
  const std::int64_t t0 = 1'800'000'000'000;
  expand(store, f, t0);

  auto due = due_deliveries(store, h.hook.id, t0, 10);
  REQUIRE(ids_of(due) == std::vector<std::int64_t>{e1});
  record_attempts(store, {result_of(due[0], false, t0)}, t0);

  // 71 h on: still retried.
  const std::int64_t hour = 3600 * 1000;
  auto again = due_deliveries(store, h.hook.id, t0 + 71 * hour, 10);
  REQUIRE(again.size() == 1);
  auto rec = record_attempts(store, {result_of(again[0], false, t0 + 71 * hour)}, t0 + 71 * hour);
  CHECK(rec.retried == 1);
  CHECK(rec.disabled.empty());

  // 72 h after its first attempt: failed; the next of its lane is due; the hook, which has
  // had nothing acknowledged since, is disabled with an event.
  const std::int64_t end = t0 + 72 * hour;
  again = due_deliveries(store, h.hook.id, end, 10);
  REQUIRE(again.size() == 1);
  rec = record_attempts(store, {result_of(again[0], false, end)}, end);
  CHECK(rec.failed == 1);
  REQUIRE(rec.disabled == std::vector<std::string>{h.hook.id});
  CHECK(find_hook(store, "acme", h.hook.id)->state == HookState::disabled);
  CHECK(forwarding_hooks(store).empty());
  auto events = testsupport::events_after(store, "acme", e2, 10);
  REQUIRE(events.size() == 1);
  CHECK(events[0].type == "hook.disabled");
  CHECK(events[0].data["hook"]["id"] == h.hook.id);
  CHECK(events[0].data["hook"]["state"] == "disabled");
  CHECK(list_hook_deliveries(store, h.hook, true, 10).size() == 1);
  CHECK(ids_of(due_deliveries(store, h.hook.id, end, 10)) == std::vector<std::int64_t>{e2});

  // A successful test enables it again; what waited is due at once.
  enable_hook(store, h.hook);
  CHECK(find_hook(store, "acme", h.hook.id)->state == HookState::active);
  CHECK(forwarding_hooks(store).size() == 1);
  CHECK(due_deliveries(store, h.hook.id, now_ms(), 10).size() == 1);
}

TEST_CASE("one acknowledged delivery keeps a hook with a poisoned conversation active") {
  TempStore store({"acme"});
  MasterKey key = key_of(5);
  auto h = add_hook(store, key, "acme", "https://a.example/in", {"message.received"}, false);
  auto f = forwarding(store, h.hook.id);
  message_event(store, "acme", "15550001");
  message_event(store, "acme", "15550002");
  const std::int64_t t0 = 1'800'000'000'000;
  const std::int64_t hour = 3600 * 1000;
  expand(store, f, t0);
  auto due = due_deliveries(store, h.hook.id, t0, 10);
  REQUIRE(due.size() == 2);
  record_attempts(store, {result_of(due[0], false, t0)}, t0);
  record_attempts(store, {result_of(due[1], true, t0 + 70 * hour)}, t0 + 70 * hour);
  auto last = due_deliveries(store, h.hook.id, t0 + 73 * hour, 10);
  REQUIRE(last.size() == 1);
  auto rec = record_attempts(store, {result_of(last[0], false, t0 + 73 * hour)}, t0 + 73 * hour);
  CHECK(rec.failed == 1);
  CHECK(rec.disabled.empty());
  CHECK(find_hook(store, "acme", h.hook.id)->state == HookState::active);
}

TEST_CASE("finished deliveries are pruned after a week, pending ones never") {
  TempStore store({"acme"});
  MasterKey key = key_of(6);
  auto h = add_hook(store, key, "acme", "https://a.example/in", {"message.received"}, false);
  auto f = forwarding(store, h.hook.id);
  message_event(store, "acme", "15550001");
  message_event(store, "acme", "15550002");
  const std::int64_t t0 = 1'800'000'000'000;
  expand(store, f, t0);
  auto due = due_deliveries(store, h.hook.id, t0, 10);
  record_attempts(store, {result_of(due[0], true, t0)}, t0);
  const std::int64_t week = 7 * 24 * 3600 * 1000LL;
  CHECK(prune_hook_deliveries(store, t0 + week - 1000, 100) == 0);
  CHECK(prune_hook_deliveries(store, t0 + week + 1000, 100) == 1);
  CHECK(list_hook_deliveries(store, h.hook, false, 10).size() == 1);
}

TEST_CASE("removing a hook removes its deliveries, and results for them are ignored") {
  TempStore store({"acme"});
  MasterKey key = key_of(8);
  auto h = add_hook(store, key, "acme", "https://a.example/in", {"message.received"}, false);
  auto f = forwarding(store, h.hook.id);
  message_event(store, "acme", "15550001");
  const std::int64_t t0 = 1'800'000'000'000;
  expand(store, f, t0);
  auto due = due_deliveries(store, h.hook.id, t0, 10);
  REQUIRE(due.size() == 1);
  CHECK(remove_hook(store, "acme", h.hook.id));
  auto rec = record_attempts(store, {result_of(due[0], true, t0)}, t0);
  CHECK(rec.acknowledged == 0);
  CHECK(testsupport::query_int(store, "SELECT count(*) FROM hook_deliveries") == 0);
}

TEST_CASE("the lane of an event is its conversation") {
  CHECK(hook_lane(R"({"message":{"phone_number":"15551234567"}})") == "p:15551234567");
  CHECK(hook_lane(R"({"contact":{"id":"4","phone_number":"15551234567"},"message":null})") ==
        "p:15551234567");
  CHECK(hook_lane(R"({"contact":{"id":"4","phone_number":null},"message":null})") == "c:4");
  CHECK(hook_lane(R"({"message":null,"template":{"name":"x"}})").empty());
  CHECK(hook_lane("not json").empty());
}
