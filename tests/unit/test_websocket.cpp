#include "server/websocket.hpp"
#include "support/support.hpp"
#include "wabactl/events.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/store.hpp"
#include "wabactl/tenants.hpp"
#include "wabactl/tokens.hpp"
#include "wabactl/util.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <mutex>

using namespace wabactl;
using namespace wabactl::ws;

namespace {

// A client frame: masked with a fixed key, FIN and opcode as given.
std::string client_frame(unsigned opcode, std::string_view payload, bool fin = true,
                         bool masked = true, unsigned rsv = 0) {
  std::string out;
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | rsv | opcode));
  unsigned char mask_bit = masked ? 0x80 : 0;
  std::uint64_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(mask_bit | n));
  } else if (n <= 0xffff) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xff));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((n >> (i * 8)) & 0xff));
  }
  const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
  if (masked) out.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < payload.size(); ++i) {
    out.push_back(masked ? static_cast<char>(static_cast<unsigned char>(payload[i]) ^ key[i % 4])
                         : payload[i]);
  }
  return out;
}

struct ServerFrame {
  unsigned opcode = 0;
  std::string payload;
  std::uint16_t close_code() const {
    return payload.size() >= 2
               ? static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                            static_cast<unsigned char>(payload[1]))
               : 0;
  }
};

// A raw TCP client speaking just enough WebSocket to test the server byte by byte.
class RawClient {
public:
  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~RawClient() { ::close(fd_); }

  void write(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // Reads more bytes into the buffer; false on EOF, error or timeout.
  bool fill(int timeout_ms = 5000) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[65536];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) return false;
    buf_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  // The HTTP response head (status line and headers).
  std::string response_head() {
    while (buf_.find("\r\n\r\n") == std::string::npos) {
      if (!fill()) return buf_;
    }
    std::size_t end = buf_.find("\r\n\r\n") + 4;
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end);
    return head;
  }

  std::string handshake(const std::string& target, const std::string& extra_headers = {}) {
    write(fmt::format("GET {} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n{}\r\n",
                      target, extra_headers));
    return response_head();
  }

  std::optional<ServerFrame> frame(int timeout_ms = 5000) {
    for (;;) {
      if (buf_.size() >= 2) {
        const auto* p = reinterpret_cast<const unsigned char*>(buf_.data());
        std::size_t len = p[1] & 0x7f;
        std::size_t header = 2;
        if (len == 126 && buf_.size() >= 4) {
          len = (std::size_t{p[2]} << 8) | p[3];
          header = 4;
        } else if (len == 127 && buf_.size() >= 10) {
          len = 0;
          for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
          header = 10;
        }
        if (len < 126 || header > 2) {
          if (buf_.size() >= header + len) {
            ServerFrame f{p[0] & 0x0fu, buf_.substr(header, len)};
            CHECK((p[1] & 0x80) == 0); // server frames are never masked
            buf_.erase(0, header + len);
            return f;
          }
        }
      }
      if (!fill(timeout_ms)) return std::nullopt;
    }
  }

  // The next text frame's Event JSON, skipping pings.
  std::optional<nlohmann::json> event(int timeout_ms = 5000) {
    for (;;) {
      auto f = frame(timeout_ms);
      if (!f) return std::nullopt;
      if (f->opcode == 0x9) continue;
      if (f->opcode != 0x1) return std::nullopt;
      return nlohmann::json::parse(f->payload);
    }
  }

  // Whether the server closed the TCP connection (EOF) within the timeout.
  bool eof(int timeout_ms = 5000) {
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) return false;
      char buf[4096];
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) return true;
    }
  }

private:
  int fd_ = -1;
  std::string buf_;
};

// A database with two tenants, a token for each, a hub and a WebSocket server.
struct Fixture {
  testsupport::TempDir dir;
  std::filesystem::path db = dir / "ws.db";
  Store store{db};
  std::string acme_token;
  std::string globex_token;
  std::unique_ptr<EventHub> hub;
  std::unique_ptr<WebSocketServer> server;

  explicit Fixture(ServerOptions options = {}) {
    add_tenant(store, "acme", std::nullopt);
    add_tenant(store, "globex", std::nullopt);
    acme_token = create_token(store, "acme", std::nullopt).token;
    globex_token = create_token(store, "globex", std::nullopt).token;
    EventHubOptions ho;
    ho.db = db;
    ho.poll_interval = std::chrono::milliseconds(20);
    hub = std::make_unique<EventHub>(ho);
    hub->start();
    options.db = db;
    server = std::make_unique<WebSocketServer>(options, *hub);
    server->start();
  }
  ~Fixture() {
    server->stop();
    hub->stop();
  }
  std::int64_t event(const std::string& tenant, std::int64_t unread) {
    std::int64_t id = 0;
    store.transaction(
        [&] { id = append_event(store, tenant, event_unread_changed, std::nullopt, unread); });
    hub->wake();
    return id;
  }
  std::string target(const std::string& query = {}) const {
    return "/api/whatsapp/ws?access_token=" + acme_token + query;
  }
};

} // namespace

TEST_CASE("the handshake accept key matches RFC 6455's example") {
  CHECK(accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  // Node's crypto: createHash('sha1').update(key + GUID).digest('base64').
  CHECK(accept_key("x3JJHMbDL1EzLkh9GBhXDw==") == "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

TEST_CASE("server frames use the shortest length encoding and are unmasked") {
  CHECK(encode_frame(Opcode::text, "hi") == std::string("\x81\x02hi", 4));
  std::string mid(300, 'x');
  auto f = encode_frame(Opcode::binary, mid);
  CHECK(f.size() == 304);
  CHECK(static_cast<unsigned char>(f[1]) == 126);
  std::string big(70000, 'x');
  auto g = encode_frame(Opcode::text, big);
  CHECK(g.size() == 70010);
  CHECK(static_cast<unsigned char>(g[1]) == 127);
  auto c = encode_close(1000, std::string(300, 'r'));
  CHECK(c.size() == 2 + 125);
}

TEST_CASE("the frame reader assembles fragments and answers control frames in between") {
  FrameReader r;
  std::string buf = client_frame(0x1, "Hel", false) + client_frame(0x9, "p") +
                    client_frame(0x0, "lo", false) + client_frame(0x0, " there", true);
  // Feed one byte at a time: partial frames must wait in the buffer.
  std::string in;
  std::vector<ClientItem> items;
  for (char ch : buf) {
    in.push_back(ch);
    REQUIRE_FALSE(r.feed(in, items));
  }
  CHECK(in.empty());
  REQUIRE(items.size() == 2);
  CHECK(items[0].kind == ClientItem::Kind::ping);
  CHECK(items[0].payload == "p");
  CHECK(items[1].kind == ClientItem::Kind::message);
  CHECK(items[1].payload == "Hello there");
}

TEST_CASE("the frame reader rejects protocol violations with the right close code") {
  struct Case {
    const char* what;
    std::string bytes;
    std::uint16_t code;
  };
  FrameLimits limits{100, 150};
  std::vector<Case> cases = {
      {"unmasked", client_frame(0x1, "x", true, false), close_protocol_error},
      {"reserved bits", client_frame(0x1, "x", true, true, 0x40), close_protocol_error},
      {"unknown opcode", client_frame(0x3, "x"), close_protocol_error},
      {"fragmented ping", client_frame(0x9, "x", false), close_protocol_error},
      {"long ping", client_frame(0x9, std::string(126, 'x')), close_protocol_error},
      {"lone continuation", client_frame(0x0, "x"), close_protocol_error},
      {"text inside fragments", client_frame(0x1, "a", false) + client_frame(0x1, "b"),
       close_protocol_error},
      {"big frame", client_frame(0x2, std::string(101, 'x')), close_too_big},
      {"big message",
       client_frame(0x2, std::string(80, 'x'), false) + client_frame(0x0, std::string(80, 'x')),
       close_too_big},
      {"bad utf-8", client_frame(0x1, "\xc0\xaf"), close_invalid_data},
      {"one-byte close", client_frame(0x8, "x"), close_protocol_error},
      {"reserved close code", client_frame(0x8, std::string("\x03\xed", 2)), close_protocol_error},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    FrameReader r(limits);
    std::string in = c.bytes;
    std::vector<ClientItem> items;
    auto v = r.feed(in, items);
    REQUIRE(v);
    CHECK(v->code == c.code);
  }
  // A frame header announcing a huge payload is refused before the payload arrives.
  FrameReader r(limits);
  std::string header = client_frame(0x2, std::string(70000, 'x')).substr(0, 14);
  std::vector<ClientItem> items;
  auto v = r.feed(header, items);
  REQUIRE(v);
  CHECK(v->code == close_too_big);
}

TEST_CASE("websocket: a client with a valid token gets its tenant's events, live and resumed") {
  Fixture f;
  RawClient c(f.server->port());
  std::string head = c.handshake(f.target());
  REQUIRE(head.rfind("HTTP/1.1 101", 0) == 0);
  CHECK(head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != std::string::npos);

  f.event("globex", 9);
  std::int64_t first = f.event("acme", 1);
  auto e = c.event();
  REQUIRE(e);
  CHECK((*e)["id"] == first);
  CHECK((*e)["tenant_id"] == "acme");
  CHECK((*e)["type"] == "unread.changed");
  CHECK((*e)["unread"] == 1);
  std::int64_t second = f.event("acme", 2);
  std::int64_t third = f.event("acme", 3);

  // A second client resuming after `first` gets the later events, in order, then live.
  RawClient r(f.server->port());
  REQUIRE(r.handshake(f.target(fmt::format("&last_event_id={}", first))).rfind("HTTP/1.1 101", 0) ==
          0);
  auto a = r.event();
  auto b = r.event();
  REQUIRE(a);
  REQUIRE(b);
  CHECK((*a)["id"] == second);
  CHECK((*b)["id"] == third);
  std::int64_t fourth = f.event("acme", 4);
  auto d = r.event();
  REQUIRE(d);
  CHECK((*d)["id"] == fourth);
  // The first client saw the same, and never globex's event.
  for (std::int64_t want : {second, third, fourth}) {
    auto x = c.event();
    REQUIRE(x);
    CHECK((*x)["id"] == want);
  }
}

TEST_CASE("websocket: the token may come in the Authorization header") {
  Fixture f;
  RawClient c(f.server->port());
  std::string head =
      c.handshake("/api/whatsapp/ws", "Authorization: Bearer " + f.globex_token + "\r\n");
  REQUIRE(head.rfind("HTTP/1.1 101", 0) == 0);
  f.event("acme", 1);
  std::int64_t id = f.event("globex", 5);
  auto e = c.event();
  REQUIRE(e);
  CHECK((*e)["id"] == id);
  CHECK((*e)["tenant_id"] == "globex");
}

TEST_CASE("websocket: bad handshakes are refused with an HTTP error") {
  Fixture f;
  CreatedToken revoked_token = create_token(f.store, "acme", std::nullopt);
  revoke_token(f.store, "acme", revoked_token.record.id);
  std::string revoked = revoked_token.token;
  for (const auto& [target, status] : std::vector<std::pair<std::string, std::string>>{
           {"/api/whatsapp/ws", "401"},
           {"/api/whatsapp/ws?access_token=wbt_nope", "401"},
           {"/api/whatsapp/ws?access_token=" + revoked, "401"},
           {"/elsewhere?access_token=" + f.acme_token, "404"},
           {f.target("&last_event_id=abc"), "400"},
       }) {
    CAPTURE(target);
    RawClient c(f.server->port());
    std::string head = c.handshake(target);
    CHECK(head.rfind("HTTP/1.1 " + status, 0) == 0);
    CHECK(c.eof());
  }
  RawClient plain(f.server->port());
  plain.write("GET /api/whatsapp/ws HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(plain.response_head().rfind("HTTP/1.1 426", 0) == 0);
  RawClient huge(f.server->port());
  huge.write("GET /api/whatsapp/ws HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n");
  CHECK(huge.response_head().rfind("HTTP/1.1 431", 0) == 0);
  RawClient garbage(f.server->port());
  garbage.write(std::string("\x16\x03\x01\x00\xa5\x01\x00\x00\r\n\r\n", 12));
  CHECK(garbage.response_head().rfind("HTTP/1.1 400", 0) == 0);
}

TEST_CASE("websocket: wrong tokens count towards the shared limit, 429 beyond it") {
  server::FailureLimiter limiter(2);
  std::mutex mu;
  std::vector<std::string> reasons;
  ServerOptions o;
  o.limiter = &limiter;
  o.on_refusal = [&](int status, std::string_view reason, const std::string&, std::string_view) {
    std::lock_guard lock(mu);
    reasons.push_back(fmt::format("{} {}", status, reason));
  };
  Fixture f(o);
  auto head = [&](const std::string& target) {
    RawClient c(f.server->port());
    return c.handshake(target);
  };
  // A missing token is not a guess: it never counts.
  for (int i = 0; i < 3; ++i) CHECK(head("/api/whatsapp/ws").rfind("HTTP/1.1 401", 0) == 0);
  CHECK(head("/api/whatsapp/ws?access_token=wbt_nope").rfind("HTTP/1.1 401", 0) == 0);
  CHECK(head("/api/whatsapp/ws?access_token=wbt_nope").rfind("HTTP/1.1 401", 0) == 0);
  std::string limited = head("/api/whatsapp/ws?access_token=wbt_nope");
  CHECK(limited.rfind("HTTP/1.1 429 Too Many Requests", 0) == 0);
  CHECK(limited.find("Retry-After: 60\r\n") != std::string::npos);
  // The limiter slows failures only: a valid token still gets in.
  CHECK(head(f.target()).rfind("HTTP/1.1 101", 0) == 0);
  // The streams' thread reported each refusal before answering it.
  std::lock_guard lock(mu);
  CHECK(reasons == std::vector<std::string>{"401 no_token", "401 no_token", "401 no_token",
                                            "401 token", "401 token", "429 rate_limited"});
}

TEST_CASE("websocket: pings are answered and protocol violations close the connection") {
  Fixture f;
  {
    RawClient c(f.server->port());
    REQUIRE(c.handshake(f.target()).rfind("HTTP/1.1 101", 0) == 0);
    c.write(client_frame(0x9, "are you there"));
    auto pong = c.frame();
    REQUIRE(pong);
    CHECK(pong->opcode == 0xA);
    CHECK(pong->payload == "are you there");
    // A fragmented client message, with a ping in the middle, is accepted.
    c.write(client_frame(0x1, "hel", false) + client_frame(0x9, "mid") + client_frame(0x0, "lo"));
    auto p2 = c.frame();
    REQUIRE(p2);
    CHECK(p2->opcode == 0xA);
    CHECK(p2->payload == "mid");
    // Close from the client is echoed.
    c.write(client_frame(0x8, std::string("\x03\xe8"
                                          "bye",
                                          5)));
    auto close = c.frame();
    REQUIRE(close);
    CHECK(close->opcode == 0x8);
    CHECK(close->close_code() == 1000);
    CHECK(c.eof());
  }
  {
    RawClient c(f.server->port());
    REQUIRE(c.handshake(f.target()).rfind("HTTP/1.1 101", 0) == 0);
    c.write(client_frame(0x1, "unmasked", true, false));
    auto close = c.frame();
    REQUIRE(close);
    CHECK(close->opcode == 0x8);
    CHECK(close->close_code() == close_protocol_error);
    CHECK(c.eof());
  }
  {
    RawClient c(f.server->port());
    REQUIRE(c.handshake(f.target()).rfind("HTTP/1.1 101", 0) == 0);
    c.write(client_frame(0x2, std::string(70 * 1024, 'x')));
    auto close = c.frame();
    REQUIRE(close);
    CHECK(close->opcode == 0x8);
    CHECK(close->close_code() == close_too_big);
  }
}

TEST_CASE("websocket: idle clients are pinged and then closed, the cap answers 503") {
  ServerOptions o;
  o.ping_interval = std::chrono::milliseconds(100);
  o.idle_timeout = std::chrono::milliseconds(600);
  o.max_connections = 2;
  // Slots enough for one tenant's two streams: the connection cap is what refuses here.
  wabactl::server::StreamSlots slots(3);
  o.slots = &slots;
  Fixture f(o);
  RawClient c(f.server->port());
  REQUIRE(c.handshake(f.target()).rfind("HTTP/1.1 101", 0) == 0);
  RawClient c2(f.server->port());
  REQUIRE(c2.handshake(f.target()).rfind("HTTP/1.1 101", 0) == 0);
  RawClient over(f.server->port());
  CHECK(over.handshake(f.target()).rfind("HTTP/1.1 503", 0) == 0);

  auto ping = c.frame();
  REQUIRE(ping);
  CHECK(ping->opcode == 0x9);
  // Never answering: the server gives up with a close frame.
  std::optional<ServerFrame> last;
  while (auto fr = c.frame(3000)) {
    last = fr;
    if (fr->opcode == 0x8) break;
  }
  REQUIRE(last);
  CHECK(last->opcode == 0x8);
  CHECK(last->close_code() == close_going_away);
}

TEST_CASE("websocket: a client that stops reading is dropped, not buffered without bound") {
  ServerOptions o;
  o.write_buffer_cap = 64 * 1024;
  Fixture f(o);
  RawClient slow(f.server->port());
  REQUIRE(slow.handshake(f.target()).rfind("HTTP/1.1 101", 0) == 0);
  // Many large events while the client reads nothing.
  // More than loopback's socket buffers can absorb.
  std::string text(16000, 'x');
  for (int i = 0; i < 1500; ++i) {
    Message m;
    m.tenant_id = "acme";
    m.direction = "incoming";
    m.status = "received";
    m.type = "text";
    m.text = text;
    m.timestamp = now_iso();
    f.store.transaction(
        [&] { append_event(f.store, "acme", event_message_received, m, std::nullopt); });
  }
  f.hub->wake();
  for (int i = 0; i < 100 && f.server->connections() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(f.server->connections() == 0);
}
