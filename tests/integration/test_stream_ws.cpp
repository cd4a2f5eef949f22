// The WebSocket stream against a real client: Node's `ws` package (tests/node). The Node
// part is skipped only when node is not installed; `npm ci --prefix tests/node` installs ws.
#include "integration/test_stream_support.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>

#include <sstream>

using nlohmann::json;
using streamtest::Setup;

namespace {

std::filesystem::path node_dir() {
  return std::filesystem::path(WABACTL_SOURCE_DIR) / "tests/node";
}

// Runs the Node client; returns its JSON lines.
std::vector<json> run_client(const Setup& s, const std::filesystem::path& node,
                             const std::vector<std::string>& args) {
  std::vector<std::string> argv = {(node_dir() / "ws_client.mjs").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = testsupport::run_program(node.string(), argv, s.w.env);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::vector<json> lines;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  return lines;
}

std::string ws_url(const Setup& s, const std::string& query = {}) {
  return fmt::format("ws://127.0.0.1:{}/api/whatsapp/ws{}", s.ws_port, query);
}

} // namespace

TEST_CASE("WebSocket with Node's ws client: resume, live events from another process, pings") {
  auto node = testsupport::find_program("node");
  if (!node) {
    testsupport::skip("node is not installed: the WebSocket client tests did not run");
    return;
  }
  REQUIRE_MESSAGE(std::filesystem::exists(node_dir() / "node_modules/ws"),
                  "run 'npm ci --prefix tests/node' to install the ws package");
  Setup s;
  s.inbound("wamid.W1", "one");
  s.inbound("wamid.W2", "two", true);
  s.inbound("wamid.W3", "three");

  // Resume from 0 replays every one of acme's events.
  long total = 0;
  {
    SQLite::Database db(s.w.db.string());
    total = db.execAndGet("SELECT count(*) FROM events WHERE tenant_id = 'acme'").getInt();
  }
  REQUIRE(total >= 4);
  std::vector<long> replayed;
  {
    auto lines = run_client(s, *node,
                            {"events", ws_url(s, "?last_event_id=0&access_token=" + s.acme_token),
                             "--count", std::to_string(total)});
    for (const auto& l : lines) {
      REQUIRE(l.contains("event"));
      CHECK(l["event"]["tenant_id"] == "acme");
      replayed.push_back(l["event"]["id"].get<long>());
    }
  }
  REQUIRE(replayed.size() == static_cast<std::size_t>(total));
  for (std::size_t i = 1; i < replayed.size(); ++i) CHECK(replayed[i] > replayed[i - 1]);

  // Resume before the last two; after them another wabactl process marks everything read
  // and its unread.changed event arrives live.
  std::size_t n = replayed.size();
  json then = {WABACTL_BINARY, "mark-read", "--tenant", "acme", "--all", "--no-receipt"};
  auto lines =
      run_client(s, *node,
                 {"events", ws_url(s, fmt::format("?last_event_id={}", replayed[n - 3])), "--token",
                  s.acme_token, "--count", "3", "--then-after", "2", "--then", then.dump()});
  std::vector<json> events;
  for (const auto& l : lines) {
    if (l.contains("event")) events.push_back(l["event"]);
  }
  REQUIRE(events.size() == 3);
  CHECK(events[0]["id"] == replayed[n - 2]);
  CHECK(events[1]["id"] == replayed[n - 1]);
  CHECK(events[2]["type"] == "unread.changed");
  CHECK(events[2]["unread"] == 0);
  CHECK(events[2]["tenant_id"] == "acme");

  auto pong = run_client(s, *node, {"ping", ws_url(s), "--token", s.acme_token});
  REQUIRE(pong.size() == 1);
  CHECK(pong[0]["pong"] == "hello");
  auto frag = run_client(s, *node, {"fragment", ws_url(s), "--token", s.acme_token});
  REQUIRE(frag.size() == 1);
  CHECK(frag[0]["pong"] == "after-fragments");
  auto big = run_client(s, *node, {"oversize", ws_url(s), "--token", s.acme_token});
  REQUIRE(big.size() == 1);
  CHECK(big[0]["close"] == 1009);
  auto refused = run_client(s, *node, {"handshake", ws_url(s), "--token", "wbt_wrong"});
  REQUIRE(refused.size() == 1);
  CHECK(refused[0]["status"] == 401);
  auto other = run_client(s, *node, {"handshake", ws_url(s, "?access_token=")});
  CHECK(other[0]["status"] == 401);
  // Refused handshakes on the WebSocket port are logged and counted like the others.
  CHECK(s.daemon->log().find("stream request refused: 401 the API token is invalid or revoked "
                             "(token) from 127.0.0.1") != std::string::npos);
  auto metrics = s.daemon->client().Get("/metrics");
  REQUIRE(metrics);
  CHECK(
      metrics->body.find("wabactl_requests_refused_total{route=\"stream\",reason=\"token\"} 1\n") !=
      std::string::npos);
  CHECK(metrics->body.find(
            "wabactl_requests_refused_total{route=\"stream\",reason=\"no_token\"} 1\n") !=
        std::string::npos);
}
