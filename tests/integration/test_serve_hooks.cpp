// Forwarded events (CONTRACT.md §13) through the real binary and daemon, to real receivers
// on loopback whose answers are scripted: signed deliveries verified by the Standard
// Webhooks library, order within a conversation, retries, what counts as an answer, the
// address check at connect time, a dead receiver beside a live one, kill -9, disabling after
// 72 hours, the REST routes and the CLI's refusals.
#include "integration/test_serve_support.hpp"
#include "support/fixtures.hpp"
#include "support/support.hpp"
#include "support/temp_store.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/store.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct Received {
  std::map<std::string, std::string> headers;
  std::string body;
};

// A receiver on loopback: an HTTP server of its own whose answer to the n-th POST (from 1)
// `answer` scripts.
class Receiver {
public:
  using Answer = std::function<void(const httplib::Request&, httplib::Response&, int n)>;

  explicit Receiver(Answer answer, int port = 0) : answer_(std::move(answer)) {
    // Enough threads for every connection a hook may hold open at once.
    server_.new_task_queue = [] { return new httplib::ThreadPool(64); };
    server_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
      int n = 0;
      {
        std::lock_guard lock(mu_);
        Received r;
        for (const auto& [k, v] : req.headers) r.headers[k] = v;
        r.body = req.body;
        received_.push_back(std::move(r));
        n = static_cast<int>(received_.size());
      }
      answer_(req, res, n);
    });
    server_.Get(".*", [this](const httplib::Request&, httplib::Response& res) {
      ++gets_;
      res.set_content("target", "text/plain");
    });
    port_ = port == 0 ? server_.bind_to_any_port("127.0.0.1")
                      : (server_.bind_to_port("127.0.0.1", port) ? port : -1);
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;
  ~Receiver() {
    stopping = true;
    server_.stop();
    thread_.join();
  }

  std::string url(const std::string& path = "/in") const {
    return fmt::format("http://127.0.0.1:{}{}", port_, path);
  }
  int port() const { return port_; }
  std::vector<Received> received() const {
    std::lock_guard lock(mu_);
    return received_;
  }
  /// Waits until `n` POSTs arrived; false after `limit`.
  bool wait_for(std::size_t n, std::chrono::milliseconds limit = 15s) const {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (received().size() >= n) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  int gets() const { return gets_; }

  std::atomic<bool> stopping{false};

private:
  Answer answer_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = -1;
  mutable std::mutex mu_;
  std::vector<Received> received_;
  std::atomic<int> gets_{0};
};

void ok(const httplib::Request&, httplib::Response& res, int) {
  res.set_content("thanks", "text/plain");
}

struct Setup {
  testsupport::TempDir dir;
  testsupport::Wabactl w{dir};
  testsupport::FakeGraph graph;
  std::unique_ptr<servetest::Daemon> daemon;
  int wamids = 0;

  explicit Setup(bool start = true) {
    graph.accept_token(fixtures::acme.access_token);
    REQUIRE(w({"key", "init"}).exit_code == 0);
    fixtures::add_tenant_config(w, dir, fixtures::acme, graph.url());
    fixtures::add_tenant_config(w, dir, fixtures::globex, graph.url());
    if (start) daemon = std::make_unique<servetest::Daemon>(w, dir);
  }

  // Adds a hook through the CLI; returns {id, secret}.
  std::pair<std::string, std::string> add_hook(const std::string& url,
                                               std::vector<std::string> extra = {},
                                               const std::string& tenant = "acme") {
    std::vector<std::string> args = {"--json", "hook",  "add", "--tenant",
                                     tenant,   "--url", url,   "--allow-private"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = w(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    json j = json::parse(r.out);
    return {j["id"], j["secret"]};
  }

  // A customer writes to acme from `from`; returns the message.received event id.
  std::int64_t customer_writes(const std::string& from, const std::string& text = "hello") {
    std::int64_t before = last_event();
    auto r = daemon->post("/api/whatsapp/webhook",
                          servetest::inbound(fixtures::acme.phone_number_id, from,
                                             fmt::format("wamid.HOOK{}", ++wamids), text),
                          fixtures::acme.app_secret);
    REQUIRE(r);
    REQUIRE(r->status == 200);
    wabactl::Store store(w.db);
    for (const auto& e : wabactl::event_rows_after(store, std::string("acme"), before, 100)) {
      if (e.type == "message.received") return e.id;
    }
    FAIL("no message.received event");
    return 0;
  }

  std::int64_t last_event() const {
    wabactl::Store store(w.db);
    return wabactl::last_event_id(store);
  }

  std::vector<json> deliveries(const std::string& id, bool failed = false) {
    std::vector<std::string> args = {"--json", "hook", "deliveries", "--tenant", "acme", id};
    if (failed) args.push_back("--failed");
    auto r = w(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    std::vector<json> out;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
  }

  // Waits until `pred` holds for the hook's deliveries.
  std::vector<json> wait_deliveries(const std::string& id,
                                    const std::function<bool(const std::vector<json>&)>& pred,
                                    std::chrono::milliseconds limit = 15s) {
    auto until = std::chrono::steady_clock::now() + limit;
    std::vector<json> d;
    while (std::chrono::steady_clock::now() < until) {
      d = deliveries(id);
      if (pred(d)) return d;
      std::this_thread::sleep_for(50ms);
    }
    FAIL("deliveries never got there: ", json(d).dump());
    return d;
  }
};

std::filesystem::path node_dir() {
  return std::filesystem::path(WABACTL_SOURCE_DIR) / "tests/node";
}

std::int64_t id_of(const Received& r) {
  return std::stoll(r.headers.at("webhook-id"));
}

} // namespace

TEST_CASE("forwarded events are signed so that the Standard Webhooks library verifies them") {
  auto node = testsupport::find_program("node");
  if (!node) {
    testsupport::skip("node is not installed: the Standard Webhooks verification did not run");
    return;
  }
  REQUIRE_MESSAGE(std::filesystem::exists(node_dir() / "node_modules/standardwebhooks"),
                  "run 'npm ci --prefix tests/node' to install standardwebhooks");
  Setup s;
  Receiver recv(ok);
  auto [id, secret] = s.add_hook(recv.url());
  std::this_thread::sleep_for(1200ms); // the daemon loads new hooks every second

  std::vector<std::int64_t> a, b;
  a.push_back(s.customer_writes("15550000001", "refund please"));
  b.push_back(s.customer_writes("15550000002"));
  a.push_back(s.customer_writes("15550000001", "order 42"));
  b.push_back(s.customer_writes("15550000002"));
  a.push_back(s.customer_writes("15550000001"));
  REQUIRE(recv.wait_for(5));
  std::this_thread::sleep_for(300ms);
  auto got = recv.received();
  REQUIRE(got.size() == 5); // unread.changed is not forwarded by default, and nothing twice

  std::vector<std::int64_t> got_a, got_b;
  json input = {{"secret", secret}, {"deliveries", json::array()}};
  for (const auto& r : got) {
    CHECK(r.headers.at("Content-Type") == "application/json");
    json body = json::parse(r.body);
    CHECK(body["id"] == id_of(r));
    CHECK(body["type"] == "message.received");
    CHECK(body["tenant_id"] == "acme");
    auto ts = std::stoll(r.headers.at("webhook-timestamp"));
    CHECK(std::abs(ts - std::time(nullptr)) < 60);
    CHECK(r.headers.at("webhook-signature").starts_with("v1,"));
    (body["message"]["phone_number"] == "15550000001" ? got_a : got_b).push_back(id_of(r));
    input["deliveries"].push_back({{"headers",
                                    {{"webhook-id", r.headers.at("webhook-id")},
                                     {"webhook-timestamp", r.headers.at("webhook-timestamp")},
                                     {"webhook-signature", r.headers.at("webhook-signature")}}},
                                   {"body", r.body}});
  }
  CHECK(got_a == a); // in event-id order within each conversation
  CHECK(got_b == b);

  auto verified = testsupport::run_program(
      node->string(), {(node_dir() / "verify_hooks.mjs").string()}, {}, input.dump());
  INFO(verified.out, verified.err);
  CHECK(verified.exit_code == 0);
  CHECK(std::count(verified.out.begin(), verified.out.end(), '\n') == 5);
  CHECK(verified.out.find("bad") == std::string::npos);

  // The same library refuses a body changed by one byte and another secret.
  json tampered = input;
  std::string body = tampered["deliveries"][0]["body"];
  body[body.find("refund")] = 'R';
  tampered["deliveries"][0]["body"] = body;
  auto refused = testsupport::run_program(
      node->string(), {(node_dir() / "verify_hooks.mjs").string()}, {}, tampered.dump());
  CHECK(refused.exit_code == 1);
  CHECK(refused.out.find("bad " + std::to_string(a[0])) != std::string::npos);
  json other = input;
  other["secret"] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  CHECK(testsupport::run_program(node->string(), {(node_dir() / "verify_hooks.mjs").string()}, {},
                                 other.dump())
            .exit_code == 1);

  auto d = s.deliveries(id);
  REQUIRE(d.size() == 5);
  for (const auto& one : d) {
    CHECK(one["state"] == "acknowledged");
    CHECK(one["attempts"] == 1);
    CHECK(one["last_status"] == 200);
    CHECK(one["next_attempt_at"].is_null());
  }

  // /metrics counts them; nothing is pending.
  auto c = s.daemon->client();
  auto m = c.Get("/metrics");
  REQUIRE(m);
  CHECK(m->body.find("wabactl_hook_deliveries_total{result=\"acknowledged\"} 5") !=
        std::string::npos);
  CHECK(m->body.find(fmt::format("wabactl_hook_pending{{hook=\"{}\",tenant=\"acme\"}} 0", id)) !=
        std::string::npos);
}

TEST_CASE("a failed delivery is retried with the same webhook-id until it is acknowledged") {
  Setup s;
  Receiver recv([](const httplib::Request&, httplib::Response& res, int n) {
    if (n <= 2) {
      res.status = 503;
      res.set_content("busy\n\x01\x02 try later", "text/plain");
    } else {
      res.status = 204;
    }
  });
  auto [id, secret] = s.add_hook(recv.url(), {"--events", "message.received"});
  std::this_thread::sleep_for(1200ms);
  auto t0 = std::chrono::steady_clock::now();
  auto event = s.customer_writes("15550000001");
  REQUIRE(recv.wait_for(3));
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took >= 1400ms); // backoff: 0.5-1 s, then 1-2 s
  auto got = recv.received();
  for (const auto& r : got) CHECK(id_of(r) == event);
  CHECK(got[0].headers.at("webhook-signature") != got[2].headers.at("webhook-signature"));
  auto d = s.wait_deliveries(
      id, [](const auto& rows) { return rows.size() == 1 && rows[0]["state"] == "acknowledged"; });
  CHECK(d[0]["attempts"] == 3);
  CHECK(d[0]["last_status"] == 204);
  CHECK(d[0]["last_error"].is_null());
  std::this_thread::sleep_for(500ms);
  CHECK(recv.received().size() == 3);
}

TEST_CASE("what a receiver answers: redirects, cut answers, huge and slow ones") {
  Setup s;
  // A redirect is not followed, and counts as a failure.
  Receiver redirect([](const httplib::Request&, httplib::Response& res, int) {
    res.status = 302;
    res.set_header("Location", "/target");
  });
  // Headers and 10 of the 1,000 bytes announced, then the connection closes; then a 200.
  Receiver cut([](const httplib::Request&, httplib::Response& res, int n) {
    if (n > 1) return ok({}, res, n);
    res.set_content_provider(1000, "text/plain",
                             [](std::size_t, std::size_t, httplib::DataSink& sink) {
                               sink.write("0123456789", 10);
                               return false;
                             });
  });
  // 2xx with a gigabyte behind it: acknowledged after reading 64 KiB.
  Receiver huge([](const httplib::Request&, httplib::Response& res, int) {
    res.set_content_provider(std::size_t{1} << 30, "application/octet-stream",
                             [](std::size_t, std::size_t, httplib::DataSink& sink) {
                               static const std::string chunk(64 * 1024, 'x');
                               return sink.write(chunk.data(), chunk.size());
                             });
  });
  // 2xx after 9.9 s: within the 10 s allowed.
  Receiver slow([](const httplib::Request&, httplib::Response& res, int) {
    std::this_thread::sleep_for(9900ms);
    res.set_content("late but fine", "text/plain");
  });
  auto r_id = s.add_hook(redirect.url(), {"--events", "message.received"}).first;
  auto c_id = s.add_hook(cut.url(), {"--events", "message.received"}).first;
  auto h_id = s.add_hook(huge.url(), {"--events", "message.received"}).first;
  auto w_id = s.add_hook(slow.url(), {"--events", "message.received"}).first;
  std::this_thread::sleep_for(1200ms);
  auto t0 = std::chrono::steady_clock::now();
  s.customer_writes("15550000001");

  auto r = s.wait_deliveries(
      r_id, [](const auto& rows) { return !rows.empty() && rows[0]["attempts"] >= 1; });
  CHECK(r[0]["state"] == "pending");
  CHECK(r[0]["last_status"] == 302);
  CHECK(r[0]["last_error"].get<std::string>().find("redirects are not followed") !=
        std::string::npos);
  CHECK_FALSE(r[0]["next_attempt_at"].is_null());
  CHECK(redirect.gets() == 0);

  auto h = s.wait_deliveries(
      h_id, [](const auto& rows) { return !rows.empty() && rows[0]["state"] == "acknowledged"; });
  CHECK(h[0]["attempts"] == 1);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);

  auto c = s.wait_deliveries(
      c_id, [](const auto& rows) { return !rows.empty() && rows[0]["state"] == "acknowledged"; });
  CHECK(c[0]["attempts"] == 2); // the cut answer did not count
  CHECK(cut.received().size() == 2);

  auto w = s.wait_deliveries(
      w_id, [](const auto& rows) { return !rows.empty() && rows[0]["state"] == "acknowledged"; },
      20s);
  CHECK(w[0]["attempts"] == 1);
  CHECK(slow.received().size() == 1);
}

TEST_CASE("a receiver that never answers costs its own slots only") {
  Setup s;
  std::atomic<int> open{0};
  std::atomic<int> most{0};
  Receiver* dead_ptr = nullptr;
  Receiver dead([&](const httplib::Request&, httplib::Response& res, int) {
    int now = ++open;
    most = std::max(most.load(), now);
    while (dead_ptr == nullptr || !dead_ptr->stopping) std::this_thread::sleep_for(20ms);
    --open;
    res.status = 500;
  });
  dead_ptr = &dead;
  Receiver live(ok);
  s.add_hook(dead.url(), {"--events", "message.received"});
  s.add_hook(live.url(), {"--events", "message.received"});
  std::this_thread::sleep_for(1200ms);
  for (int i = 0; i < 40; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    s.customer_writes(fmt::format("1555000{:04}", i));
    CHECK(std::chrono::steady_clock::now() - t0 < 1s); // intake does not wait for hooks
  }
  CHECK(live.wait_for(40, 10s));
  CHECK(live.received().size() == 40);
  CHECK(most == 32); // the dead hook's bound, reached and held
  CHECK(s.daemon->client().Get("/healthz")->status == 200);
  dead.stopping = true;
}

TEST_CASE("every address a hook connects to is checked when it connects") {
  Setup s;
  Receiver recv(ok);
  // Added while the name was allowed to reach a private address; the rows now say it may
  // not (as a hook whose public name was repointed at this machine after it was added).
  auto id = s.add_hook(recv.url(), {"--events", "message.received"}).first;
  {
    auto raw = testsupport::raw_db(s.w.db);
    raw.exec("UPDATE hooks SET allow_private = 0");
  }
  std::this_thread::sleep_for(1200ms);
  s.customer_writes("15550000001");
  auto d = s.wait_deliveries(
      id, [](const auto& rows) { return !rows.empty() && rows[0]["attempts"] >= 1; });
  CHECK(d[0]["state"] == "pending");
  CHECK(d[0]["last_status"].is_null());
  CHECK(d[0]["last_error"] == "refused to connect to 127.0.0.1: a loopback address");
  CHECK(recv.received().empty());
}

TEST_CASE("kill -9 of serve with deliveries pending loses none of them") {
  Setup s;
  const int port = testsupport::free_port(); // nobody listens yet: connections are refused
  auto id =
      s.add_hook(fmt::format("http://127.0.0.1:{}/in", port), {"--events", "message.received"})
          .first;
  std::this_thread::sleep_for(1200ms);
  std::map<std::string, std::vector<std::int64_t>> sent;
  for (int i = 0; i < 12; ++i) {
    std::string from = fmt::format("155500000{}", i % 3);
    sent[from].push_back(s.customer_writes(from));
  }
  s.wait_deliveries(id, [](const auto& rows) {
    int tried = 0;
    for (const auto& one : rows) tried += one["attempts"] >= 1 ? 1 : 0;
    return rows.size() == 12 && tried == 3; // one head per conversation tried, the rest waiting
  });
  s.daemon->stop(SIGKILL);

  Receiver recv(ok, port);
  s.daemon->start();
  REQUIRE(recv.wait_for(12, 20s));
  std::this_thread::sleep_for(300ms);
  auto got = recv.received();
  CHECK(got.size() == 12);
  std::map<std::string, std::vector<std::int64_t>> by_conversation;
  for (const auto& r : got) {
    json body = json::parse(r.body);
    by_conversation[body["message"]["phone_number"]].push_back(id_of(r));
  }
  CHECK(by_conversation == sent);
}

TEST_CASE("a hook failing for 72 hours is disabled with an event, and a good test enables it") {
  Setup s;
  std::atomic<bool> healthy{false};
  Receiver recv([&](const httplib::Request&, httplib::Response& res, int) {
    res.status = healthy ? 200 : 500;
  });
  Receiver watcher(ok); // another hook of the tenant, which hears of it
  auto id = s.add_hook(recv.url(), {"--events", "message.received"}).first;
  s.add_hook(watcher.url(), {"--events", "hook.disabled"});
  std::this_thread::sleep_for(1200ms);
  s.customer_writes("15550000001");
  s.wait_deliveries(id, [](const auto& rows) { return !rows.empty() && rows[0]["attempts"] >= 1; });
  {
    // Seventy-three hours pass.
    auto raw = testsupport::raw_db(s.w.db);
    const std::int64_t shift = 73LL * 3600 * 1000;
    raw.exec(fmt::format("UPDATE hook_deliveries SET first_attempt_at = first_attempt_at - {0}, "
                         "next_attempt_at = next_attempt_at - {0}",
                         shift));
    raw.exec(fmt::format("UPDATE hooks SET failing_since = failing_since - {}", shift));
  }
  auto d = s.wait_deliveries(
      id, [](const auto& rows) { return !rows.empty() && rows[0]["state"] == "failed"; });
  CHECK(s.deliveries(id, true).size() == 1);

  auto list = s.w({"--json", "hook", "list", "--tenant", "acme"});
  REQUIRE(list.exit_code == 0);
  CHECK(list.out.find(R"("state":"disabled")") != std::string::npos);
  REQUIRE(watcher.wait_for(1));
  json event = json::parse(watcher.received()[0].body);
  CHECK(event["type"] == "hook.disabled");
  CHECK(event["hook"]["id"] == id);

  auto m = s.daemon->client().Get("/metrics");
  REQUIRE(m);
  CHECK(m->body.find("wabactl_hooks_disabled_total 1") != std::string::npos);
  CHECK(m->body.find("wabactl_hook_deliveries_total{result=\"failed\"} 1") != std::string::npos);

  // A test that fails leaves it disabled (exit 5: the receiver answered no); one that
  // succeeds enables it.
  auto failed = s.w({"hook", "test", "--tenant", "acme", id});
  CHECK(failed.exit_code == 5);
  CHECK(failed.err.find("HTTP 500") != std::string::npos);
  healthy = true;
  auto passed = s.w({"hook", "test", "--tenant", "acme", id});
  INFO(passed.err);
  CHECK(passed.exit_code == 0);
  CHECK(passed.out.find("acknowledged event") != std::string::npos);
  list = s.w({"--json", "hook", "list", "--tenant", "acme"});
  CHECK(list.out.find(R"("state":"disabled")") == std::string::npos);
  // The test event went to that hook alone, once, and is not forwarded again.
  std::this_thread::sleep_for(1500ms);
  int tests = 0;
  for (const auto& r : recv.received()) tests += json::parse(r.body)["type"] == "hook.test";
  CHECK(tests == 2);
}

TEST_CASE("the hook REST routes: a tenant's own hooks, never private receivers") {
  Setup s;
  auto token_for = [&](const std::string& tenant) {
    auto r = s.w({"token", "create", "--tenant", tenant});
    REQUIRE(r.exit_code == 0);
    return r.out.substr(0, r.out.find('\n'));
  };
  std::string acme = token_for("acme");
  std::string globex = token_for("globex");
  auto c = s.daemon->client();
  auto auth = [](const std::string& t) {
    return httplib::Headers{{"Authorization", "Bearer " + t}};
  };
  auto post = [&](const std::string& token, const std::string& body) {
    auto r = c.Post("/api/whatsapp/hooks", auth(token), body, "application/json");
    REQUIRE(r);
    return std::make_pair(r->status, r->body);
  };

  for (const std::string& bad :
       {std::string(R"({"url":"http://127.0.0.1:9/in"})"),
        std::string(R"({"url":"http://169.254.169.254/latest"})"),
        std::string(R"({"url":"https://hooks.example.com/in","allow_private":true})"),
        std::string(R"({"url":"https://hooks.example.com/in","events":["message.deleted"]})"),
        std::string(R"({"url":"https://hooks.example.com/in","events":[]})"),
        std::string(R"({"url":"https://hooks.example.com/in","events":[1]})"),
        std::string(R"({"url":"ftp://hooks.example.com/in"})"), std::string(R"({"url":42})"),
        std::string(R"({"events":["message.sent"]})"), std::string("not json"), std::string("[]"),
        std::string()}) {
    CAPTURE(bad);
    auto [status, body] = post(acme, bad);
    CHECK(status == 400);
    CHECK(json::parse(body)["error"]["code"] == "bad_request");
  }

  auto [status, body] =
      post(acme, R"({"url":"https://hooks.example.com/in","events":["message.received"]})");
  REQUIRE(status == 201);
  json added = json::parse(body);
  CHECK(added["secret"].get<std::string>().starts_with("whsec_"));
  CHECK(added["allow_private"] == false);
  CHECK(added["events"] == json::array({"message.received"}));
  std::string id = added["id"];

  auto list = c.Get("/api/whatsapp/hooks", auth(acme));
  REQUIRE(list);
  CHECK(list->status == 200);
  json hooks = json::parse(list->body)["hooks"];
  REQUIRE(hooks.size() == 1);
  CHECK(hooks[0]["id"] == id);
  CHECK_FALSE(hooks[0].contains("secret"));
  CHECK(list->body.find(added["secret"].get<std::string>()) == std::string::npos);

  // Another tenant sees none of it.
  auto other = c.Get("/api/whatsapp/hooks", auth(globex));
  REQUIRE(other);
  CHECK(json::parse(other->body)["hooks"].empty());
  CHECK(c.Get("/api/whatsapp/hooks/" + id + "/deliveries", auth(globex))->status == 404);
  CHECK(c.Delete("/api/whatsapp/hooks/" + id, auth(globex))->status == 404);
  CHECK(c.Get("/api/whatsapp/hooks", httplib::Headers{})->status == 401);

  auto deliveries =
      c.Get("/api/whatsapp/hooks/" + id + "/deliveries?failed=true&limit=5", auth(acme));
  REQUIRE(deliveries);
  CHECK(deliveries->status == 200);
  CHECK(json::parse(deliveries->body)["deliveries"].empty());
  CHECK(c.Get("/api/whatsapp/hooks/" + id + "/deliveries?limit=0", auth(acme))->status == 400);
  CHECK(c.Get("/api/whatsapp/hooks/" + id + "/deliveries?failed=maybe", auth(acme))->status == 400);

  auto removed = c.Delete("/api/whatsapp/hooks/" + id, auth(acme));
  REQUIRE(removed);
  CHECK(removed->status == 200);
  CHECK(c.Delete("/api/whatsapp/hooks/" + id, auth(acme))->status == 404);
}

TEST_CASE("hook commands refuse bad input with a clear error and change nothing") {
  Setup s(false);
  Receiver recv([](const httplib::Request&, httplib::Response& res, int) { res.status = 500; });
  auto [id, secret] = s.add_hook(recv.url());
  auto other = s.add_hook(recv.url(), {}, "globex").first;

  struct Case {
    std::vector<std::string> args;
    int exit;
    const char* says;
  };
  const Case cases[] = {
      {{"hook", "add", "--tenant", "acme", "--url", ""}, 2, "empty"},
      {{"hook", "add", "--tenant", "acme", "--url", "http://127.0.0.1:1/x"}, 2, "loopback"},
      {{"hook", "add", "--tenant", "acme", "--url", "http://[::1]:1/x"}, 2, "loopback"},
      {{"hook", "add", "--tenant", "acme", "--url", "http://10.0.0.1/x"}, 2, "RFC 1918"},
      {{"hook", "add", "--tenant", "acme", "--url", "https://x.example/" + std::string(3000, 'a')},
       2,
       "longer"},
      {{"hook", "add", "--tenant", "acme", "--url", "https://a:b@x.example/"}, 2, "user info"},
      {{"hook", "add", "--tenant", "acme", "--url", "https://x.example/", "--events", "nope"},
       2,
       "unknown event type"},
      {{"hook", "add", "--tenant", "nobody", "--url", "https://x.example/"}, 3, "nobody"},
      {{"hook", "remove", "--tenant", "acme", other}, 3, "no hook"},
      {{"hook", "test", "--tenant", "acme", other}, 3, "no hook"},
      {{"hook", "deliveries", "--tenant", "acme", other}, 3, "no hook"},
      {{"hook", "deliveries", "--tenant", "acme", "hk_" + std::string(500, 'f')}, 3, "no hook"},
      {{"hook", "deliveries", "--tenant", "acme", id, "--limit", "0"}, 2, "--limit"},
      {{"hook", "deliveries", "--tenant", "acme", id, "--limit", "5000"}, 2, "--limit"},
      {{"hook", "list", "--tenant", "bad tenant!"}, 2, "tenant"},
  };
  for (const auto& c : cases) {
    CAPTURE(fmt::format("{}", fmt::join(c.args, " ")));
    auto r = s.w(c.args);
    CHECK(r.exit_code == c.exit);
    CHECK(r.err.find(c.says) != std::string::npos);
  }
  auto list = s.w({"--json", "hook", "list", "--tenant", "acme"});
  CHECK(std::count(list.out.begin(), list.out.end(), '\n') == 1);
  CHECK(s.w({"--json", "hook", "list", "--tenant", "globex"}).out.find(other) != std::string::npos);

  // A receiver that answers no: exit 5 with its status; none at all: exit 75.
  auto no = s.w({"hook", "test", "--tenant", "acme", id});
  CHECK(no.exit_code == 5);
  CHECK(no.err.find("HTTP 500") != std::string::npos);
  auto gone = s.add_hook(fmt::format("http://127.0.0.1:{}/in", testsupport::free_port())).first;
  auto none = s.w({"hook", "test", "--tenant", "acme", gone});
  CHECK(none.exit_code == 75);
  // The secret is in no argv, log or listing, only in add's answer.
  CHECK(s.w({"hook", "list", "--tenant", "acme"}).out.find(secret) == std::string::npos);
  CHECK(s.w({"hook", "remove", "--tenant", "acme", id}).exit_code == 0);
  CHECK(s.w({"hook", "remove", "--tenant", "acme", id}).exit_code == 3);
}
