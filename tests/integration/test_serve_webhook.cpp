// wabactl serve: Meta's webhook routes, limits, health and metrics, against the real binary.
#include "integration/test_serve_support.hpp"
#include "support/signing.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

using namespace servetest;
using testsupport::TempDir;
using testsupport::Wabactl;

namespace {

const std::string route = "/api/whatsapp/webhook";

std::int64_t count(const Wabactl& w, const std::string& sql) {
  SQLite::Database db(w.db.string(), SQLite::OPEN_READONLY);
  db.setBusyTimeout(5000);
  return db.execAndGet(sql).getInt64();
}

struct Setup {
  TempDir dir;
  Wabactl w{dir};
  Setup() {
    REQUIRE(w({"key", "init"}).exit_code == 0);
    fixtures::add_tenant_config(w, dir, fixtures::acme);
    fixtures::add_tenant_config(w, dir, fixtures::beta);
  }
};

std::string verify_path(const std::string& base, const std::string& mode, const std::string& token,
                        const std::string& challenge) {
  return fmt::format("{}?hub.mode={}&hub.verify_token={}&hub.challenge={}", base, mode, token,
                     challenge);
}

} // namespace

TEST_CASE("serve answers Meta's verification only for an active tenant's verify token") {
  Setup s;
  Daemon d(s.w, s.dir);
  auto c = d.client();
  auto ok = c.Get(verify_path(route, "subscribe", fixtures::acme.verify_token, "1158201444"));
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(ok->body == "1158201444");
  CHECK(ok->get_header_value("Content-Type").rfind("text/plain", 0) == 0);
  CHECK(c.Get(verify_path(route, "subscribe", fixtures::beta.verify_token, "77"))->status == 200);

  CHECK(c.Get(verify_path(route, "subscribe", "wrong-token", "1"))->status == 403);
  CHECK(c.Get(verify_path(route, "subscribe", fixtures::acme.verify_token + "x", "1"))->status ==
        403);
  CHECK(c.Get(verify_path(route, "unsubscribe", fixtures::acme.verify_token, "1"))->status == 403);
  CHECK(c.Get(verify_path(route, "subscribe", "", "1"))->status == 403);
  CHECK(c.Get(verify_path(route, "subscribe", fixtures::acme.verify_token, ""))->status == 403);
  CHECK(c.Get(route)->status == 403);
  CHECK(c.Get(verify_path(route, "subscribe", std::string(5000, 'a'), "1"))->status == 403);
  auto refused = c.Get(verify_path(route, "subscribe", "nope", "1"));
  CHECK(nlohmann::json::parse(refused->body)["error"]["code"] == "forbidden");

  // The per-tenant route accepts only that tenant's token.
  CHECK(
      c.Get(verify_path(route + "/acme", "subscribe", fixtures::acme.verify_token, "5"))->status ==
      200);
  CHECK(
      c.Get(verify_path(route + "/acme", "subscribe", fixtures::beta.verify_token, "5"))->status ==
      403);
  CHECK(c.Get(verify_path(route + "/nobody", "subscribe", fixtures::acme.verify_token, "5"))
            ->status == 403);

  // An inactive config's token no longer verifies (the daemon reloads within a second).
  REQUIRE(s.w({"config", "set", "--tenant", "beta", "--phone-number-id",
               fixtures::beta.phone_number_id, "--inactive", "--no-test"})
              .exit_code == 0);
  int status = 0;
  for (int i = 0; i < 100 && status != 403; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    status = c.Get(verify_path(route, "subscribe", fixtures::beta.verify_token, "77"))->status;
  }
  CHECK(status == 403);
  CHECK(d.log().find(fixtures::acme.verify_token) == std::string::npos);
}

TEST_CASE("a signed delivery is stored and visible to history, unread and status") {
  Setup s;
  Daemon d(s.w, s.dir);
  auto r = d.post(
      route, inbound(fixtures::acme.phone_number_id, "15551230000", "wamid.IN1", "Hello, invoice?"),
      fixtures::acme.app_secret);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Content-Type") == "application/json");
  CHECK(nlohmann::json::parse(r->body) ==
        nlohmann::json{{"status", "ok"}, {"messages", 1}, {"statuses", 0}, {"duplicates", 0}});
  // The same delivery again: stored once, counted as a duplicate.
  r = d.post(route,
             inbound(fixtures::acme.phone_number_id, "15551230000", "wamid.IN1", "Hello, invoice?"),
             fixtures::acme.app_secret);
  REQUIRE(r);
  CHECK(nlohmann::json::parse(r->body) ==
        nlohmann::json{{"status", "ok"}, {"messages", 0}, {"statuses", 0}, {"duplicates", 1}});

  auto h = s.w({"history", "--tenant", "acme", "--phone", "+15551230000", "--json"});
  REQUIRE(h.exit_code == 0);
  auto m = nlohmann::json::parse(h.out);
  CHECK(m["message_id"] == "wamid.IN1");
  CHECK(m["text"] == "Hello, invoice?");
  CHECK(m["direction"] == "incoming");
  CHECK(m["contact_name"] == "Jane");
  CHECK(m["tenant_id"] == "acme");
  CHECK(s.w({"unread", "--tenant", "acme"}).out == "1\n");
  CHECK(s.w({"unread", "--tenant", "beta"}).out == "0\n");
  CHECK(s.w({"history", "--tenant", "beta", "--json"}).out.empty());

  // The per-tenant route, a status for an outgoing message, and a retry of the same bytes.
  {
    SQLite::Database db(s.w.db.string(), SQLite::OPEN_READWRITE);
    db.setBusyTimeout(5000);
    db.exec("INSERT INTO whatsapp_messages(tenant_id, phone_number, conversation, message_id, "
            "direction, status, status_rank, type, message_text, timestamp, created_at) VALUES "
            "('acme', '15551230000', '15551230000', 'wamid.OUT1', 'outgoing', 'sent', 1, 'text', "
            "'Your invoice', '2025-11-24T16:00:00Z', '2025-11-24T16:00:00Z')");
  }
  std::string delivered = status_update(fixtures::acme.phone_number_id, "wamid.OUT1", "delivered");
  CHECK(d.post(route + "/acme", delivered, fixtures::acme.app_secret)->status == 200);
  CHECK(d.post(route + "/acme", delivered, fixtures::acme.app_secret)->status == 200);
  CHECK(d.post(route,
               status_update(fixtures::acme.phone_number_id, "wamid.OUT1", "read", 1764000200),
               fixtures::acme.app_secret)
            ->status == 200);
  auto st = s.w({"status", "--tenant", "acme", "wamid.OUT1", "--json"});
  REQUIRE(st.exit_code == 0);
  auto sj = nlohmann::json::parse(st.out);
  CHECK(sj["status"] == "read");
  REQUIRE(sj["history"].size() == 2);
  CHECK(sj["history"][0]["status"] == "delivered");
  CHECK(s.w({"status", "--tenant", "beta", "wamid.OUT1"}).exit_code == 3);
  CHECK(count(s.w, "SELECT count(*) FROM message_statuses") == 2);
}

TEST_CASE("unsigned, mis-signed and unknown-number deliveries get 401 and store nothing") {
  Setup s;
  Daemon d(s.w, s.dir);
  std::string body = inbound(fixtures::acme.phone_number_id, "15551230000", "wamid.X", "hi");
  CHECK(d.post(route, body, "")->status == 401);
  CHECK(d.post(route, body, fixtures::beta.app_secret)->status == 401);
  CHECK(d.post(route, body, "", "sha256=" + std::string(64, '0'))->status == 401);
  CHECK(d.post(route, body, "", "sha1=abc")->status == 401);
  CHECK(d.post(route, body, "", "sha256=" + std::string(1000, 'f'))->status == 401);
  CHECK(
      d.post(route, body + " ", "", testsupport::signature_header(body, fixtures::acme.app_secret))
          ->status == 401);
  // Signed with the right secret for a number no tenant owns.
  CHECK(d.post(route, inbound("999999999999999", "15551230000", "wamid.Y", "hi"),
               fixtures::acme.app_secret)
            ->status == 401);
  // The per-tenant route takes only that tenant's secret.
  CHECK(d.post(route + "/beta", body, fixtures::acme.app_secret)->status == 401);
  CHECK(d.post(route + "/nobody", body, fixtures::acme.app_secret)->status == 401);
  auto r = d.post(route, body, "wrong-secret-0123456789");
  CHECK(nlohmann::json::parse(r->body)["error"]["code"] == "unauthorized");
  CHECK(count(s.w, "SELECT count(*) FROM webhook_deliveries") == 0);
  CHECK(count(s.w, "SELECT count(*) FROM whatsapp_messages") == 0);
  CHECK(count(s.w, "SELECT count(*) FROM events") == 0);
  CHECK(d.log().find(fixtures::acme.app_secret) == std::string::npos);
}

TEST_CASE("a change for another tenant's number stays in the archive only") {
  Setup s;
  Daemon d(s.w, s.dir);
  // Two changes, acme's and beta's, signed with acme's secret: only acme's is stored.
  auto a = nlohmann::json::parse(
      inbound(fixtures::acme.phone_number_id, "15551230000", "wamid.A", "for acme"));
  auto b = nlohmann::json::parse(
      inbound(fixtures::beta.phone_number_id, "15551230000", "wamid.B", "for beta"));
  a["entry"].push_back(b["entry"][0]);
  std::string body = a.dump();
  REQUIRE(d.post(route, body, fixtures::acme.app_secret)->status == 200);
  CHECK(count(s.w, "SELECT count(*) FROM whatsapp_messages WHERE tenant_id = 'acme'") == 1);
  CHECK(count(s.w, "SELECT count(*) FROM whatsapp_messages WHERE tenant_id = 'beta'") == 0);
  CHECK(count(s.w, "SELECT count(*) FROM webhook_deliveries") == 1);

  // On a tenant's own route, verified by its secret, a delivery naming only numbers it does
  // not own (no tenant's, or another's) is kept in the archive, not refused.
  for (const auto& number : {std::string("999999999999999"), fixtures::beta.phone_number_id}) {
    CAPTURE(number);
    std::string only = inbound(number, "15551230000", "wamid.U" + number, "for nobody here");
    auto r = d.post(route + "/acme", only, fixtures::acme.app_secret);
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  CHECK(count(s.w, "SELECT count(*) FROM webhook_deliveries") == 3);
  CHECK(count(s.w, "SELECT count(*) FROM whatsapp_messages") == 1);
}

TEST_CASE("malformed JSON with a valid signature gets 400 and stores nothing") {
  Setup s;
  Daemon d(s.w, s.dir);
  for (std::string body : {std::string("{not json"), std::string("[]"), std::string("{}"),
                           std::string(R"({"entry": 5})"), std::string(100000, '[')}) {
    CAPTURE(body.substr(0, 20));
    auto r = d.post(route, body, fixtures::acme.app_secret);
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(nlohmann::json::parse(r->body)["error"]["code"] == "bad_request");
  }
  CHECK(count(s.w, "SELECT count(*) FROM webhook_deliveries") == 0);
}

TEST_CASE("oversized, chunked and compressed bodies are refused before they are read") {
  Setup s;
  Daemon d(s.w, s.dir, {"--max-body", "4096"});
  std::string head = "POST /api/whatsapp/webhook HTTP/1.1\r\nHost: x\r\n"
                     "X-Hub-Signature-256: sha256=00\r\n";
  // A Content-Length over the limit: 413 without the body ever being sent.
  auto r = raw_http(d.port(), head + "Content-Length: 5000\r\n\r\n");
  CHECK(status_of(r) == 413);
  CHECK(r.find("payload_too_large") != std::string::npos);
  CHECK(status_of(raw_http(d.port(), head + "Content-Length: 99999999999999999999\r\n\r\n")) ==
        400);
  CHECK(status_of(raw_http(d.port(), head + "Content-Length: -1\r\n\r\n")) == 400);
  CHECK(status_of(raw_http(
            d.port(), head + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")) == 411);
  CHECK(status_of(raw_http(d.port(), head + "Content-Length: 2\r\n\r\n{}")) == 401);
  // Without Content-Length a request has no body (RFC 9112 §6.3): checked like any other.
  CHECK(status_of(raw_http(d.port(), head + "\r\n")) == 401);
  CHECK(status_of(raw_http(d.port(),
                           head + "Content-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}")) == 415);
  CHECK(status_of(raw_http(
            d.port(), head + "Content-Encoding: identity\r\nContent-Length: 2\r\n\r\n{}")) == 401);
  std::string many;
  for (int i = 0; i < 150; ++i) many += fmt::format("X-H{}: v\r\n", i);
  CHECK(status_of(raw_http(d.port(), head + many + "Content-Length: 2\r\n\r\n{}")) == 431);
  // Each refusal is logged with its status and reason, and counted by reason.
  for (const char* line : {"webhook request refused: 413 the body is larger than --max-body "
                           "(too_large) from 127.0.0.1",
                           "webhook request refused: 411", "webhook request refused: 415",
                           "webhook request refused: 431"}) {
    CAPTURE(line);
    CHECK(d.log().find(line) != std::string::npos);
  }
  auto metrics = d.client().Get("/metrics");
  REQUIRE(metrics);
  for (const char* reason : {"too_large", "chunked", "encoding", "headers"}) {
    CAPTURE(reason);
    CHECK(metrics->body.find(fmt::format(
              "wabactl_requests_refused_total{{route=\"webhook\",reason=\"{}\"}} 1\n", reason)) !=
          std::string::npos);
  }

  // Through a normal client: a body just over the limit.
  std::string big =
      inbound(fixtures::acme.phone_number_id, "15551230000", "wamid.BIG", std::string(5000, 'x'));
  CHECK(d.post(route, big, fixtures::acme.app_secret)->status == 413);
  CHECK(count(s.w, "SELECT count(*) FROM webhook_deliveries") == 0);
  // Still serving.
  CHECK(d.post(route, inbound(fixtures::acme.phone_number_id, "15551230000", "wamid.OK", "ok"),
               fixtures::acme.app_secret)
            ->status == 200);
}

TEST_CASE("an address that keeps failing signature checks gets 429, its good deliveries 200") {
  Setup s;
  Daemon d(s.w, s.dir);
  std::string body = inbound(fixtures::acme.phone_number_id, "15551230000", "wamid.Z", "hi");
  int first_429 = -1;
  for (int i = 0; i < 40 && first_429 < 0; ++i) {
    auto r = d.post(route, body, "not-the-secret-0123456789");
    if (r->status == 429)
      first_429 = i;
    else
      CHECK(r->status == 401);
  }
  CHECK(first_429 == 30);
  auto r = d.post(route, body, "not-the-secret-0123456789");
  CHECK(r->status == 429);
  CHECK(r->get_header_value("Retry-After") == "60");
  CHECK(count(s.w, "SELECT count(*) FROM webhook_deliveries") == 0);
  // Meta sends every app's deliveries from the same addresses: a correctly signed one from
  // the failing address is verified and stored all the same, before and after more failures.
  for (int i = 0; i < 5; ++i) {
    std::string good =
        inbound(fixtures::acme.phone_number_id, "15551230000", fmt::format("wamid.G{}", i), "ok");
    CHECK(d.post(route, good, fixtures::acme.app_secret)->status == 200);
    CHECK(d.post(route, body, "not-the-secret-0123456789")->status == 429);
  }
  CHECK(count(s.w, "SELECT count(*) FROM webhook_deliveries") == 5);
  // The verification handshake too.
  auto bad_verify = d.client().Get(verify_path(route, "subscribe", "wrong", "c"));
  CHECK(bad_verify->status == 429);
  auto good_verify =
      d.client().Get(verify_path(route, "subscribe", fixtures::acme.verify_token, "c"));
  CHECK(good_verify->status == 200);
  CHECK(good_verify->body == "c");

  // Every refusal is logged with its reason and the address, and counted by reason.
  std::string log = d.log();
  CHECK(log.find("webhook request refused: 401 invalid signature (signature) from 127.0.0.1") !=
        std::string::npos);
  CHECK(log.find("webhook request refused: 429") != std::string::npos);
  auto metrics = d.client().Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->body.find(
            "wabactl_requests_refused_total{route=\"webhook\",reason=\"signature\"} 30\n") !=
        std::string::npos);
  CHECK(metrics->body.find(
            "wabactl_requests_refused_total{route=\"webhook\",reason=\"rate_limited\"} 8\n") !=
        std::string::npos);
  CHECK(metrics->body.find("wabactl_webhooks_rejected_total{reason=\"rate_limited\"} 8\n") !=
        std::string::npos);
}

TEST_CASE("16 threads posting the same and different deliveries store exactly one row each") {
  Setup s;
  Daemon d(s.w, s.dir);
  constexpr int threads = 16;
  constexpr int distinct = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      auto c = d.client();
      for (int i = 0; i < distinct; ++i) {
        // Every thread posts every shared delivery, plus one of its own each round.
        std::string same =
            inbound(fixtures::acme.phone_number_id, "15551230000", fmt::format("wamid.S{}", i),
                    fmt::format("shared {}", i), 1764000000 + i);
        std::string own = inbound(fixtures::acme.phone_number_id, fmt::format("155599900{:02}", t),
                                  fmt::format("wamid.T{}-{}", t, i), "own", 1764000000 + i);
        for (const auto& body : {same, own}) {
          httplib::Headers h{{"X-Hub-Signature-256",
                              testsupport::signature_header(body, fixtures::acme.app_secret)}};
          // Like Meta, a client whose connection broke (a loaded machine, not an answer)
          // posts again; every answer that does come must be 200.
          auto r = c.Post(route, h, body, "application/json");
          for (int retry = 0; !r && retry < 3; ++retry)
            r = c.Post(route, h, body, "application/json");
          if (!r || r->status != 200) ++failures;
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  CHECK(failures == 0);
  CHECK(count(s.w, "SELECT count(*) FROM whatsapp_messages WHERE message_id LIKE 'wamid.S%'") ==
        distinct);
  CHECK(count(s.w, "SELECT count(*) FROM whatsapp_messages WHERE message_id LIKE 'wamid.T%'") ==
        threads * distinct);
  CHECK(count(s.w, "SELECT count(*) FROM events WHERE type = 'message.received'") ==
        distinct + threads * distinct);
  CHECK(count(s.w, "SELECT count(*) FROM webhook_deliveries") == distinct + threads * distinct);
  auto metrics = d.client().Get("/metrics");
  CHECK(metrics->body.find(fmt::format("wabactl_messages_received_total {}",
                                       distinct + threads * distinct)) != std::string::npos);
}

TEST_CASE("every delivery answered 200 survives SIGKILL, and re-posting adds nothing") {
  Setup s;
  Daemon d(s.w, s.dir);
  constexpr int clients = 8;
  std::mutex mu;
  std::vector<std::string> acknowledged;
  std::vector<std::string> all_bodies;
  std::atomic<bool> stop{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < clients; ++t) {
    pool.emplace_back([&, t] {
      auto c = d.client();
      c.set_read_timeout(std::chrono::seconds(5));
      for (int i = 0; !stop; ++i) {
        std::string body = inbound(fixtures::acme.phone_number_id, "15551230000",
                                   fmt::format("wamid.K{}-{}", t, i), "crash test", 1764000000 + i);
        {
          std::lock_guard lock(mu);
          all_bodies.push_back(body);
        }
        httplib::Headers h{{"X-Hub-Signature-256",
                            testsupport::signature_header(body, fixtures::acme.app_secret)}};
        auto r = c.Post(route, h, body, "application/json");
        if (!r) break; // the daemon is gone
        if (r->status == 200) {
          std::lock_guard lock(mu);
          acknowledged.push_back(fmt::format("wamid.K{}-{}", t, i));
        }
      }
    });
  }
  // Let some deliveries through, then kill without warning.
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard lock(mu);
      if (acknowledged.size() >= 200) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(d.stop(SIGKILL) == 128 + SIGKILL);
  stop = true;
  for (auto& t : pool) t.join();
  REQUIRE(!acknowledged.empty());

  d.start();
  {
    SQLite::Database db(s.w.db.string(), SQLite::OPEN_READONLY);
    db.setBusyTimeout(5000);
    for (const auto& id : acknowledged) {
      SQLite::Statement q(db, "SELECT count(*) FROM whatsapp_messages WHERE message_id = ?");
      q.bind(1, id);
      q.executeStep();
      CAPTURE(id);
      CHECK(q.getColumn(0).getInt() == 1);
    }
  }
  for (const auto& body : all_bodies) {
    CHECK(d.post(route, body, fixtures::acme.app_secret)->status == 200);
  }
  auto rows = count(s.w, "SELECT count(*) FROM whatsapp_messages");
  CHECK(rows == static_cast<std::int64_t>(all_bodies.size()));
  for (const auto& body : all_bodies) d.post(route, body, fixtures::acme.app_secret);
  CHECK(count(s.w, "SELECT count(*) FROM whatsapp_messages") == rows);
  CHECK(count(s.w, "SELECT count(*) FROM webhook_deliveries") == rows);
}

TEST_CASE("healthz, metrics for loopback only, JSON errors for unknown routes") {
  Setup s;
  Daemon d(s.w, s.dir);
  auto c = d.client();
  auto h = c.Get("/healthz");
  CHECK(h->status == 200);
  CHECK(nlohmann::json::parse(h->body) == nlohmann::json{{"status", "ok"}});
  d.post(route, "{}", "bad-secret-0123456789");
  auto m = c.Get("/metrics");
  REQUIRE(m->status == 200);
  for (const char* name :
       {"wabactl_webhooks_received_total 1",
        "wabactl_webhooks_rejected_total{reason=\"signature\"} 1",
        "wabactl_webhooks_duplicate_total", "wabactl_messages_sent_total",
        "wabactl_messages_failed_total", "wabactl_graph_errors_total", "wabactl_sse_clients 0",
        "wabactl_ws_clients 0", "wabactl_commit_seconds_bucket{le=\"+Inf\"}"}) {
    CAPTURE(name);
    CHECK(m->body.find(name) != std::string::npos);
  }
  // Relayed by a reverse proxy: not a local scraper.
  CHECK(c.Get("/metrics", {{"X-Forwarded-For", "203.0.113.9"}})->status == 404);
  auto nf = c.Get("/nope");
  CHECK(nf->status == 404);
  CHECK(nlohmann::json::parse(nf->body)["error"]["code"] == "not_found");
}

TEST_CASE("a config added while the daemon runs is served without a restart") {
  Setup s;
  Daemon d(s.w, s.dir);
  std::string body = inbound(fixtures::gamma.phone_number_id, "15551230000", "wamid.G", "hi gamma");
  CHECK(d.post(route, body, fixtures::gamma.app_secret)->status == 401);
  fixtures::add_tenant_config(s.w, s.dir, fixtures::gamma);
  int status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    status = d.post(route, body, fixtures::gamma.app_secret)->status;
  }
  CHECK(status == 200);
  CHECK(count(s.w, "SELECT count(*) FROM whatsapp_messages WHERE tenant_id = 'gamma'") == 1);
}

TEST_CASE("$WHATSAPP_WEBHOOK_SECRET verifies deliveries for tenants without an App Secret") {
  TempDir dir;
  Wabactl w(dir);
  REQUIRE(w({"key", "init"}).exit_code == 0);
  REQUIRE(w({"tenant", "add", "solo"}).exit_code == 0);
  REQUIRE(w({"config", "set", "--tenant", "solo", "--phone-number-id",
             fixtures::acme.phone_number_id, "--no-test"},
            "", {{"WABA_ACCESS_TOKEN", "EAAGsolotoken0123456789"}})
              .exit_code == 0);
  const std::string fallback = "fallback-secret-0123456789abcdef";
  Daemon d(w, dir, {}, {{"WHATSAPP_WEBHOOK_SECRET", fallback}});
  std::string body = inbound(fixtures::acme.phone_number_id, "15551230000", "wamid.F", "hi");
  CHECK(d.post(route, body, "other-secret-0123456789")->status == 401);
  CHECK(d.post(route, body, fallback)->status == 200);
  CHECK(count(w, "SELECT count(*) FROM whatsapp_messages WHERE tenant_id = 'solo'") == 1);
}
