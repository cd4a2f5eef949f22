#include "integration/test_stream_support.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>

#include <chrono>

using streamtest::Setup;
using streamtest::SseClient;

namespace {

std::string target(const Setup& s, const std::string& query = {}) {
  return "/api/whatsapp/events?access_token=" + s.acme_token + query;
}

} // namespace

TEST_CASE("SSE: headers and ': connected' come at once, then live events of the tenant only") {
  Setup s;
  SseClient c(s.daemon->port(), target(s));
  std::string head = c.head();
  REQUIRE(servetest::status_of(head) == 200);
  CHECK(head.find("Content-Type: text/event-stream") != std::string::npos);
  auto first = c.next();
  REQUIRE(first);
  CHECK(first->type == "comment");
  CHECK(first->data == "connected");
  // It carries the stream's position, so a client dropped before any event resumes there.
  std::int64_t position = 0;
  {
    SQLite::Database db(s.w.db.string());
    position = db.execAndGet("SELECT max(coalesce((SELECT max(id) FROM events), 0), "
                             "coalesce((SELECT CAST(value AS INTEGER) FROM settings "
                             "WHERE name = 'events.high_water'), 0))")
                   .getInt64();
  }
  CHECK(first->id == std::to_string(position));

  s.inbound("wamid.G1", "for globex", true);
  s.inbound("wamid.A1", "for acme");
  auto e = c.event();
  REQUIRE(e);
  CHECK(e->type == "message.received");
  auto j = e->json();
  CHECK(j["tenant_id"] == "acme");
  CHECK(j["message"]["message_id"] == "wamid.A1");
  CHECK(e->id == std::to_string(j["id"].get<long>()));
  // Every later event is acme's too (the unread.changed of the same delivery).
  while (auto more = c.event(500)) CHECK(more->json()["tenant_id"] == "acme");
}

TEST_CASE("SSE: Last-Event-ID replays every later event first, then live ones") {
  Setup s;
  s.inbound("wamid.R1", "one");
  s.inbound("wamid.R2", "two");
  s.inbound("wamid.R3", "three");
  // All of acme's events so far, from a replay from 0.
  std::vector<long> ids;
  {
    SseClient all(s.daemon->port(), target(s, "&last_event_id=0"));
    REQUIRE(all.status() == 200);
    while (auto e = all.event(1000)) ids.push_back(std::stol(e->id));
  }
  REQUIRE(ids.size() >= 3);
  for (std::size_t i = 1; i < ids.size(); ++i) CHECK(ids[i] > ids[i - 1]);

  // Resume after the first: the header form.
  SseClient c(
      s.daemon->port(), "/api/whatsapp/events",
      fmt::format("Authorization: Bearer {}\r\nLast-Event-ID: {}\r\n", s.acme_token, ids[0]));
  REQUIRE(c.status() == 200);
  for (std::size_t i = 1; i < ids.size(); ++i) {
    auto e = c.event();
    REQUIRE(e);
    CHECK(std::stol(e->id) == ids[i]);
  }
  s.inbound("wamid.R4", "four");
  auto live = c.event();
  REQUIRE(live);
  CHECK(std::stol(live->id) > ids.back());
  CHECK(live->json()["message"]["message_id"] == "wamid.R4");
}

TEST_CASE(
    "SSE: an event written by another wabactl process reaches a live client within a second") {
  Setup s;
  s.inbound("wamid.X1", "unread one");
  SseClient c(s.daemon->port(), target(s));
  REQUIRE(c.status() == 200);
  REQUIRE(c.next());
  // mark-read runs as its own process on the same database.
  auto r = s.w({"mark-read", "--tenant", "acme", "--all", "--no-receipt"});
  REQUIRE(r.exit_code == 0);
  auto done = std::chrono::steady_clock::now();
  auto e = c.event(1000);
  REQUIRE(e);
  CHECK(std::chrono::steady_clock::now() - done < std::chrono::seconds(1));
  CHECK(e->type == "unread.changed");
  CHECK(e->json()["unread"] == 0);
}

TEST_CASE("SSE: beyond a tenant's share and the cap new streams get 503, webhooks still answer") {
  // 8 slots, 1 kept for tenants holding none: acme alone gets 7, globex still gets in.
  Setup s({"--max-streams", "8"});
  std::vector<std::unique_ptr<SseClient>> streams;
  for (int i = 0; i < 7; ++i) {
    streams.push_back(std::make_unique<SseClient>(s.daemon->port(), target(s)));
    REQUIRE(streams.back()->status() == 200);
  }
  auto refused = [&](const std::string& token) {
    SseClient over(s.daemon->port(), "/api/whatsapp/events?access_token=" + token);
    std::string head = over.head();
    CHECK(head.find("Retry-After") != std::string::npos);
    return servetest::status_of(head) == 503;
  };
  CHECK(refused(s.acme_token));
  SseClient globex(s.daemon->port(), "/api/whatsapp/events?access_token=" + s.globex_token);
  REQUIRE(globex.status() == 200);
  CHECK(refused(s.globex_token));
  s.inbound("wamid.CAP", "still answered");
  for (auto& st : streams) {
    auto e = st->event();
    REQUIRE(e);
    CHECK(e->json()["message"]["message_id"] == "wamid.CAP");
  }
}

TEST_CASE("SSE: a closed client's slot is free within a second, without any event") {
  // 2 slots: one for acme, one kept for another tenant.
  Setup s({"--max-streams", "2"});
  SseClient first(s.daemon->port(), target(s));
  REQUIRE(first.status() == 200);
  {
    SseClient over(s.daemon->port(), target(s));
    REQUIRE(servetest::status_of(over.head()) == 503);
  }
  first.close();
  auto closed = std::chrono::steady_clock::now();
  bool reopened = false;
  while (!reopened && std::chrono::steady_clock::now() - closed < std::chrono::seconds(1)) {
    SseClient again(s.daemon->port(), target(s));
    reopened = again.status() == 200;
    if (!reopened) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(reopened);
}

TEST_CASE("SSE: the daemon stops promptly with streams open") {
  Setup s;
  SseClient c(s.daemon->port(), target(s));
  REQUIRE(c.status() == 200);
  SseClient other(s.daemon->port(), "/api/whatsapp/events?access_token=" + s.globex_token);
  REQUIRE(other.status() == 200);
  int ws = streamtest::ws_connect(s.ws_port, s.acme_token);
  REQUIRE(servetest::status_of(streamtest::first_bytes(ws)) == 101);
  // An idle daemon with these streams exits in well under 0.5 s after SIGTERM; 5 s leaves
  // room for a loaded machine, and a stop that waits for the streams to end on their own
  // (they never do) fails.
  const auto bound = std::chrono::seconds(5);
  auto start = std::chrono::steady_clock::now();
  CHECK(s.daemon->stop(SIGTERM, bound) == 0);
  auto took = std::chrono::steady_clock::now() - start;
  CAPTURE(std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
  CHECK(took < bound);
  ::close(ws);
}
