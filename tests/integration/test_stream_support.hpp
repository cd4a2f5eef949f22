#pragma once
// Helpers for the API and stream tests: a daemon with two tenants (configs, tokens), and
// a raw Server-Sent Events client that decodes the chunked stream event by event.

#include "integration/test_serve_support.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace streamtest {

/// Tenants acme and globex with configs, a token for each, and a running daemon (HTTP and
/// WebSocket on ports of the kernel's choice).
struct Setup {
  testsupport::TempDir dir;
  testsupport::Wabactl w{dir};
  std::string acme_token;
  std::string acme_token_id;
  std::string globex_token;
  int ws_port = 0;
  std::unique_ptr<servetest::Daemon> daemon;

  explicit Setup(std::vector<std::string> serve_args = {}, const std::string& graph_url = {}) {
    REQUIRE(w({"key", "init"}).exit_code == 0);
    fixtures::add_tenant_config(w, dir, fixtures::acme, graph_url);
    fixtures::add_tenant_config(w, dir, fixtures::globex, graph_url);
    auto a = w({"--json", "token", "create", "--tenant", "acme", "--label", "tests"});
    REQUIRE(a.exit_code == 0);
    auto aj = nlohmann::json::parse(a.out);
    acme_token = aj["token"];
    acme_token_id = aj["id"];
    auto g = w({"token", "create", "--tenant", "globex"});
    REQUIRE(g.exit_code == 0);
    globex_token = g.out.substr(0, g.out.find('\n'));
    daemon = std::make_unique<servetest::Daemon>(w, dir, serve_args);
    // The daemon listens for WebSocket on a port of the kernel's choice and logs it.
    std::string log = daemon->log();
    const std::string marker = "WebSocket listening on ws://127.0.0.1:";
    auto at = log.find(marker);
    REQUIRE_MESSAGE(at != std::string::npos, log);
    ws_port = std::stoi(log.substr(at + marker.size()));
  }

  /// Delivers one inbound text message for acme (or globex) through the signed webhook.
  void inbound(const std::string& wamid, const std::string& text, bool globex = false,
               const std::string& from = "15551234567", long ts = 1764000000) {
    const auto& tenant = globex ? fixtures::globex : fixtures::acme;
    auto body = servetest::inbound(tenant.phone_number_id, from, wamid, text, ts);
    auto r = daemon->post("/api/whatsapp/webhook", body, tenant.app_secret);
    REQUIRE(r);
    REQUIRE(r->status == 200);
  }

  /// A request with `token` as bearer (none when empty).
  httplib::Result request(const std::string& method, const std::string& path,
                          const std::string& token, const std::string& body = {}) const {
    auto c = daemon->client();
    httplib::Headers h;
    if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
    if (method == "GET") return c.Get(path, h);
    if (method == "DELETE") return c.Delete(path, h);
    return c.Post(path, h, body, "application/json");
  }
};

/// A new connection to `port` that has asked for a WebSocket with `token`; the caller
/// closes it.
inline int ws_connect(int port, const std::string& token) {
  int fd = testsupport::connect_loopback(port);
  std::string req =
      "GET /api/whatsapp/ws?access_token=" + token +
      " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  REQUIRE(::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
  return fd;
}

/// What the server sends first on `fd` within `timeout_ms` (a response head, perhaps more),
/// empty when nothing came.
inline std::string first_bytes(int fd, int timeout_ms = 5000) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return {};
  char buf[4096];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

/// One SSE event as received.
struct SseEvent {
  std::string id;
  std::string type;
  std::string data;
  nlohmann::json json() const { return nlohmann::json::parse(data); }
};

/// A raw SSE client: sends the request, checks the head, then decodes chunks and events.
class SseClient {
public:
  SseClient(int port, const std::string& target, const std::string& extra_headers = {}) {
    fd_ = testsupport::connect_loopback(port);
    std::string req =
        fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                    "{}\r\n",
                    target, extra_headers);
    REQUIRE(::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
  }
  ~SseClient() { close(); }
  SseClient(const SseClient&) = delete;
  SseClient& operator=(const SseClient&) = delete;

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  /// The response head; empty when none arrived in time.
  std::string head(int timeout_ms = 5000) {
    while (raw_.find("\r\n\r\n") == std::string::npos) {
      if (!fill(timeout_ms)) return {};
    }
    std::size_t end = raw_.find("\r\n\r\n") + 4;
    std::string h = raw_.substr(0, end);
    raw_.erase(0, end);
    return h;
  }
  int status() {
    std::string h = head();
    return servetest::status_of(h);
  }

  /// The next complete SSE block (comments included as type "comment"), or nullopt.
  std::optional<SseEvent> next(int timeout_ms = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      decode_chunks();
      std::size_t end = body_.find("\n\n");
      if (end != std::string::npos) {
        std::string block = body_.substr(0, end);
        body_.erase(0, end + 2);
        SseEvent e;
        std::size_t pos = 0;
        while (pos <= block.size()) {
          std::size_t nl = block.find('\n', pos);
          std::string line =
              block.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
          if (line.rfind(": ", 0) == 0) {
            e.type = "comment";
            e.data = line.substr(2);
          } else if (line.rfind("id: ", 0) == 0) {
            e.id = line.substr(4);
          } else if (line.rfind("event: ", 0) == 0) {
            e.type = line.substr(7);
          } else if (line.rfind("data: ", 0) == 0) {
            e.data = line.substr(6);
          }
          if (nl == std::string::npos) break;
          pos = nl + 1;
        }
        return e;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0 || !fill(static_cast<int>(left))) return std::nullopt;
    }
  }

  /// The next real event (comments skipped), or nullopt.
  std::optional<SseEvent> event(int timeout_ms = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) return std::nullopt;
      auto e = next(static_cast<int>(left));
      if (!e || e->type != "comment") return e;
    }
  }

  /// Whether the server ends the stream (the last chunk, then its side closed) within
  /// `timeout_ms`; events before the end are skipped.
  bool ended(int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return raw_.find("0\r\n\r\n") != std::string::npos;
      raw_.append(buf, static_cast<std::size_t>(n));
    }
  }

private:
  bool fill(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    raw_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  void decode_chunks() {
    for (;;) {
      std::size_t eol = raw_.find("\r\n");
      if (eol == std::string::npos) return;
      std::size_t size = std::stoul(raw_.substr(0, eol), nullptr, 16);
      if (raw_.size() < eol + 2 + size + 2) return;
      body_ += raw_.substr(eol + 2, size);
      raw_.erase(0, eol + 2 + size + 2);
    }
  }

  int fd_ = -1;
  std::string raw_;
  std::string body_;
};

} // namespace streamtest
