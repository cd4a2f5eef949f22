// The connection front: one epoll thread parks connections until a whole request has
// arrived, a fixed pool of workers runs requests through httplib. See front.hpp.
#include "server/front.hpp"

#include "server/net.hpp"

#include "wabactl/log.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace wabactl::server {
namespace {

using Clock = std::chrono::steady_clock;

// A request head larger than this is refused (pre_route refuses more than 32 KiB of
// headers; this only bounds what the front buffers before httplib sees the request).
constexpr std::size_t max_head_bytes = 64 * 1024;
constexpr std::uint64_t wake_tag = ~std::uint64_t{0};
constexpr int io_timeout_ms = 10000;

// httplib's accept loop hands every socket to its task queue; the front takes it at once
// on the accept thread (process_and_close_socket only posts it to the epoll thread).
class InlineQueue : public httplib::TaskQueue {
public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

class WorkerPool {
public:
  explicit WorkerPool(std::size_t threads) {
    for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  ~WorkerPool() { shutdown(); }

  void enqueue(std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(fn));
    }
    ready_.notify_one();
  }

  /// Runs what is queued, then joins.
  void shutdown() {
    {
      std::lock_guard lock(mu_);
      if (done_) return;
      done_ = true;
    }
    ready_.notify_all();
    for (auto& t : workers_) t.join();
  }

private:
  void work() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mu_);
        ready_.wait(lock, [this] { return !jobs_.empty() || done_; });
        if (jobs_.empty()) return;
        fn = std::move(jobs_.front());
        jobs_.pop_front();
      }
      fn();
    }
  }

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> workers_;
  bool done_ = false;
};

struct Conn {
  // Connections are known by id, not descriptor: a detached descriptor may be closed by its
  // new owner and its number reused by a new connection before the front forgets the old.
  std::uint64_t id = 0;
  int fd = -1;
  std::string addr;
  int port = 0;
  std::string in;
  // A worker runs its request and owns every field below meanwhile; it clears this (release)
  // after its last write to them, before it re-arms the descriptor.
  std::atomic<bool> busy{false};
  bool fresh = true;      // no request served yet on this connection
  bool head_done = false; // the head of the next request has arrived
  std::size_t need = 0;   // bytes of `in` the next request needs (valid once head_done)
  Clock::time_point waiting_since;
  Clock::time_point first_byte;
  Clock::time_point head_at;
};

enum class Outcome { accepted, close, detached };

enum class Parsed { incomplete, complete, too_large };

bool iequal_prefix(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

std::string_view trim_view(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string plain_error(int status, const char* reason, const char* code, const char* message,
                        const char* extra = "") {
  std::string body = fmt::format(R"({{"error":{{"code":"{}","message":"{}"}}}})", code, message);
  return fmt::format("HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
                     "Connection: close\r\n{}\r\n{}",
                     status, reason, body.size(), extra, body);
}

void set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL, 0);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// Reads what has arrived on a non-blocking socket into `in`; false when the peer closed or
// failed.
bool read_available(Conn& c, std::size_t limit) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
    if (n > 0) {
      if (c.in.empty()) c.first_byte = Clock::now();
      c.in.append(buf, static_cast<std::size_t>(n));
      if (c.in.size() > limit) return true;
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

// Whether `in` holds the whole next request (head, and a Content-Length body up to
// max_body); records what it learnt in the connection. Answers Expect: 100-continue itself
// (and drops the header) so that no worker waits for a body.
Parsed parse_request(Conn& c, std::size_t max_body) {
  if (!c.head_done) {
    // Blank lines before a request are allowed (RFC 9112 §2.2).
    std::size_t lead = 0;
    while (lead + 1 < c.in.size() && c.in[lead] == '\r' && c.in[lead + 1] == '\n') lead += 2;
    if (lead != 0) c.in.erase(0, lead);
    std::size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) {
      return c.in.size() > max_head_bytes ? Parsed::too_large : Parsed::incomplete;
    }
    std::size_t head_len = end + 4;
    std::size_t body = 0;
    bool framed = false; // Content-Length or Transfer-Encoding given
    bool expect = false;
    std::size_t expect_at = 0;
    std::size_t expect_len = 0;
    std::string_view head(c.in.data(), head_len);
    std::size_t pos = head.find("\r\n") + 2;
    while (pos < end) {
      std::size_t eol = head.find("\r\n", pos);
      std::string_view line = head.substr(pos, eol - pos);
      if (iequal_prefix(line, "content-length:")) {
        framed = true;
        auto v = trim_view(line.substr(15));
        std::size_t cl = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), cl);
        // Anything malformed or too large goes to httplib at once, which refuses it.
        if (ec == std::errc() && p == v.data() + v.size() && cl <= max_body) body = cl;
      } else if (iequal_prefix(line, "transfer-encoding:")) {
        framed = true;
        body = 0;
        break;
      } else if (iequal_prefix(line, "expect:")) {
        expect = true;
        expect_at = pos;
        expect_len = eol + 2 - pos;
      }
      pos = eol + 2;
    }
    if (expect && body != 0 && c.in.size() < head_len + body) {
      static const std::string go_on = "HTTP/1.1 100 Continue\r\n\r\n";
      [[maybe_unused]] auto n = ::send(c.fd, go_on.data(), go_on.size(), MSG_NOSIGNAL);
      c.in.erase(expect_at, expect_len);
      head_len -= expect_len;
    }
    if (!framed) {
      // A request without either has no body (RFC 9112 §6.3); httplib would read one until
      // the peer closes, so say so.
      static const std::string empty = "Content-Length: 0\r\n";
      c.in.insert(end + 2, empty);
      head_len += empty.size();
    }
    c.head_done = true;
    c.head_at = Clock::now();
    c.need = head_len + body;
  }
  return c.in.size() >= c.need ? Parsed::complete : Parsed::incomplete;
}

// A worker that finished a response waits this long for the next request on the same
// connection before handing it back to the epoll thread: a busy keep-alive connection then
// costs no hand-over per request, an idle one holds the worker no longer than this.
constexpr int linger_ms = 2;

class FrontStream;
thread_local FrontStream* current_stream = nullptr;

// The request's bytes as httplib reads them: what the front buffered, then the socket.
class FrontStream : public httplib::Stream {
public:
  FrontStream(Conn& c, int epoll_fd) : c_(c), epoll_fd_(epoll_fd) {}

  bool is_readable() const override { return pos_ < c_.in.size() || wait(POLLIN); }
  bool is_writable() const override { return detached_ || wait(POLLOUT); }

  ssize_t read(char* ptr, std::size_t size) override {
    if (pos_ < c_.in.size()) {
      std::size_t n = std::min(size, c_.in.size() - pos_);
      std::memcpy(ptr, c_.in.data() + pos_, n);
      pos_ += n;
      return static_cast<ssize_t>(n);
    }
    if (detached_) return -1;
    for (;;) {
      ssize_t n = ::recv(c_.fd, ptr, size, 0);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if ((errno != EAGAIN && errno != EWOULDBLOCK) || !wait(POLLIN)) return -1;
    }
  }

  ssize_t write(const char* ptr, std::size_t size) override {
    if (detached_) return static_cast<ssize_t>(size);
    for (;;) {
      ssize_t n = ::send(c_.fd, ptr, size, MSG_NOSIGNAL);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if ((errno != EAGAIN && errno != EWOULDBLOCK) || !wait(POLLOUT)) return -1;
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = c_.addr;
    port = c_.port;
  }

  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    ip.clear();
    port = 0;
    if (::getsockname(c_.fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return;
    char buf[INET6_ADDRSTRLEN] = {};
    if (a.ss_family == AF_INET) {
      auto* v4 = reinterpret_cast<sockaddr_in*>(&a);
      ::inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof buf);
      port = ntohs(v4->sin_port);
    } else if (a.ss_family == AF_INET6) {
      auto* v6 = reinterpret_cast<sockaddr_in6*>(&a);
      ::inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof buf);
      port = ntohs(v6->sin6_port);
    }
    ip = buf;
  }

  socket_t socket() const override { return c_.fd; }

  /// Drops what the request consumed from the connection's buffer.
  void consume() { c_.in.erase(0, pos_); }
  bool detached() const { return detached_; }
  DetachedConnection detach() {
    detached_ = true;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c_.fd, nullptr);
    return {c_.fd, c_.addr, c_.in};
  }

private:
  bool wait(short events) const {
    pollfd p{c_.fd, events, 0};
    for (;;) {
      int r = ::poll(&p, 1, io_timeout_ms);
      if (r < 0 && errno == EINTR) continue;
      return r > 0;
    }
  }

  Conn& c_;
  int epoll_fd_;
  std::size_t pos_ = 0;
  bool detached_ = false;
};

} // namespace

struct FrontServer::Impl {
  FrontServer& owner;
  FrontOptions options;
  int epoll_fd = -1;
  int wake_fd = -1;
  std::thread thread;
  std::atomic<bool> running{false};
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> open_count{0};
  std::unique_ptr<WorkerPool> pool;

  // Owned by the epoll thread.
  std::unordered_map<std::uint64_t, std::unique_ptr<Conn>> conns;
  std::uint64_t next_id = 1;
  std::unordered_map<std::string, std::size_t> per_address;
  Clock::time_point last_sweep = Clock::now();

  // Handed to the epoll thread by the accept thread and the workers.
  std::mutex mu;
  std::vector<std::pair<Conn*, Outcome>> inbox;
  std::vector<int> accepted;

  Impl(FrontServer& o, FrontOptions opts) : owner(o), options(opts) {}

  void set_count() {
    open_count.store(conns.size());
    if (options.connections_gauge != nullptr) {
      options.connections_gauge->store(static_cast<std::int64_t>(conns.size()));
    }
  }

  void post(Conn* c, Outcome o, int fd = -1) {
    {
      std::lock_guard lock(mu);
      if (c != nullptr) {
        inbox.emplace_back(c, o);
      } else {
        accepted.push_back(fd);
      }
    }
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
  }

  void loop();
  void drain_inbox();
  void admit(int fd);
  void park(Conn& c);
  void rearm(Conn& c);
  void on_readable(Conn& c);
  void dispatch(Conn& c);
  void serve(Conn* c);
  void refuse(Conn& c, const std::string& response);
  void close(Conn& c);
  void sweep();
};

void FrontServer::Impl::loop() {
  std::vector<epoll_event> events(512);
  while (running.load()) {
    int n = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), 100);
    if (n < 0 && errno != EINTR) {
      LOG_ERROR("front: epoll_wait failed: {}", std::strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      std::uint64_t tag = events[static_cast<std::size_t>(i)].data.u64;
      if (tag == wake_tag) {
        std::uint64_t count;
        [[maybe_unused]] auto r = ::read(wake_fd, &count, sizeof count);
        drain_inbox();
        continue;
      }
      auto it = conns.find(tag);
      if (it != conns.end()) on_readable(*it->second);
    }
    if (Clock::now() - last_sweep >= std::chrono::milliseconds(100)) sweep();
  }
}

void FrontServer::Impl::drain_inbox() {
  std::vector<std::pair<Conn*, Outcome>> done;
  std::vector<int> fresh;
  {
    std::lock_guard lock(mu);
    done.swap(inbox);
    fresh.swap(accepted);
  }
  for (auto [c, outcome] : done) {
    switch (outcome) {
    case Outcome::detached: {
      // The handler owns the descriptor now: forget it without closing it.
      if (--per_address[c->addr] == 0) per_address.erase(c->addr);
      conns.erase(c->id);
      set_count();
      break;
    }
    case Outcome::close:
    case Outcome::accepted:
      close(*c);
      break;
    }
  }
  for (int fd : fresh) admit(fd);
}

void FrontServer::Impl::admit(int fd) {
  auto c = std::make_unique<Conn>();
  c->id = next_id++;
  c->fd = fd;
  Peer peer = peer_of(fd);
  c->addr = std::move(peer.address);
  c->port = peer.port;
  timeval tv{io_timeout_ms / 1000, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::size_t& held = per_address[c->addr];
  if (held >= options.max_per_address || stopping.load()) {
    if (held == 0) per_address.erase(c->addr);
    if (options.on_refusal && !stopping.load()) {
      options.on_refusal(503, "connections", c->addr, "too many connections from this address");
    }
    std::string r = plain_error(503, "Service Unavailable", "unavailable",
                                "too many connections from this address", "Retry-After: 5\r\n");
    [[maybe_unused]] auto n = ::send(fd, r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::close(fd);
    return;
  }
  ++held;
  Conn& ref = *c;
  conns.emplace(ref.id, std::move(c));
  set_count();
  park(ref);
}

void FrontServer::Impl::park(Conn& c) {
  set_nonblocking(c.fd);
  c.waiting_since = Clock::now();
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
  ev.data.u64 = c.id;
  ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c.fd, &ev);
}

void FrontServer::Impl::rearm(Conn& c) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
  ev.data.u64 = c.id;
  ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c.fd, &ev);
}

void FrontServer::Impl::on_readable(Conn& c) {
  if (c.busy.load(std::memory_order_acquire)) return;
  if (!read_available(c, max_head_bytes + options.max_body)) return close(c);
  switch (parse_request(c, options.max_body)) {
  case Parsed::complete:
    return dispatch(c);
  case Parsed::too_large:
    if (options.on_refusal)
      options.on_refusal(431, "headers", c.addr, "the request head is too large");
    return refuse(c, plain_error(431, "Request Header Fields Too Large", "headers_too_large",
                                 "the request head is too large"));
  case Parsed::incomplete:
    return rearm(c);
  }
}

void FrontServer::Impl::dispatch(Conn& c) {
  c.fresh = false;
  c.busy.store(true, std::memory_order_relaxed);
  Conn* p = &c;
  pool->enqueue([this, p] { serve(p); });
}

void FrontServer::Impl::serve(Conn* c) {
  for (;;) {
    FrontStream s(*c, epoll_fd);
    current_stream = &s;
    bool closed = false;
    bool ok = false;
    try {
      ok = owner.run_request(s, stopping.load(), closed);
    } catch (const std::exception& e) {
      LOG_ERROR("front: a request failed: {}", e.what());
    }
    current_stream = nullptr;
    if (s.detached()) return post(c, Outcome::detached);
    s.consume();
    if (!ok || closed || stopping.load()) return post(c, Outcome::close);
    c->head_done = false;
    c->need = 0;
    c->waiting_since = Clock::now();
    if (!c->in.empty()) c->first_byte = c->waiting_since;
    if (c->in.empty()) {
      pollfd p{c->fd, POLLIN, 0};
      if (::poll(&p, 1, linger_ms) > 0 && !read_available(*c, max_head_bytes + options.max_body)) {
        return post(c, Outcome::close);
      }
    }
    Parsed next = c->in.empty() ? Parsed::incomplete : parse_request(*c, options.max_body);
    if (next == Parsed::complete) continue;
    if (next == Parsed::too_large) return post(c, Outcome::close);
    c->busy.store(false, std::memory_order_release);
    return rearm(*c);
  }
}

void FrontServer::Impl::refuse(Conn& c, const std::string& response) {
  [[maybe_unused]] auto n = ::send(c.fd, response.data(), response.size(), MSG_NOSIGNAL);
  close(c);
}

void FrontServer::Impl::close(Conn& c) {
  int fd = c.fd;
  ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
  ::close(fd);
  if (--per_address[c.addr] == 0) per_address.erase(c.addr);
  conns.erase(c.id);
  set_count();
}

void FrontServer::Impl::sweep() {
  auto now = Clock::now();
  last_sweep = now;
  std::vector<std::uint64_t> idle;
  std::vector<std::uint64_t> late;
  for (auto& [id, c] : conns) {
    if (c->busy.load(std::memory_order_acquire)) continue;
    if (!c->fresh && !c->head_done && c->in.empty()) {
      // A kept-alive connection: nothing sent since its last response.
      if (now - c->waiting_since > options.idle_timeout) idle.push_back(id);
    } else if (c->head_done) {
      if (now - c->head_at > options.head_timeout) late.push_back(id);
    } else {
      auto since = c->in.empty() ? c->waiting_since : c->first_byte;
      if (now - since > options.head_timeout) {
        (c->in.empty() ? idle : late).push_back(id);
      }
    }
  }
  for (auto id : idle) {
    if (auto it = conns.find(id); it != conns.end()) close(*it->second);
  }
  for (auto id : late) {
    auto it = conns.find(id);
    if (it == conns.end()) continue;
    if (options.on_refusal) {
      options.on_refusal(408, "timeout", it->second->addr, "the request did not arrive in time");
    }
    refuse(*it->second,
           plain_error(408, "Request Timeout", "timeout", "the request did not arrive in time"));
  }
}

FrontServer::FrontServer(FrontOptions options) : impl_(std::make_unique<Impl>(*this, options)) {
  new_task_queue = [] { return new InlineQueue; };
}

FrontServer::~FrontServer() {
  stop_front();
}

void FrontServer::start_front() {
  Impl& m = *impl_;
  if (m.running.load()) return;
  // httplib listens with a backlog of 5 (0.11.4); a burst of connections must not wait on it.
  ::listen(svr_sock_, m.options.backlog);
  m.epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  m.wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = wake_tag;
  ::epoll_ctl(m.epoll_fd, EPOLL_CTL_ADD, m.wake_fd, &ev);
  m.pool = std::make_unique<WorkerPool>(m.options.workers);
  m.running.store(true);
  m.thread = std::thread([&m] { m.loop(); });
}

void FrontServer::stop_front() {
  Impl& m = *impl_;
  if (!m.running.load()) return;
  m.stopping.store(true);
  // Requests already running or queued finish (with Connection: close); their connections
  // come back through the inbox and are closed there.
  m.pool->shutdown();
  m.running.store(false);
  m.thread.join();
  m.drain_inbox();
  std::vector<std::uint64_t> ids;
  for (auto& [id, c] : m.conns) ids.push_back(id);
  for (auto id : ids) m.close(*m.conns[id]);
  ::close(m.epoll_fd);
  ::close(m.wake_fd);
  m.epoll_fd = m.wake_fd = -1;
}

std::size_t FrontServer::connections() const {
  return impl_->open_count.load();
}

DetachedConnection FrontServer::detach_current_connection() {
  if (current_stream == nullptr) return {};
  return current_stream->detach();
}

bool FrontServer::process_and_close_socket(socket_t sock) {
  impl_->post(nullptr, Outcome::accepted, sock);
  return true;
}

bool FrontServer::run_request(httplib::Stream& strm, bool close_connection,
                              bool& connection_closed) {
  return process_request(strm, close_connection, connection_closed, nullptr);
}

} // namespace wabactl::server
