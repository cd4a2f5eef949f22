// The live streams: one epoll thread owns every WebSocket connection and every SSE stream
// (handshake, replay from the events table, live events from the hub, pings, timeouts,
// token revocation, closing).
#include "server/websocket.hpp"

#include "server/auth.hpp"
#include "wabactl/error.hpp"
#include "wabactl/events.hpp"
#include "wabactl/log.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/server.hpp"
#include "wabactl/store.hpp"
#include "wabactl/tokens.hpp"
#include "wabactl/util.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nlohmann/json.hpp>
#include <sodium.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <variant>

namespace wabactl::ws {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t replay_page = 256;
constexpr std::size_t replay_low_water = 256 * 1024;
constexpr auto drain_timeout = std::chrono::seconds(2);
constexpr std::uint64_t listener_tag = 0;
constexpr std::uint64_t wakeup_tag = 1;

enum class State { handshake, open, draining };
enum class Kind { websocket, sse };

struct Conn {
  std::uint64_t id = 0;
  int fd = -1;
  std::string addr; ///< the peer's address, for refusal logs
  Kind kind = Kind::websocket;
  bool has_slot = false;
  std::string token_id;
  State state = State::handshake;
  std::string in;
  std::string out;
  bool want_write = false;
  FrameReader reader;
  std::string tenant;
  std::shared_ptr<Subscription> sub;
  std::optional<EventFollower> follow; ///< its events, set once the stream is open
  Clock::time_point opened;
  Clock::time_point last_rx;
  Clock::time_point last_ping;
  Clock::time_point drain_deadline;
  // After the pending output is written: shut down writing (draining) or close at once.
  bool close_after_flush = false;
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      auto hex = from_hex(s.substr(i + 1, 2));
      if (hex && hex->size() == 1) {
        out.push_back(static_cast<char>((*hex)[0]));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

struct Request {
  std::string method;
  std::string path;
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers; ///< lowercased names
  std::vector<std::string> authorization;     ///< every Authorization header, in order
};

std::optional<Request> parse_request(std::string_view head) {
  Request r;
  std::size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return std::nullopt;
  r.method = std::string(line.substr(0, sp1));
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (line.substr(sp2 + 1) != "HTTP/1.1") return std::nullopt;
  std::size_t q = target.find('?');
  r.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) {
    std::string_view qs = target.substr(q + 1);
    while (!qs.empty()) {
      std::size_t amp = qs.find('&');
      std::string_view kv = qs.substr(0, amp);
      std::size_t eq = kv.find('=');
      std::string key = url_decode(kv.substr(0, eq));
      std::string value = eq == std::string_view::npos ? "" : url_decode(kv.substr(eq + 1));
      r.query.emplace(std::move(key), std::move(value));
      if (amp == std::string_view::npos) break;
      qs.remove_prefix(amp + 1);
    }
  }
  std::size_t pos = eol + 2;
  while (pos < head.size()) {
    std::size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    std::string_view h = head.substr(pos, end - pos);
    pos = end + 2;
    if (h.empty()) continue;
    std::size_t colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    std::string name = lower(h.substr(0, colon));
    std::string value(trim(h.substr(colon + 1)));
    if (name == "authorization") r.authorization.push_back(value);
    r.headers[std::move(name)] = std::move(value);
  }
  return r;
}

bool header_has_token(const Request& r, const char* name, std::string_view token) {
  auto it = r.headers.find(name);
  if (it == r.headers.end()) return false;
  std::string v = lower(it->second);
  std::string_view rest = v;
  while (!rest.empty()) {
    std::size_t comma = rest.find(',');
    if (trim(rest.substr(0, comma)) == token) return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

bool valid_key(const std::string& key) {
  unsigned char raw[32];
  std::size_t raw_len = 0;
  return key.size() == 24 &&
         sodium_base642bin(raw, sizeof raw, key.data(), key.size(), nullptr, &raw_len, nullptr,
                           sodium_base64_VARIANT_ORIGINAL) == 0 &&
         raw_len == 16;
}

// A connection another thread hands over: an SSE stream, or a WebSocket handshake.
struct PendingSse {
  int fd = -1;
  bool websocket = false;
  std::string received;
  std::string tenant;
  std::string token_id;
  std::int64_t cursor = 0;
};

// Where the hub's notifications land: shared with the subscriptions' callbacks, so a
// callback racing with shutdown finds it closed instead of a destroyed server.
struct Waker {
  std::mutex mu;
  int fd = -1;
  bool closed = false;
  std::vector<std::uint64_t> ready;
  std::vector<PendingSse> adopted;

  void notify(std::uint64_t id) {
    std::lock_guard lock(mu);
    if (closed) return;
    ready.push_back(id);
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(fd, &one, sizeof one);
  }
  std::vector<std::uint64_t> take() {
    std::lock_guard lock(mu);
    std::vector<std::uint64_t> out;
    out.swap(ready);
    return out;
  }
};

// One piece of an SSE response's chunked body.
std::string sse_chunk(std::string_view data) {
  return fmt::format("{:x}\r\n{}\r\n", data.size(), data);
}

std::string sse_event(const StreamEvent& e) {
  return sse_chunk(fmt::format("id: {}\nevent: {}\ndata: {}\n\n", e.id, e.type, e.json));
}

std::string http_error(int status, const char* reason, std::string_view code,
                       std::string_view message, std::string_view extra_headers) {
  std::string body = nlohmann::json{{"error", {{"code", code}, {"message", message}}}}.dump();
  return fmt::format("HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
                     "Connection: close\r\n{}\r\n{}",
                     status, reason, body.size(), extra_headers, body);
}

} // namespace

struct WebSocketServer::Impl {
  ServerOptions options;
  EventHub& hub;
  std::unique_ptr<Store> store;
  int listen_fd = -1;
  int epoll_fd = -1;
  int wake_fd = -1;
  int bound_port = 0;
  std::thread thread;
  std::atomic<bool> running{false};
  std::atomic<std::size_t> open_count{0};
  std::uint64_t next_id = 2;
  std::unordered_map<std::uint64_t, std::unique_ptr<Conn>> conns;
  std::shared_ptr<Waker> waker = std::make_shared<Waker>();
  std::optional<Clock::time_point> accept_paused_until;
  std::size_t sse_count = 0;
  Clock::time_point last_revocation_check = Clock::now();
  std::int64_t data_version = -1;

  std::unique_ptr<server::StreamSlots> own_slots;
  std::unique_ptr<server::FailureLimiter> own_limiter;
  std::optional<server::BearerAuth> auth;

  Impl(ServerOptions o, EventHub& h) : options(std::move(o)), hub(h) {
    if (options.slots == nullptr) {
      own_slots = std::make_unique<server::StreamSlots>(options.max_connections);
      options.slots = own_slots.get();
    }
    if (options.limiter == nullptr) {
      own_limiter = std::make_unique<server::FailureLimiter>(default_max_auth_failures);
      options.limiter = own_limiter.get();
    }
    auth.emplace(*options.limiter, options.on_refusal);
  }

  void set_count() {
    open_count.store(conns.size());
    if (options.clients_gauge != nullptr)
      options.clients_gauge->store(static_cast<std::int64_t>(conns.size() - sse_count));
    if (options.sse_gauge != nullptr)
      options.sse_gauge->store(static_cast<std::int64_t>(sse_count));
  }

  void bind_listener();
  void loop();
  void accept_all();
  void on_readable(Conn& c);
  void on_handshake(Conn& c);
  void refuse(Conn& c, int status, const char* reason, const char* code, std::string_view why,
              const std::string& message, const char* extra = "");
  void answer_error(Conn& c, int status, const char* reason, std::string_view code,
                    std::string_view message, const std::string& extra = "");
  void on_frames(Conn& c);
  void pump(Conn& c);
  void flush(Conn& c);
  void send(Conn& c, std::string bytes);
  void close_with(Conn& c, std::uint16_t code, std::string_view reason);
  void destroy(std::uint64_t id);
  void update_events(Conn& c);
  void tick();
  void adopt(PendingSse p);
  void end_stream(Conn& c, std::uint16_t code, std::string_view reason);
  void check_revocations();
};

void WebSocketServer::Impl::bind_listener() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(options.port);
  if (::getaddrinfo(options.host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) {
    throw Error(Exit::usage, fmt::format("--ws-listen: '{}' is not an IP address", options.host));
  }
  listen_fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (listen_fd < 0 || ::bind(listen_fd, res->ai_addr, res->ai_addrlen) != 0 ||
      ::listen(listen_fd, 1024) != 0) {
    int err = errno;
    ::freeaddrinfo(res);
    if (listen_fd >= 0) ::close(listen_fd);
    listen_fd = -1;
    throw Error(Exit::tempfail, fmt::format("cannot listen for WebSocket on {}:{}: {}",
                                            options.host, options.port, std::strerror(err)));
  }
  ::freeaddrinfo(res);
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  bound_port = addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                                          : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

void WebSocketServer::Impl::loop() {
  std::vector<epoll_event> events(256);
  while (running.load()) {
    int n = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), 250);
    if (n < 0 && errno != EINTR) {
      LOG_ERROR("websocket: epoll_wait failed: {}", std::strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      std::uint64_t tag = events[static_cast<std::size_t>(i)].data.u64;
      std::uint32_t ev = events[static_cast<std::size_t>(i)].events;
      if (tag == listener_tag) {
        accept_all();
        continue;
      }
      if (tag == wakeup_tag) {
        std::uint64_t count;
        [[maybe_unused]] auto r = ::read(wake_fd, &count, sizeof count);
        std::vector<PendingSse> adopted;
        {
          std::lock_guard lock(waker->mu);
          adopted.swap(waker->adopted);
        }
        for (auto& p : adopted) adopt(std::move(p));
        std::vector<std::uint64_t> ids = waker->take();
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        for (auto id : ids) {
          auto it = conns.find(id);
          if (it != conns.end()) pump(*it->second);
        }
        continue;
      }
      auto it = conns.find(tag);
      if (it == conns.end()) continue;
      Conn& c = *it->second;
      if ((ev & (EPOLLERR | EPOLLHUP)) != 0 && (ev & EPOLLIN) == 0) {
        destroy(c.id);
        continue;
      }
      if ((ev & EPOLLOUT) != 0) {
        flush(c);
        if (conns.count(tag) == 0) continue;
        if (c.state == State::open) pump(c);
      }
      if (conns.count(tag) != 0 && (ev & EPOLLIN) != 0) on_readable(c);
    }
    tick();
  }
}

void WebSocketServer::Impl::accept_all() {
  for (;;) {
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      if (errno == EMFILE || errno == ENFILE) {
        // Out of descriptors: stop listening for a moment instead of spinning on a
        // listener that stays readable.
        LOG_WARN("websocket: out of file descriptors; pausing accepts");
        ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, listen_fd, nullptr);
        accept_paused_until = Clock::now() + std::chrono::milliseconds(100);
      }
      return;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto c = std::make_unique<Conn>();
    c->id = next_id++;
    c->fd = fd;
    c->addr = server::peer_of(fd).address;
    c->reader = FrameReader(options.limits);
    c->opened = c->last_rx = c->last_ping = Clock::now();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = c->id;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    std::uint64_t id = c->id;
    conns.emplace(id, std::move(c));
    set_count();
    if (conns.size() > options.max_connections) {
      refuse(*conns[id], 503, "Service Unavailable", "unavailable", "streams",
             "too many stream clients; retry later", "Retry-After: 5\r\n");
    }
  }
}

void WebSocketServer::Impl::on_readable(Conn& c) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(c.fd, buf, sizeof buf);
    if (n > 0) {
      c.last_rx = Clock::now();
      // An SSE client has nothing to say after its request.
      if (c.state == State::draining || c.kind == Kind::sse) continue;
      c.in.append(buf, static_cast<std::size_t>(n));
      std::size_t limit = c.state == State::handshake ? options.max_request_header
                                                      : options.limits.max_frame * 2 + 64;
      if (c.in.size() > limit && c.state == State::handshake) break;
      if (static_cast<std::size_t>(n) < sizeof buf) break;
      if (c.in.size() > limit) break;
      continue;
    }
    if (n == 0) {
      destroy(c.id);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    destroy(c.id);
    return;
  }
  if (c.close_after_flush && c.state != State::open) return;
  if (c.state == State::handshake) {
    on_handshake(c);
  } else if (c.state == State::open) {
    on_frames(c);
  }
}

void WebSocketServer::Impl::refuse(Conn& c, int status, const char* reason, const char* code,
                                   std::string_view why, const std::string& message,
                                   const char* extra) {
  if (options.on_refusal) options.on_refusal(status, why, c.addr, message);
  answer_error(c, status, reason, code, message, extra);
}

// Answers a handshake with an HTTP error and closes; the caller reported the refusal.
void WebSocketServer::Impl::answer_error(Conn& c, int status, const char* reason,
                                         std::string_view code, std::string_view message,
                                         const std::string& extra) {
  c.close_after_flush = true;
  send(c, http_error(status, reason, code, message, extra));
}

void WebSocketServer::Impl::on_handshake(Conn& c) {
  std::size_t end = c.in.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (c.in.size() > options.max_request_header) {
      refuse(c, 431, "Request Header Fields Too Large", "bad_request", "headers",
             "request header too large");
    }
    return;
  }
  if (end + 4 > options.max_request_header) {
    return refuse(c, 431, "Request Header Fields Too Large", "bad_request", "headers",
                  "request header too large");
  }
  auto reject = [&](int status, const char* reason, const char* code, const std::string& msg,
                    const char* extra = "") {
    const char* why = status == 503 ? "unavailable" : "malformed";
    refuse(c, status, reason, code, why, msg, extra);
  };
  auto req = parse_request(std::string_view(c.in).substr(0, end + 2));
  c.in.erase(0, end + 4);
  if (!req) return reject(400, "Bad Request", "bad_request", "malformed HTTP request");
  if (req->path != options.path) return reject(404, "Not Found", "not_found", "no such route");
  if (req->method != "GET") {
    return reject(405, "Method Not Allowed", "bad_request", "use GET", "Allow: GET\r\n");
  }
  if (!header_has_token(*req, "upgrade", "websocket") ||
      !header_has_token(*req, "connection", "upgrade")) {
    return reject(426, "Upgrade Required", "bad_request", "this route speaks WebSocket only",
                  "Upgrade: websocket\r\n");
  }
  if (req->headers["sec-websocket-version"] != "13") {
    return reject(426, "Upgrade Required", "bad_request", "WebSocket version 13 is required",
                  "Sec-WebSocket-Version: 13\r\n");
  }
  const std::string& key = req->headers["sec-websocket-key"];
  if (!valid_key(key)) return reject(400, "Bad Request", "bad_request", "bad Sec-WebSocket-Key");

  std::optional<std::string> query_token;
  if (auto q = req->query.find("access_token"); q != req->query.end()) query_token = q->second;
  std::vector<std::string_view> authorization(req->authorization.begin(), req->authorization.end());
  std::variant<ApiToken, server::AuthRefusal> outcome;
  try {
    outcome = auth->authenticate(
        server::presented_token(authorization, query_token), c.addr,
        [this](std::string_view token) { return authenticate_token(*store, token); });
  } catch (const std::exception& e) {
    LOG_WARN("websocket: token lookup failed: {}", e.what());
    return reject(503, "Service Unavailable", "unavailable", "database busy; retry",
                  "Retry-After: 1\r\n");
  }
  if (auto* refusal = std::get_if<server::AuthRefusal>(&outcome)) {
    return answer_error(c, refusal->status,
                        refusal->status == 429 ? "Too Many Requests" : "Unauthorized",
                        refusal->code, refusal->message,
                        fmt::format("{}: {}\r\n", refusal->header, refusal->value));
  }
  const ApiToken& who = std::get<ApiToken>(outcome);

  std::optional<std::int64_t> cursor;
  try {
    auto header = req->headers.find("last-event-id");
    auto query = req->query.find("last_event_id");
    cursor = parse_last_event_id(
        header == req->headers.end() ? std::nullopt : std::optional(header->second),
        query == req->query.end() ? std::nullopt : std::optional(query->second));
  } catch (const Error& e) {
    return reject(400, "Bad Request", "bad_request", e.what());
  }
  try {
    if (!cursor) cursor = last_event_id(*store);
  } catch (const std::exception& e) {
    return reject(503, "Service Unavailable", "unavailable", "database busy; retry",
                  "Retry-After: 1\r\n");
  }

  if (!options.slots->acquire(who.tenant_id)) {
    return reject(503, "Service Unavailable", "unavailable",
                  "too many streams are open for this tenant or in all; retry later",
                  "Retry-After: 5\r\n");
  }
  c.has_slot = true;
  c.tenant = who.tenant_id;
  c.token_id = who.id;
  std::uint64_t id = c.id;
  c.sub = hub.subscribe(c.tenant, [w = waker, id] { w->notify(id); });
  c.follow.emplace(c.tenant, *cursor, c.sub);
  c.state = State::open;
  c.last_rx = c.last_ping = Clock::now();
  send(c, fmt::format("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                      accept_key(key)));
  if (conns.count(id) == 0) return;
  pump(c);
  if (conns.count(id) != 0 && !c.in.empty()) on_frames(c);
}

void WebSocketServer::Impl::on_frames(Conn& c) {
  std::vector<ClientItem> items;
  auto violation = c.reader.feed(c.in, items);
  std::uint64_t id = c.id;
  for (auto& item : items) {
    if (conns.count(id) == 0 || c.state != State::open) return;
    switch (item.kind) {
    case ClientItem::Kind::ping:
      send(c, encode_frame(Opcode::pong, item.payload));
      break;
    case ClientItem::Kind::close:
      // Echo the client's code (none → none) and finish.
      c.close_after_flush = true;
      c.state = State::draining;
      send(c, item.close_code == 0 ? encode_frame(Opcode::close, "")
                                   : encode_close(item.close_code, ""));
      return;
    case ClientItem::Kind::pong:
    case ClientItem::Kind::message:
      // The stream is server-to-client; client messages only prove liveness.
      break;
    }
  }
  if (violation && conns.count(id) != 0 && c.state == State::open) {
    close_with(c, violation->code, violation->reason);
  }
}

void WebSocketServer::Impl::update_events(Conn& c) {
  if (c.state != State::open || !c.follow) return;
  std::uint64_t id = c.id;
  // Replay a page at a time while the socket keeps up; live events queue in the
  // subscription meanwhile, and once the replay is over one pull takes them all.
  for (;;) {
    bool replaying = c.follow->replaying();
    if (replaying && c.out.size() >= replay_low_water) return;
    std::vector<StreamEventPtr> page;
    try {
      page = c.follow->next(*store, replay_page);
    } catch (const std::exception& e) {
      LOG_WARN("websocket: replay failed: {}", e.what());
      return end_stream(c, close_try_again_later, "database busy; resume with last_event_id");
    }
    for (const auto& e : page) {
      send(c, c.kind == Kind::sse ? sse_event(*e) : encode_frame(Opcode::text, e->json));
      if (conns.count(id) == 0) return;
    }
    if (!replaying || page.empty()) break;
  }
  if (c.follow->dropped()) {
    end_stream(c, close_try_again_later, "too far behind; resume with last_event_id");
  }
}

void WebSocketServer::Impl::pump(Conn& c) {
  if (c.state == State::open) update_events(c);
}

void WebSocketServer::Impl::send(Conn& c, std::string bytes) {
  if (c.out.size() + bytes.size() > options.write_buffer_cap) {
    // The client does not read: drop it rather than hold memory for it.
    LOG_INFO("websocket: dropping a client of tenant {} whose write buffer is full", c.tenant);
    destroy(c.id);
    return;
  }
  c.out += bytes;
  flush(c);
}

void WebSocketServer::Impl::flush(Conn& c) {
  while (!c.out.empty()) {
    ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      c.out.erase(0, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    destroy(c.id);
    return;
  }
  bool want = !c.out.empty();
  if (want != c.want_write) {
    epoll_event ev{};
    ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
    ev.data.u64 = c.id;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c.fd, &ev);
    c.want_write = want;
  }
  if (c.out.empty() && c.close_after_flush) {
    if (c.state == State::handshake) {
      destroy(c.id);
      return;
    }
    // Half-close and read until the client closes, so our close frame is not lost to a
    // reset caused by unread input.
    if (c.state != State::draining || c.drain_deadline == Clock::time_point{}) {
      c.state = State::draining;
      c.drain_deadline = Clock::now() + drain_timeout;
      ::shutdown(c.fd, SHUT_WR);
    }
  }
}

void WebSocketServer::Impl::close_with(Conn& c, std::uint16_t code, std::string_view reason) {
  c.close_after_flush = true;
  c.state = State::draining;
  send(c, encode_close(code, reason));
}

// Ends an open stream the way its protocol says: a close frame, or the last chunk.
void WebSocketServer::Impl::end_stream(Conn& c, std::uint16_t code, std::string_view reason) {
  if (c.kind == Kind::websocket) return close_with(c, code, reason);
  c.close_after_flush = true;
  c.state = State::draining;
  send(c, "0\r\n\r\n");
}

void WebSocketServer::Impl::destroy(std::uint64_t id) {
  auto it = conns.find(id);
  if (it == conns.end()) return;
  Conn& c = *it->second;
  if (c.sub) hub.unsubscribe(c.sub);
  if (c.has_slot) options.slots->release(c.tenant);
  if (c.kind == Kind::sse) --sse_count;
  ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
  ::close(c.fd);
  conns.erase(it);
  set_count();
}

void WebSocketServer::Impl::adopt(PendingSse p) {
  int flags = ::fcntl(p.fd, F_GETFL, 0);
  ::fcntl(p.fd, F_SETFL, flags | O_NONBLOCK);
  if (p.websocket) {
    auto c = std::make_unique<Conn>();
    c->id = next_id++;
    c->fd = p.fd;
    c->addr = server::peer_of(p.fd).address;
    c->reader = FrameReader(options.limits);
    c->opened = c->last_rx = c->last_ping = Clock::now();
    c->in = std::move(p.received);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = c->id;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, p.fd, &ev);
    Conn& ref = *c;
    conns.emplace(ref.id, std::move(c));
    set_count();
    if (conns.size() > options.max_connections) {
      return refuse(ref, 503, "Service Unavailable", "unavailable", "streams",
                    "too many stream clients; retry later", "Retry-After: 5\r\n");
    }
    return on_handshake(ref);
  }
  auto c = std::make_unique<Conn>();
  c->id = next_id++;
  c->fd = p.fd;
  c->kind = Kind::sse;
  c->has_slot = true;
  c->tenant = std::move(p.tenant);
  c->token_id = std::move(p.token_id);
  c->state = State::open;
  c->opened = c->last_rx = c->last_ping = Clock::now();
  std::uint64_t id = c->id;
  c->sub = hub.subscribe(c->tenant, [w = waker, id] { w->notify(id); });
  c->follow.emplace(c->tenant, p.cursor, c->sub);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = id;
  ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, p.fd, &ev);
  Conn& ref = *c;
  conns.emplace(id, std::move(c));
  ++sse_count;
  set_count();
  // The first block names the stream's position as its id (a block without data sets
  // EventSource's lastEventId and dispatches nothing): a browser whose connection drops
  // before any event then reconnects with Last-Event-ID and misses none.
  send(ref, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            "X-Accel-Buffering: no\r\nTransfer-Encoding: chunked\r\n\r\n" +
                sse_chunk(fmt::format(": connected\nid: {}\n\n", p.cursor)));
  if (conns.count(id) != 0) pump(ref);
}

// A token revoked by another process (the CLI) must end its streams: when the database
// changed since the last look, every open stream's token is looked up again.
void WebSocketServer::Impl::check_revocations() {
  std::vector<std::pair<std::string, std::uint64_t>> open;
  for (auto& [id, c] : conns) {
    if (c->state == State::open && !c->token_id.empty()) open.emplace_back(c->token_id, id);
  }
  if (open.empty()) return;
  try {
    std::int64_t version = store->data_version();
    if (version == data_version) return;
    data_version = version;
    std::set<std::string> tokens;
    for (const auto& [token, id] : open) tokens.insert(token);
    auto revoked = revoked_tokens(*store, tokens);
    for (const auto& [token, id] : open) {
      if (revoked.count(token) == 0) continue;
      auto it = conns.find(id);
      if (it == conns.end()) continue;
      LOG_INFO("{}: ending a stream of tenant {}: its token was revoked",
               it->second->kind == Kind::sse ? "sse" : "websocket", it->second->tenant);
      end_stream(*it->second, close_policy, "token revoked");
    }
  } catch (const std::exception& e) {
    // Busy or locked: look again at the next check.
    data_version = -1;
    LOG_DEBUG("streams: token check failed: {}", e.what());
  }
}

void WebSocketServer::Impl::tick() {
  auto now = Clock::now();
  if (accept_paused_until && now >= *accept_paused_until) {
    accept_paused_until.reset();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = listener_tag;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev);
  }
  std::vector<std::uint64_t> expired;
  std::vector<std::uint64_t> idle;
  std::vector<std::uint64_t> ping;
  for (auto& [id, c] : conns) {
    switch (c->state) {
    case State::handshake:
      if (now - c->opened > options.handshake_timeout) expired.push_back(id);
      break;
    case State::draining:
      if (c->drain_deadline != Clock::time_point{} && now > c->drain_deadline) {
        expired.push_back(id);
      }
      break;
    case State::open:
      if (c->kind == Kind::sse) {
        if (now - c->last_ping >= options.sse_ping_interval) ping.push_back(id);
      } else if (now - c->last_rx > options.idle_timeout) {
        idle.push_back(id);
      } else if (now - c->last_ping >= options.ping_interval) {
        ping.push_back(id);
      }
      break;
    }
  }
  for (auto id : expired) destroy(id);
  for (auto id : idle) {
    auto it = conns.find(id);
    if (it != conns.end()) close_with(*it->second, close_going_away, "idle timeout");
  }
  for (auto id : ping) {
    auto it = conns.find(id);
    if (it == conns.end()) continue;
    it->second->last_ping = now;
    send(*it->second,
         it->second->kind == Kind::sse ? sse_chunk(": ping\n\n") : encode_frame(Opcode::ping, ""));
  }
  if (now - last_revocation_check >= options.revocation_check) {
    last_revocation_check = now;
    check_revocations();
  }
}

WebSocketServer::WebSocketServer(ServerOptions options, EventHub& hub)
    : impl_(std::make_unique<Impl>(std::move(options), hub)) {}

WebSocketServer::~WebSocketServer() {
  stop();
}

void WebSocketServer::start() {
  Impl& m = *impl_;
  if (m.running.load()) return;
  m.store = std::make_unique<Store>(m.options.db, Durability::normal);
  // This thread serves every connection: never wait long for the write lock (the only
  // write here is a token's last-use stamp, which may be skipped).
  m.store->set_busy_timeout(std::chrono::milliseconds(100));
  m.bind_listener();
  m.epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  m.wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  {
    std::lock_guard lock(m.waker->mu);
    m.waker->fd = m.wake_fd;
    m.waker->closed = false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = listener_tag;
  ::epoll_ctl(m.epoll_fd, EPOLL_CTL_ADD, m.listen_fd, &ev);
  ev.data.u64 = wakeup_tag;
  ::epoll_ctl(m.epoll_fd, EPOLL_CTL_ADD, m.wake_fd, &ev);
  m.running.store(true);
  m.thread = std::thread([&m] { m.loop(); });
}

void WebSocketServer::stop() {
  Impl& m = *impl_;
  if (!m.running.exchange(false)) return;
  m.waker->notify(0);
  {
    std::lock_guard lock(m.waker->mu);
    m.waker->closed = true;
  }
  if (m.thread.joinable()) m.thread.join();
  // Say goodbye on a best-effort basis; then close everything.
  for (auto& [id, c] : m.conns) {
    if (c->state == State::open) {
      std::string bye = c->kind == Kind::sse
                            ? std::string("0\r\n\r\n")
                            : encode_close(close_going_away, "server shutting down");
      [[maybe_unused]] auto w = ::send(c->fd, bye.data(), bye.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    if (c->sub) m.hub.unsubscribe(c->sub);
    if (c->has_slot) m.options.slots->release(c->tenant);
    ::close(c->fd);
  }
  m.conns.clear();
  m.sse_count = 0;
  m.set_count();
  {
    std::lock_guard lock(m.waker->mu);
    for (auto& p : m.waker->adopted) {
      if (!p.websocket) m.options.slots->release(p.tenant);
      ::close(p.fd);
    }
    m.waker->adopted.clear();
  }
  ::close(m.listen_fd);
  ::close(m.epoll_fd);
  ::close(m.wake_fd);
  m.listen_fd = m.epoll_fd = m.wake_fd = -1;
  m.store.reset();
}

int WebSocketServer::port() const {
  return impl_->bound_port;
}

std::size_t WebSocketServer::connections() const {
  return impl_->open_count.load();
}

void WebSocketServer::adopt_sse(int fd, std::string tenant, std::string token_id,
                                std::int64_t cursor) {
  Waker& w = *impl_->waker;
  {
    std::lock_guard lock(w.mu);
    if (w.closed) {
      impl_->options.slots->release(tenant);
      ::close(fd);
      return;
    }
    w.adopted.push_back({fd, false, {}, std::move(tenant), std::move(token_id), cursor});
  }
  w.notify(0);
}

void WebSocketServer::adopt_handshake(int fd, std::string received) {
  Waker& w = *impl_->waker;
  {
    std::lock_guard lock(w.mu);
    if (w.closed) {
      ::close(fd);
      return;
    }
    w.adopted.push_back({fd, true, std::move(received), {}, {}, 0});
  }
  w.notify(0);
}

} // namespace wabactl::ws
