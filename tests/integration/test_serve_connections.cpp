// The daemon's connection rules under hostile clients: slow request heads, many
// connections from one address, and streams whose token is revoked.
#include "integration/test_stream_support.hpp"
#include "support/signing.hpp"

#include <sys/resource.h>

#include <thread>

namespace {

using streamtest::Setup;
using streamtest::SseClient;

void send_all(int fd, const std::string& s) {
  REQUIRE(::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()));
}

// What the server sends until it closes the connection or `timeout_ms` passes; `closed`
// tells which.
std::string read_until_close(int fd, int timeout_ms, bool& closed) {
  std::string out;
  closed = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return out;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return out;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      closed = true;
      return out;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
}

// GET /healthz on a new connection from `source`, with a one-second budget.
int healthz_from(const char* source, int port) {
  int fd = testsupport::connect_loopback(port, source);
  send_all(fd, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  bool closed = false;
  std::string out = read_until_close(fd, 1000, closed);
  ::close(fd);
  return servetest::status_of(out);
}

const std::string slow_head = "POST /api/whatsapp/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n";

// The connections the daemon holds, read from /metrics on a connection from 127.0.0.2
// (which counts itself).
int held_connections(int port) {
  int m = testsupport::connect_loopback(port, "127.0.0.2");
  send_all(m, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  bool closed = false;
  std::string metrics = read_until_close(m, 5000, closed);
  ::close(m);
  auto at = metrics.find("\nwabactl_http_connections ");
  REQUIRE(at != std::string::npos);
  return std::stoi(metrics.substr(at + 26));
}

// Waits until the daemon has seen every earlier connection close (the start-up's health
// checks), so that a per-address count starts from nothing.
void wait_until_idle(int port) {
  for (int i = 0; i < 100 && held_connections(port) > 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(held_connections(port) == 1);
}

} // namespace

TEST_CASE("serve: 1,500 slow request heads from one address leave /healthz and webhooks "
          "answering") {
  // 1,500 descriptors here too: the soft limit is often 1,024.
  rlimit r{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &r) == 0);
  if (r.rlim_cur < 4096 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = std::min<rlim_t>(r.rlim_max, 4096);
    ::setrlimit(RLIMIT_NOFILE, &r);
  }
  Setup s({"--max-connections-per-address", "2000"});
  std::vector<int> flood;
  for (int i = 0; i < 1500; ++i) {
    flood.push_back(testsupport::connect_loopback(s.daemon->port(), "127.0.0.1"));
    send_all(flood.back(), slow_head);
  }
  CHECK(healthz_from("127.0.0.2", s.daemon->port()) == 200);
  CHECK(healthz_from("127.0.0.1", s.daemon->port()) == 200);
  s.inbound("wamid.FLOOD", "still answered");
  for (int fd : flood) ::close(fd);
}

TEST_CASE("serve: a request head must arrive within --head-timeout, even byte by byte") {
  Setup s({"--head-timeout", "1"});
  int trickle = testsupport::connect_loopback(s.daemon->port(), "127.0.0.1");
  int silent = testsupport::connect_loopback(s.daemon->port(), "127.0.0.1");
  bool refused = false;
  std::string answer;
  // One byte every 200 ms: each read is quick, the head as a whole is late.
  for (std::size_t i = 0; i < slow_head.size() && !refused; ++i) {
    if (::send(trickle, &slow_head[i], 1, MSG_NOSIGNAL) != 1) break;
    pollfd p{trickle, POLLIN, 0};
    if (::poll(&p, 1, 200) > 0) refused = true;
  }
  bool closed = false;
  answer = read_until_close(trickle, 5000, closed);
  CHECK(servetest::status_of(answer) == 408);
  CHECK(closed);
  read_until_close(silent, 5000, closed);
  CHECK(closed);
  ::close(trickle);
  ::close(silent);
  // A request that arrives in time is served.
  CHECK(healthz_from("127.0.0.1", s.daemon->port()) == 200);
  // The refusal is logged with its reason and address.
  CHECK(s.daemon->log().find("connection request refused: 408 the request did not arrive in "
                             "time (timeout) from 127.0.0.1") != std::string::npos);
}

TEST_CASE("serve: --max-connections-per-address refuses more from one address only") {
  Setup s({"--max-connections-per-address", "3"});
  wait_until_idle(s.daemon->port());
  std::vector<int> held;
  for (int i = 0; i < 3; ++i)
    held.push_back(testsupport::connect_loopback(s.daemon->port(), "127.0.0.1"));
  int over = testsupport::connect_loopback(s.daemon->port(), "127.0.0.1");
  bool closed = false;
  std::string answer = read_until_close(over, 5000, closed);
  CHECK(servetest::status_of(answer) == 503);
  CHECK(answer.find("Retry-After: 5") != std::string::npos);
  CHECK(closed);
  ::close(over);
  CHECK(healthz_from("127.0.0.2", s.daemon->port()) == 200);
  {
    int m = testsupport::connect_loopback(s.daemon->port(), "127.0.0.2");
    send_all(m, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    std::string metrics = read_until_close(m, 5000, closed);
    ::close(m);
    auto at = metrics.find("\nwabactl_http_connections ");
    REQUIRE(at != std::string::npos);
    CHECK(std::stoi(metrics.substr(at + 26)) >= 4); // the three held and this one
    CHECK(metrics.find("wabactl_requests_refused_total{route=\"connection\",reason="
                       "\"connections\"} 1\n") != std::string::npos);
  }
  CHECK(s.daemon->log().find("connection request refused: 503 too many connections from this "
                             "address (connections) from 127.0.0.1") != std::string::npos);
  // A held connection is served, and closing one makes room.
  send_all(held[0], "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  CHECK(servetest::status_of(read_until_close(held[0], 5000, closed)) == 200);
  ::close(held[0]);
  int status = 0;
  for (int i = 0; i < 50 && status != 200; ++i) {
    status = healthz_from("127.0.0.1", s.daemon->port());
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(status == 200);
  for (std::size_t i = 1; i < held.size(); ++i) ::close(held[i]);
}

TEST_CASE("serve: keep-alive and pipelined requests are served on one connection") {
  Setup s;
  int fd = testsupport::connect_loopback(s.daemon->port(), "127.0.0.1");
  const std::string get = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  send_all(fd, get + get);
  send_all(fd, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  bool closed = false;
  std::string out = read_until_close(fd, 5000, closed);
  ::close(fd);
  CHECK(closed);
  std::size_t answers = 0;
  for (auto at = out.find("HTTP/1.1 200"); at != std::string::npos;
       at = out.find("HTTP/1.1 200", at + 1)) {
    ++answers;
  }
  CHECK(answers == 3);
}

TEST_CASE("serve: a revoked token's SSE and WebSocket streams end at once") {
  Setup s;
  SseClient sse(s.daemon->port(), "/api/whatsapp/events?access_token=" + s.acme_token);
  REQUIRE(sse.status() == 200);
  SseClient other(s.daemon->port(), "/api/whatsapp/events?access_token=" + s.globex_token);
  REQUIRE(other.status() == 200);
  int ws = testsupport::connect_loopback(s.ws_port, "127.0.0.1");
  send_all(ws,
           "GET /api/whatsapp/ws?access_token=" + s.acme_token +
               " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  {
    pollfd p{ws, POLLIN, 0};
    REQUIRE(::poll(&p, 1, 5000) > 0);
    char buf[512];
    ssize_t n = ::recv(ws, buf, sizeof buf, 0);
    REQUIRE(n > 0);
    REQUIRE(std::string(buf, static_cast<std::size_t>(n)).rfind("HTTP/1.1 101", 0) == 0);
  }
  REQUIRE(s.w({"token", "revoke", "--tenant", "acme", s.acme_token_id}).exit_code == 0);
  CHECK(sse.ended(2000));
  bool closed = false;
  std::string frames = read_until_close(ws, 2000, closed);
  REQUIRE(frames.size() >= 4);
  CHECK(static_cast<unsigned char>(frames[0]) == 0x88); // a close frame
  CHECK(((static_cast<unsigned char>(frames[2]) << 8) | static_cast<unsigned char>(frames[3])) ==
        1008);
  ::close(ws);
  // Another tenant's stream goes on.
  s.inbound("wamid.GLOBEX", "still streaming", true);
  auto e = other.event();
  REQUIRE(e);
  CHECK(e->json()["message"]["message_id"] == "wamid.GLOBEX");
}

TEST_CASE("serve: the WebSocket answers on the HTTP port too, with its own checks") {
  Setup s;
  auto handshake = [&](const std::string& token) {
    int fd = testsupport::connect_loopback(s.daemon->port(), "127.0.0.1");
    send_all(
        fd, "GET /api/whatsapp/ws?access_token=" + token +
                " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    return fd;
  };
  int wrong = handshake("wbt_wrong");
  bool closed = false;
  CHECK(servetest::status_of(read_until_close(wrong, 5000, closed)) == 401);
  ::close(wrong);

  int ws = handshake(s.acme_token);
  std::string got;
  pollfd p{ws, POLLIN, 0};
  REQUIRE(::poll(&p, 1, 5000) > 0);
  char buf[4096];
  ssize_t n = ::recv(ws, buf, sizeof buf, 0);
  REQUIRE(n > 0);
  got.assign(buf, static_cast<std::size_t>(n));
  REQUIRE(got.rfind("HTTP/1.1 101", 0) == 0);
  CHECK(got.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != std::string::npos);
  s.inbound("wamid.HTTPWS", "over the HTTP port");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (got.find("wamid.HTTPWS") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    if (::poll(&p, 1, 500) <= 0) continue;
    n = ::recv(ws, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  CHECK(got.find("wamid.HTTPWS") != std::string::npos);
  ::close(ws);
}

TEST_CASE("serve: SSE and WebSocket streams share the slots and the tenants' shares") {
  // 2 slots: acme's SSE stream takes one, the other is kept for a tenant holding none.
  Setup s({"--max-streams", "2"});
  SseClient sse(s.daemon->port(), "/api/whatsapp/events?access_token=" + s.acme_token);
  REQUIRE(sse.status() == 200);
  auto upgrade = [&](const std::string& token) {
    int fd = testsupport::connect_loopback(s.ws_port, "127.0.0.1");
    send_all(
        fd, "GET /api/whatsapp/ws?access_token=" + token +
                " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    pollfd p{fd, POLLIN, 0};
    std::string head;
    if (::poll(&p, 1, 5000) > 0) {
      char buf[1024];
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) head.assign(buf, static_cast<std::size_t>(n));
    }
    return std::make_pair(fd, servetest::status_of(head));
  };
  auto [acme_ws, acme_status] = upgrade(s.acme_token);
  CHECK(acme_status == 503);
  ::close(acme_ws);
  auto [globex_ws, globex_status] = upgrade(s.globex_token);
  CHECK(globex_status == 101);
  // Every slot is taken now, whoever asks.
  SseClient over(s.daemon->port(), "/api/whatsapp/events?access_token=" + s.globex_token);
  CHECK(servetest::status_of(over.head()) == 503);
  ::close(globex_ws);
}

TEST_CASE("serve: Expect: 100-continue is answered before the body, which is then served") {
  Setup s;
  std::string body = servetest::inbound(fixtures::acme.phone_number_id, "15551234567",
                                        "wamid.EXPECT", "after 100", 1764000000);
  int fd = testsupport::connect_loopback(s.daemon->port(), "127.0.0.1");
  send_all(fd, fmt::format("POST /api/whatsapp/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Content-Type: application/json\r\nContent-Length: {}\r\n"
                           "X-Hub-Signature-256: {}\r\nExpect: 100-continue\r\n"
                           "Connection: close\r\n\r\n",
                           body.size(),
                           testsupport::signature_header(body, fixtures::acme.app_secret)));
  pollfd p{fd, POLLIN, 0};
  REQUIRE(::poll(&p, 1, 5000) > 0);
  char buf[256];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  REQUIRE(n > 0);
  CHECK(std::string(buf, static_cast<std::size_t>(n)) == "HTTP/1.1 100 Continue\r\n\r\n");
  send_all(fd, body);
  bool closed = false;
  CHECK(servetest::status_of(read_until_close(fd, 5000, closed)) == 200);
  ::close(fd);
}

TEST_CASE("serve: a request head that never ends within 64 KiB gets 431") {
  Setup s;
  int fd = testsupport::connect_loopback(s.daemon->port(), "127.0.0.1");
  std::string head = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  while (head.size() <= 70 * 1024) head += "X-Filler: " + std::string(100, 'x') + "\r\n";
  ::send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  bool closed = false;
  std::string answer = read_until_close(fd, 5000, closed);
  CHECK(servetest::status_of(answer) == 431);
  CHECK(closed);
  ::close(fd);
  CHECK(healthz_from("127.0.0.1", s.daemon->port()) == 200);
}
