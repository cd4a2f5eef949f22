// Retries by Meta error class, the outbox states, idempotency (also across racing
// processes) and the rate limits, against a FakeGraph with a fake clock.
#include "support/temp_store.hpp"
#include "unit/test_send_support.hpp"

#include "wabactl/claimant.hpp"
#include "wabactl/configs.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/util.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <csignal>
#include <fmt/format.h>
#include <fstream>
#include <thread>
#include <unistd.h>

using nlohmann::json;
using sendtest::Fixture;
using sendtest::text_to;
using testsupport::Recorded;
using testsupport::Reply;
using namespace wabactl;
using namespace std::chrono_literals;

namespace {

// Answers every /messages POST with `reply` (after `ok_after` failures, success).
void fail_messages(Fixture& f, Reply reply, int ok_after = -1) {
  auto n = std::make_shared<std::atomic<int>>(0);
  f.graph.set_handler([reply, ok_after, n](const Recorded& r) -> std::optional<Reply> {
    if (r.path.find("/messages") == std::string::npos) return std::nullopt;
    if (ok_after >= 0 && n->fetch_add(1) >= ok_after) return std::nullopt;
    return reply;
  });
}

Reply meta_error(int code, int http = 400, const std::string& details = "details here") {
  return Reply{http, testsupport::FakeGraph::error_body(code, "Meta says no", 0, details)};
}

std::string column(const Store& store, std::int64_t id, const char* name) {
  auto db = testsupport::raw_db(store);
  SQLite::Statement q(db, std::string("SELECT coalesce(") + name +
                              ", '') FROM whatsapp_messages WHERE id = ?");
  q.bind(1, id);
  REQUIRE(q.executeStep());
  return q.getColumn(0).getString();
}

SendRequest keyed(const std::string& key, const std::string& text = "invoice INV-1") {
  auto r = text_to("+15551234567", text);
  r.idempotency_key = key;
  return r;
}

} // namespace

TEST_CASE("send: 429/130429 with Retry-After, then success, honours Retry-After") {
  Fixture f;
  fail_messages(f,
                Reply{429,
                      testsupport::FakeGraph::error_body(130429, "Rate limit hit"),
                      {{"Retry-After", "7"}}},
                1);
  auto o = f.send(text_to("+15551234567", "x"));
  CHECK(o.exit == Exit::ok);
  CHECK(f.graph.count("POST", "/messages") == 2);
  auto sleeps = f.clock.sleeps();
  REQUIRE(sleeps.size() == 1);
  CHECK(sleeps[0] >= 7s);
}

TEST_CASE("send: 5xx forever ends in exit 75 after bounded, jittered, growing backoff") {
  Fixture f;
  fail_messages(f, Reply{503, "Service Unavailable"});
  auto p = Fixture::policy();
  auto o = f.send(text_to("+15551234567", "x"), p);
  CHECK(o.exit == Exit::tempfail);
  CHECK(f.graph.count("POST", "/messages") == static_cast<std::size_t>(p.max_attempts));
  auto sleeps = f.clock.sleeps();
  REQUIRE(sleeps.size() == static_cast<std::size_t>(p.max_attempts - 1));
  for (std::size_t i = 0; i < sleeps.size(); ++i) {
    auto step = std::chrono::milliseconds(p.backoff_base.count() << i);
    CHECK(sleeps[i] <= step);
    CHECK(sleeps[i] >= step / 2);
  }
  REQUIRE(o.message);
  CHECK(o.message->status == "failed");
  CHECK(column(f.store, o.message->id, "send_state") == "retryable");
  CHECK(o.error.find("HTTP 503") != std::string::npos);
}

TEST_CASE("send: 131056 (pair rate) backs off 1, 4, 16, 64 s") {
  Fixture f;
  fail_messages(f, meta_error(131056));
  auto o = f.send(text_to("+15551234567", "x"));
  CHECK(o.exit == Exit::tempfail);
  CHECK(f.graph.count("POST", "/messages") == 5);
  CHECK(f.clock.sleeps() == std::vector<std::chrono::nanoseconds>{1s, 4s, 16s, 64s});
  CHECK(o.error.find("131056") != std::string::npos);
  CHECK(o.hint.find(advice_for(131056)) != std::string::npos);
}

TEST_CASE("send: 190 exits 4, flags the config for re-authentication, stores the error") {
  Fixture f;
  fail_messages(f, Reply{401, testsupport::FakeGraph::error_body(
                                  190, "Error validating access token: Session has expired", 463)});
  auto o = f.send(text_to("+15551234567", "x"));
  CHECK(o.exit == Exit::credentials);
  CHECK(f.graph.count("POST", "/messages") == 1);
  CHECK(find_config(f.store, "acme")->needs_reauth);
  REQUIRE(o.message->error);
  CHECK(o.message->error->code == 190);
  CHECK(o.error.find("190") != std::string::npos);
  CHECK(o.hint == advice_for(190));
  // A later successful send clears the flag.
  f.graph.set_handler(nullptr);
  Sender s(f.shared, f.target(), Fixture::policy(), f.clock);
  CHECK(s.send(prepare_send(text_to("+15551234567", "y"))).exit == Exit::ok);
  CHECK_FALSE(find_config(f.store, "acme")->needs_reauth);
}

TEST_CASE("send: every Meta error class maps to its retries and exit code") {
  struct Case {
    int code;
    int http;
    Exit exit;
    std::size_t requests;
  } cases[] = {
      {100, 400, Exit::rejected, 1},    {131008, 400, Exit::rejected, 1},
      {131009, 400, Exit::rejected, 1}, {131026, 400, Exit::rejected, 1},
      {131047, 400, Exit::rejected, 1}, {131048, 400, Exit::rejected, 1},
      {131050, 400, Exit::rejected, 1}, {131051, 400, Exit::rejected, 1},
      {131052, 400, Exit::rejected, 1}, {132000, 400, Exit::rejected, 1},
      {132016, 400, Exit::rejected, 1}, {368, 400, Exit::rejected, 1},
      {131031, 400, Exit::rejected, 1}, {1, 500, Exit::tempfail, 5},
      {2, 503, Exit::tempfail, 5},      {4, 400, Exit::tempfail, 5},
      {17, 400, Exit::tempfail, 5},     {80007, 400, Exit::tempfail, 5},
      {130429, 429, Exit::tempfail, 5}, {131000, 500, Exit::tempfail, 5},
      {131016, 503, Exit::tempfail, 5}, {131049, 400, Exit::tempfail, 1},
      {190, 401, Exit::credentials, 1}, {0, 400, Exit::credentials, 1},
      {10, 403, Exit::credentials, 1},  {200, 403, Exit::credentials, 1},
      {299, 403, Exit::credentials, 1},
  };
  for (const auto& c : cases) {
    CAPTURE(c.code);
    Fixture f;
    fail_messages(f, meta_error(c.code, c.http, "the details"));
    auto o = f.send(text_to("+15551234567", "x"));
    CHECK(o.exit == c.exit);
    CHECK(f.graph.count("POST", "/messages") == c.requests);
    REQUIRE(o.message);
    REQUIRE(o.message->error);
    CHECK(o.message->error->code == c.code);
    CHECK(o.message->error->details == "the details");
    CHECK(column(f.store, o.message->id, "fbtrace_id") == "AbCdEfGhIjK");
    CHECK(o.error.find(std::to_string(c.code)) != std::string::npos);
    std::string advice = advice_for(c.code);
    if (!advice.empty()) CHECK(o.hint.find(advice) != std::string::npos);
    CHECK(column(f.store, o.message->id, "send_state") ==
          (c.exit == Exit::rejected ? "failed" : "retryable"));
  }
}

TEST_CASE("send: is_transient makes an otherwise permanent code retry") {
  Fixture f;
  json body = json::parse(testsupport::FakeGraph::error_body(100, "try later"));
  body["error"]["is_transient"] = true;
  fail_messages(f, Reply{400, body.dump()}, 2);
  CHECK(f.send(text_to("+15551234567", "x")).exit == Exit::ok);
  CHECK(f.graph.count("POST", "/messages") == 3);
}

TEST_CASE("send: an unreachable Graph API is retried, then exit 75, nothing left") {
  Fixture f;
  auto t = f.target();
  t.graph.base_url = "http://127.0.0.1:9";
  Sender s(f.shared, t, Fixture::policy(), f.clock);
  auto o = s.send(prepare_send(text_to("+15551234567", "x")));
  CHECK(o.exit == Exit::tempfail);
  CHECK(f.clock.sleeps().size() == 4);
  CHECK(o.message->status == "failed");
  CHECK(column(f.store, o.message->id, "send_state") == "retryable");
  CHECK(column(f.store, o.message->id, "error_title").rfind("network error", 0) == 0);
}

TEST_CASE("send: a timeout after the request left is 'unknown', never re-sent") {
  Fixture f;
  fail_messages(f, Reply{200, R"({"messages":[{"id":"wamid.LATE"}]})", {}, 1500});
  auto p = Fixture::policy();
  p.timeouts.total = 300ms;
  auto r = keyed("invoice-7");
  auto o = f.send(r, p);
  CHECK(o.exit == Exit::tempfail);
  CHECK(f.graph.count("POST", "/messages") == 1);
  CHECK(o.message->status == "queued");
  CHECK(column(f.store, o.message->id, "send_state") == "unknown");
  CHECK(o.error.find("unknown") != std::string::npos);
  // Running it again with the same key sends nothing and still says unknown.
  auto again = f.send(r, p);
  CHECK(again.exit == Exit::tempfail);
  CHECK(again.duplicate);
  CHECK(again.message->id == o.message->id);
  std::this_thread::sleep_for(1500ms);
  CHECK(f.graph.count("POST", "/messages") == 1);
}

TEST_CASE("send: a 200 without a message id is an unknown outcome") {
  Fixture f;
  fail_messages(f, Reply{200, R"({"messaging_product":"whatsapp"})"});
  auto o = f.send(text_to("+15551234567", "x"));
  CHECK(o.exit == Exit::tempfail);
  CHECK(column(f.store, o.message->id, "send_state") == "unknown");
  CHECK(f.graph.count("POST", "/messages") == 1);
}

TEST_CASE("send: an accepted send that cannot be recorded is 'unknown', never left pending") {
  Fixture f;
  // Meta never reuses a message id; a fake that does makes recording the second send fail.
  fail_messages(f,
                Reply{200, R"({"messaging_product":"whatsapp","messages":[{"id":"wamid.SAME"}]})"});
  REQUIRE(f.send(keyed("inv-a")).exit == Exit::ok);
  auto second = f.send(keyed("inv-b"));
  CHECK(second.exit == Exit::internal);
  REQUIRE(second.message);
  CHECK(column(f.store, second.message->id, "send_state") == "unknown");
  // A re-run with the key answers at once from the stored state and sends nothing.
  auto again = f.send(keyed("inv-b"));
  CHECK(again.exit == Exit::tempfail);
  CHECK(f.graph.count("POST", "/messages") == 2);
  CHECK(f.clock.sleeps().empty());
}

TEST_CASE("send: a Retry-After beyond reason stops retrying at once") {
  Fixture f;
  fail_messages(f, Reply{429,
                         testsupport::FakeGraph::error_body(130429, "slow down"),
                         {{"Retry-After", "86400"}}});
  auto o = f.send(text_to("+15551234567", "x"));
  CHECK(o.exit == Exit::tempfail);
  CHECK(f.graph.count("POST", "/messages") == 1);
  CHECK(o.error.find("86400") != std::string::npos);
}

TEST_CASE("send: a rejected upload fails the send without posting the message") {
  Fixture f;
  f.graph.set_handler([](const Recorded& r) -> std::optional<Reply> {
    if (r.path.find("/media") != std::string::npos) return meta_error(131053);
    return std::nullopt;
  });
  auto path = f.dir / "x.pdf";
  { std::ofstream(path) << "%PDF-1.4"; }
  SendRequest r = text_to("+15551234567", "");
  r.content.kind = ContentKind::document;
  r.content.media = path.string();
  auto o = f.send(r);
  CHECK(o.exit == Exit::rejected);
  CHECK(f.graph.count("POST", "/media") == 1);
  CHECK(f.graph.count("POST", "/messages") == 0);
  CHECK(o.message->error->code == 131053);
}

TEST_CASE("send: an idempotency key sends once and then prints the first result") {
  Fixture f;
  auto first = f.send(keyed("inv-1001"));
  REQUIRE(first.exit == Exit::ok);
  CHECK_FALSE(first.duplicate);
  for (int i = 0; i < 3; ++i) {
    auto again = f.send(keyed("inv-1001", "different text this time"));
    CHECK(again.exit == Exit::ok);
    CHECK(again.duplicate);
    CHECK(again.message->id == first.message->id);
    CHECK(again.message->message_id == first.message->message_id);
    CHECK(again.message->text == std::optional<std::string>("invoice INV-1"));
  }
  CHECK(f.graph.count("POST", "/messages") == 1);
  // Another key is another message.
  CHECK_FALSE(f.send(keyed("inv-1002")).duplicate);
  CHECK(f.graph.count("POST", "/messages") == 2);
}

TEST_CASE("send: idempotency keys are per tenant") {
  Fixture f;
  testsupport::FakeGraph other_graph;
  other_graph.accept_token("EAAGothertoken987654321");
  Config c;
  c.tenant_id = "other";
  c.phone_number_id = "200000000000001";
  c.graph_url = other_graph.url();
  c.api_version = "v25.0";
  ConfigSecrets s;
  s.access_token = "EAAGothertoken987654321";
  save_config(f.store, f.key, c, s);
  REQUIRE(f.send(keyed("shared-key")).exit == Exit::ok);
  auto target = send_target(
      f.store, [&]() -> const MasterKey& { return f.key; }, "other");
  REQUIRE(target);
  Sender sender(f.shared, *target, Fixture::policy(), f.clock);
  auto r = keyed("shared-key");
  r.tenant = "other";
  auto o = sender.send(prepare_send(r));
  CHECK(o.exit == Exit::ok);
  CHECK_FALSE(o.duplicate);
  CHECK(other_graph.count("POST", "/messages") == 1);
  // A sender of one tenant refuses another tenant's request.
  Sender acme(f.shared, f.target(), Fixture::policy(), f.clock);
  CHECK_THROWS_AS(acme.send(prepare_send(r)), Error);
}

TEST_CASE("send: a key whose first send Meta refused is tried again by the next run") {
  Fixture f;
  fail_messages(f, meta_error(131047));
  auto first = f.send(keyed("k"));
  CHECK(first.exit == Exit::rejected);
  CHECK(column(f.store, first.message->id, "send_state") == "failed");
  // Refused again: reported as a new failure, not as the old one.
  auto refused = f.send(keyed("k"));
  CHECK(refused.exit == Exit::rejected);
  CHECK_FALSE(refused.duplicate);
  CHECK(f.graph.count("POST", "/messages") == 2);
  f.graph.set_handler(nullptr);
  auto again = f.send(keyed("k"));
  CHECK(again.exit == Exit::ok);
  CHECK_FALSE(again.duplicate);
  CHECK(again.message->id == first.message->id);
  CHECK(again.message->status == "sent");
  CHECK(f.graph.count("POST", "/messages") == 3);
  // Accepted now: never sent again.
  auto replay = f.send(keyed("k"));
  CHECK(replay.exit == Exit::ok);
  CHECK(replay.duplicate);
  CHECK(replay.message->message_id == again.message->message_id);
  CHECK(f.graph.count("POST", "/messages") == 3);
}

TEST_CASE("send: a key whose first send failed temporarily is sent by the next run") {
  Fixture f;
  fail_messages(f, Reply{503, "down"});
  auto first = f.send(keyed("k"));
  CHECK(first.exit == Exit::tempfail);
  f.graph.set_handler(nullptr);
  auto again = f.send(keyed("k"));
  CHECK(again.exit == Exit::ok);
  CHECK_FALSE(again.duplicate);
  CHECK(again.message->id == first.message->id);
  CHECK(again.message->status == "sent");
  CHECK_FALSE(again.message->error);
}

TEST_CASE("send: two processes racing with one key make exactly one request") {
  Fixture f;
  f.graph.set_handler([](const Recorded& r) -> std::optional<Reply> {
    if (r.path.find("/messages") == std::string::npos) return std::nullopt;
    return Reply{200, R"({"messages":[{"id":"wamid.RACE1"}]})", {}, 400};
  });
  auto p = Fixture::policy();
  p.owner_poll = 20ms;
  constexpr int n = 4;
  std::vector<SendOutcome> outcomes(n);
  std::vector<std::thread> threads;
  auto target = f.target();
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      // Each "process" has its own connection to the database file.
      Store store(f.dir / "wabactl.db");
      SharedStore shared(store);
      Sender s(shared, target, p, wabactl::steady_clock());
      outcomes[static_cast<std::size_t>(i)] = s.send(prepare_send(keyed("race-key")));
    });
  }
  for (auto& t : threads) t.join();
  CHECK(f.graph.count("POST", "/messages") == 1);
  int duplicates = 0;
  for (const auto& o : outcomes) {
    CHECK(o.exit == Exit::ok);
    CHECK(o.message->message_id == std::optional<std::string>("wamid.RACE1"));
    duplicates += o.duplicate ? 1 : 0;
  }
  CHECK(duplicates == n - 1);
}

TEST_CASE("send: a key held by a live sender past the wait is exit 75, a stale one is unknown") {
  Fixture f;
  auto db = testsupport::raw_db(f.store);
  SQLite::Statement ins(db,
                        "INSERT INTO whatsapp_messages(tenant_id, conversation, direction, status, "
                        "type, timestamp, created_at, idempotency_key, send_state) VALUES('acme', "
                        "'15551234567', 'outgoing', 'queued', 'text', ?, ?, ?, 'pending')");
  ins.bind(1, now_iso());
  ins.bind(2, now_iso());
  ins.bind(3, "held");
  ins.exec();
  auto p = Fixture::policy();
  p.owner_wait = 1s;
  auto o = f.send(keyed("held"), p);
  CHECK(o.exit == Exit::tempfail);
  CHECK(o.error.find("still sending") != std::string::npos);

  ins.reset();
  ins.bind(1, "2020-01-01T00:00:00Z");
  ins.bind(2, "2020-01-01T00:00:00Z");
  ins.bind(3, "crashed");
  ins.exec();
  auto stale = f.send(keyed("crashed"), p);
  CHECK(stale.exit == Exit::tempfail);
  CHECK(stale.error.find("unknown") != std::string::npos);
  CHECK(f.graph.count("POST", "/messages") == 0);
}

namespace {

// Puts an outbox row for `key` in `state`, claimed by `claimant`, as a process would leave it.
void leave_claim(Fixture& f, const std::string& key, const std::string& state,
                 const std::string& claimant) {
  auto db = testsupport::raw_db(f.store);
  SQLite::Statement ins(db,
                        "INSERT INTO whatsapp_messages(tenant_id, conversation, direction, status, "
                        "type, timestamp, created_at, idempotency_key, send_state, claimed_by) "
                        "VALUES('acme', '15551234567', 'outgoing', 'queued', 'text', ?, ?, ?, ?, "
                        "?)");
  ins.bind(1, now_iso());
  ins.bind(2, now_iso());
  ins.bind(3, key);
  ins.bind(4, state);
  ins.bind(5, claimant);
  ins.exec();
}

std::string state_of(Fixture& f, const std::string& key) {
  auto db = testsupport::raw_db(f.store);
  SQLite::Statement q(db, "SELECT send_state FROM whatsapp_messages WHERE idempotency_key = ?");
  q.bind(1, key);
  REQUIRE(q.executeStep());
  return q.getColumn(0).getString();
}

} // namespace

TEST_CASE("claimant: this process is alive, not a reused pid, another boot or garbage") {
  const std::string& me = outbox_claimant();
  CHECK(claimant_alive(me));
  CHECK(claimant_this_boot(me));
  CHECK(claimant_checkable(me));
  std::string boot = me.substr(0, me.find(' '));
  std::string ns = me.substr(me.rfind(' ') + 1);
  // This pid with another start time: the pid was reused by a new process.
  std::string reused = fmt::format("{} {} 1 {}", boot, ::getpid(), ns);
  CHECK_FALSE(claimant_alive(reused));
  CHECK(claimant_this_boot(reused));
  CHECK(claimant_checkable(reused));
  std::string other_boot = me;
  other_boot[0] = other_boot[0] == '0' ? '1' : '0';
  CHECK_FALSE(claimant_alive(other_boot));
  CHECK_FALSE(claimant_this_boot(other_boot));
  CHECK(claimant_checkable(other_boot));
  // A pid of another container: it cannot be looked up, so it is not declared dead.
  std::string elsewhere = fmt::format("{} {} 1 pid:[1]", boot, ::getpid());
  CHECK(claimant_alive(elsewhere));
  CHECK_FALSE(claimant_checkable(elsewhere));
  for (const char* bad : {"", "x", "a b c", "boot -5 1 ns", "boot 0 1 ns"}) {
    CAPTURE(bad);
    CHECK_FALSE(claimant_alive(bad));
    CHECK_FALSE(claimant_checkable(bad));
  }
}

TEST_CASE("send: a claim left by a dead process is sent at once if its request had not left") {
  Fixture f;
  std::string me = outbox_claimant();
  std::string dead = fmt::format("{} {} 1 {}", me.substr(0, me.find(' ')), ::getpid(),
                                 me.substr(me.rfind(' ') + 1));
  leave_claim(f, "orphan", "pending", dead);
  auto o = f.send(keyed("orphan"));
  CHECK(o.exit == Exit::ok);
  CHECK_FALSE(o.duplicate);
  CHECK(f.graph.count("POST", "/messages") == 1);
  CHECK(f.clock.sleeps().empty()); // no waiting for the dead process
  CHECK(state_of(f, "orphan") == "sent");
  // A claim of a live process is still waited for (and not taken over).
  leave_claim(f, "held", "pending", me);
  auto p = Fixture::policy();
  p.owner_wait = 1s;
  auto held = f.send(keyed("held"), p);
  CHECK(held.exit == Exit::tempfail);
  CHECK(held.error.find("still sending") != std::string::npos);
  CHECK(f.graph.count("POST", "/messages") == 1);
}

TEST_CASE("send: a dead process's request that may have left is unknown until --resolve") {
  Fixture f;
  std::string me = outbox_claimant();
  std::string boot = me.substr(0, me.find(' '));
  std::string dead = fmt::format("{} {} 1 {}", boot, ::getpid(), me.substr(me.rfind(' ') + 1));
  std::string before_reboot = me;
  before_reboot[0] = before_reboot[0] == '0' ? '1' : '0';
  leave_claim(f, "out", "sending", dead);
  leave_claim(f, "arrived", "sending", dead);
  leave_claim(f, "rebooted", "pending", before_reboot);
  for (const char* key : {"out", "arrived", "rebooted"}) {
    CAPTURE(key);
    auto o = f.send(keyed(key));
    CHECK(o.exit == Exit::tempfail);
    CHECK(o.unknown);
    CHECK(o.hint.find(fmt::format("--resolve {} sent", key)) != std::string::npos);
    CHECK(state_of(f, key) == "unknown");
    // Asked again: still unknown, still not sent.
    CHECK(f.send(keyed(key)).unknown);
  }
  CHECK(f.graph.count("POST", "/messages") == 0);

  // It did not arrive: the next send with the key sends it.
  auto failed = resolve_send(f.store, "acme", "out", false);
  CHECK(failed.status == "failed");
  auto resent = f.send(keyed("out"));
  CHECK(resent.exit == Exit::ok);
  CHECK_FALSE(resent.duplicate);
  CHECK(f.graph.count("POST", "/messages") == 1);
  // It did arrive: never sent, its result replayed.
  auto sent = resolve_send(f.store, "acme", "arrived", true);
  CHECK(sent.status == "sent");
  auto replay = f.send(keyed("arrived"));
  CHECK(replay.exit == Exit::ok);
  CHECK(replay.duplicate);
  CHECK(f.graph.count("POST", "/messages") == 1);

  // Nothing to resolve: a key sent, a key held by a live process, a key never used, a tenant
  // that does not exist.
  auto code_of = [&](const std::string& tenant, const std::string& key) {
    try {
      resolve_send(f.store, tenant, key, true);
    } catch (const Error& e) {
      return e.code();
    }
    return Exit::ok;
  };
  leave_claim(f, "live", "sending", me);
  CHECK(code_of("acme", "out") == Exit::usage);
  CHECK(code_of("acme", "live") == Exit::usage);
  CHECK(code_of("acme", "never") == Exit::not_found);
  CHECK(code_of("other", "out") == Exit::not_found); // keys are per tenant
  CHECK(code_of("nobody", "out") == Exit::not_found);
  CHECK(state_of(f, "live") == "sending");
  // A claim of another container cannot be checked: it may be resolved once 15 minutes old.
  std::string elsewhere = fmt::format("{} {} 1 pid:[1]", boot, ::getpid());
  leave_claim(f, "elsewhere", "sending", elsewhere);
  CHECK(code_of("acme", "elsewhere") == Exit::usage);
  testsupport::raw_db(f.store).exec(
      "UPDATE whatsapp_messages SET timestamp='2020-01-01T00:00:00Z' WHERE "
      "idempotency_key='elsewhere'");
  CHECK(f.send(keyed("elsewhere")).unknown);
  CHECK(code_of("acme", "elsewhere") == Exit::ok);
  CHECK(state_of(f, "elsewhere") == "sent");
}

TEST_CASE("send: a stop before the request leaves records it as not sent, for the next run") {
  Fixture f;
  std::atomic<int> stop{SIGINT};
  auto p = Fixture::policy();
  p.stop = &stop;
  auto o = f.send(keyed("stopped"), p);
  CHECK(o.exit == Exit::tempfail);
  CHECK(o.not_sent);
  CHECK(f.graph.count("POST", "/messages") == 0);
  CHECK(state_of(f, "stopped") == "retryable");
  // A stop during a retry's backoff ends the waiting: the row is not left pending either.
  f.graph.set_handler([&](const Recorded& r) -> std::optional<Reply> {
    if (r.path.find("/messages") == std::string::npos) return std::nullopt;
    stop.store(SIGTERM);
    return Reply{503, "down"};
  });
  stop.store(0);
  auto retried = f.send(keyed("backoff"), p);
  CHECK(retried.exit == Exit::tempfail);
  CHECK(f.graph.count("POST", "/messages") == 1);
  CHECK(state_of(f, "backoff") == "retryable");
  f.graph.set_handler(nullptr);
  stop.store(0);
  CHECK(f.send(keyed("stopped"), p).exit == Exit::ok);
  CHECK(f.send(keyed("backoff"), p).exit == Exit::ok);
  CHECK(f.graph.count("POST", "/messages") == 3);
}

TEST_CASE("rate limiter: no one-second window ever holds more than the rate (2,000 grants)") {
  for (int rate : {1, 7, 80, 1000}) {
    CAPTURE(rate);
    sendtest::FakeClock clock;
    RateLimiter limiter(rate, clock);
    std::vector<std::int64_t> grants;
    std::mutex mu;
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 250; ++i) {
          auto g = limiter.acquire().at().count();
          std::lock_guard lock(mu);
          grants.push_back(g);
        }
      });
    }
    for (auto& t : threads) t.join();
    std::sort(grants.begin(), grants.end());
    REQUIRE(grants.size() == 2000);
    std::size_t worst = 0;
    for (std::size_t i = 0, j = 0; i < grants.size(); ++i) {
      while (grants[j] <= grants[i] - 1'000'000'000) ++j;
      worst = std::max(worst, i - j + 1);
    }
    CHECK(worst <= static_cast<std::size_t>(rate));

    // And it does not crawl: 2,000 grants answered at once fill ceil(2000 / rate) windows,
    // each a second after the one before. (One thread: with several, a thread that waits
    // moves the fake clock while another holds a grant, which is not what times it.)
    sendtest::FakeClock alone;
    RateLimiter single(rate, alone);
    auto first = single.acquire().at();
    std::chrono::nanoseconds last = first;
    for (int i = 1; i < 2000; ++i) last = single.acquire().at();
    CHECK(last - first == std::chrono::seconds((2000 + rate - 1) / rate - 1));
  }
  sendtest::FakeClock clock;
  CHECK_THROWS_AS(RateLimiter(0, clock), Error);
}

TEST_CASE("rate limiter: a full second's worth at once, then a window per rate grants") {
  sendtest::FakeClock clock;
  RateLimiter limiter(1000, clock);
  auto first = limiter.acquire().at();
  int immediate = 1;
  for (int i = 1; i < 1000; ++i) immediate += limiter.acquire().at() == first ? 1 : 0;
  CHECK(immediate == 1000);
  CHECK(limiter.acquire().at() - first == 1s);
  std::chrono::nanoseconds last{};
  for (int i = 1001; i < 5000; ++i) last = limiter.acquire().at();
  // 5,000 messages at --rate 1000 take four windows, not five seconds: Meta's top tier is
  // reached without any one-second window going over.
  CHECK(last - first == 4s);
}

TEST_CASE("rate limiter: the window runs from the answer, and waits for one still on its way") {
  sendtest::FakeClock clock;
  RateLimiter limiter(1, clock);
  auto slow = limiter.acquire();
  auto t0 = slow.at();
  // The next grant has to wait for the slow request's answer: Meta may count it that late.
  std::chrono::nanoseconds next_at{};
  std::thread next([&] { next_at = limiter.acquire().at(); });
  clock.sleep_until(t0 + 5s);
  slow.finish();
  next.join();
  CHECK(next_at >= t0 + 6s);
}

TEST_CASE("rate limiter: a request still on its way holds up only its own place") {
  sendtest::FakeClock clock;
  RateLimiter limiter(2, clock);
  auto slow = limiter.acquire();
  auto t0 = slow.at();
  std::vector<std::chrono::nanoseconds> others;
  for (int i = 0; i < 3; ++i) others.push_back(limiter.acquire().at());
  // The slow one is in every window, so one place is left: one a second.
  CHECK(others == std::vector<std::chrono::nanoseconds>{t0, t0 + 1s, t0 + 2s});
  clock.sleep_until(t0 + 10s);
  slow.finish();
  auto after = limiter.acquire().at();
  auto last = limiter.acquire().at();
  CHECK(after == t0 + 10s);
  CHECK(last == t0 + 11s);
}

TEST_CASE("recipient spacer: 6 s between messages to one recipient, none across recipients") {
  sendtest::FakeClock clock;
  RecipientSpacer spacer(6s, clock);
  auto a1 = spacer.acquire("15551234567");
  auto b1 = spacer.acquire("15557654321");
  CHECK(b1 == a1);
  auto a2 = spacer.acquire("15551234567");
  CHECK(a2 - a1 == 6s);
  spacer.defer("15551234567", 64s);
  auto a3 = spacer.acquire("15551234567");
  CHECK(a3 - a2 >= 64s);
}
