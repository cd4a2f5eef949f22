// wabactl serve: start-up flags, systemd notifications, graceful stop; and the daemon's
// building blocks (address parsing, failure limiter, metrics, sd_notify).
#include "integration/test_serve_support.hpp"
#include "server/metrics.hpp"
#include "server/rate_limit.hpp"
#include "support/signing.hpp"
#include "util/sd_notify.hpp"
#include "wabactl/error.hpp"
#include "wabactl/server.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sys/un.h>

using namespace servetest;
using testsupport::TempDir;
using testsupport::Wabactl;

namespace {

// A datagram socket standing in for systemd's notify socket.
class NotifySocket {
public:
  explicit NotifySocket(const std::string& name) : name_(name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    REQUIRE(name.size() < sizeof a.sun_path);
    std::memcpy(a.sun_path, name.data(), name.size());
    if (a.sun_path[0] == '@') a.sun_path[0] = '\0';
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) == 0);
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~NotifySocket() { ::close(fd_); }
  std::string receive() {
    char buf[1024];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }

private:
  std::string name_;
  int fd_ = -1;
};

std::int64_t count(const Wabactl& w, const std::string& sql) {
  SQLite::Database db(w.db.string(), SQLite::OPEN_READONLY);
  db.setBusyTimeout(5000);
  return db.execAndGet(sql).getInt64();
}

} // namespace

TEST_CASE("parse_listen_address accepts HOST:PORT and refuses the rest") {
  auto a = wabactl::parse_listen_address("127.0.0.1:8080");
  CHECK(a.host == "127.0.0.1");
  CHECK(a.port == 8080);
  CHECK(wabactl::parse_listen_address("[::1]:0").host == "::1");
  CHECK(wabactl::parse_listen_address("localhost:65535").port == 65535);
  for (const char* bad : {"", ":", "8080", "127.0.0.1", "127.0.0.1:", ":8080", "127.0.0.1:65536",
                          "127.0.0.1:-1", "127.0.0.1:80x", "::1:8080", "[::1]8080",
                          "[::1]:", "host name:80", "a/b:80", "127.0.0.1:99999999999999999999"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(wabactl::parse_listen_address(bad), wabactl::Error);
  }
  CHECK_THROWS_AS(wabactl::parse_listen_address(std::string(100000, 'a') + ":80"), wabactl::Error);
}

TEST_CASE("the failure limiter answers 429 to failures beyond N within a minute") {
  wabactl::server::FailureLimiter limiter(3, 4);
  auto t0 = wabactl::server::FailureLimiter::Clock::now();
  for (int i = 0; i < 3; ++i) {
    CHECK_FALSE(limiter.failure("198.51.100.1", t0 + std::chrono::seconds(i)));
  }
  CHECK(limiter.failure("198.51.100.1", t0 + std::chrono::seconds(3)));
  CHECK_FALSE(limiter.failure("198.51.100.2", t0 + std::chrono::seconds(3)));
  // A minute after the address stopped failing, its failures have expired.
  CHECK_FALSE(limiter.failure("198.51.100.1", t0 + std::chrono::seconds(64)));
  // Many addresses do not grow it without bound, and it keeps working.
  for (int i = 0; i < 100; ++i) limiter.failure(fmt::format("203.0.113.{}", i), t0);
  for (int i = 0; i < 3; ++i) CHECK_FALSE(limiter.failure("192.0.2.1", t0));
  CHECK(limiter.failure("192.0.2.1", t0));
}

TEST_CASE("metrics render Prometheus text with counters, labels and a histogram") {
  wabactl::server::Metrics m;
  m.webhooks_received += 3;
  m.reject(wabactl::server::Metrics::Rejection::signature);
  m.graph_error(131047);
  m.graph_error(131047);
  m.commit(0.0007, 5);
  m.commit(2.0, 1);
  std::string text = m.render();
  CHECK(text.find("wabactl_webhooks_received_total 3\n") != std::string::npos);
  CHECK(text.find("wabactl_webhooks_rejected_total{reason=\"signature\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("wabactl_graph_errors_total{code=\"131047\"} 2\n") != std::string::npos);
  CHECK(text.find("wabactl_commit_seconds_bucket{le=\"0.0005\"} 0\n") != std::string::npos);
  CHECK(text.find("wabactl_commit_seconds_bucket{le=\"0.001\"} 1\n") != std::string::npos);
  CHECK(text.find("wabactl_commit_seconds_bucket{le=\"+Inf\"} 2\n") != std::string::npos);
  CHECK(text.find("wabactl_commit_seconds_count 2\n") != std::string::npos);
  CHECK(text.find("wabactl_commit_deliveries_total 6\n") != std::string::npos);
}

TEST_CASE("sd_notify sends to path and abstract sockets, and does nothing without one") {
  TempDir dir;
  ::unsetenv("NOTIFY_SOCKET");
  CHECK_FALSE(wabactl::sd_notify("READY=1"));
  {
    std::string path = (dir / "notify").string();
    NotifySocket sock(path);
    ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
    CHECK(wabactl::sd_notify("READY=1"));
    CHECK(sock.receive() == "READY=1");
  }
  {
    std::string name = fmt::format("@wabactl-test-{}", ::getpid());
    NotifySocket sock(name);
    ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
    CHECK(wabactl::sd_notify("STOPPING=1"));
    CHECK(sock.receive() == "STOPPING=1");
  }
  ::setenv("NOTIFY_SOCKET", "relative/path", 1);
  CHECK_FALSE(wabactl::sd_notify("READY=1"));
  ::setenv("NOTIFY_SOCKET", ("/" + std::string(200, 'x')).c_str(), 1);
  CHECK_FALSE(wabactl::sd_notify("READY=1"));
  ::unsetenv("NOTIFY_SOCKET");
}

TEST_CASE("serve tells systemd READY=1 and STOPPING=1 and exits 0 on SIGTERM") {
  TempDir dir;
  Wabactl w(dir);
  REQUIRE(w({"key", "init"}).exit_code == 0);
  std::string path = (dir / "notify").string();
  NotifySocket sock(path);
  Daemon d(w, dir, {}, {{"NOTIFY_SOCKET", path}, {"JOURNAL_STREAM", "8:1234"}});
  CHECK(sock.receive().rfind("READY=1", 0) == 0);
  CHECK(d.stop(SIGTERM) == 0);
  CHECK(sock.receive() == "STOPPING=1");
  // Under systemd, journald adds the time: lines carry a priority prefix instead.
  std::string log = d.log();
  CHECK(log.find("<6>listening on http://127.0.0.1:") != std::string::npos);
  CHECK(log.find("wabactl: info:") == std::string::npos);
}

TEST_CASE("SIGTERM while clients post: exit 0, and every 200 is committed") {
  TempDir dir;
  Wabactl w(dir);
  REQUIRE(w({"key", "init"}).exit_code == 0);
  fixtures::add_tenant_config(w, dir, fixtures::acme);
  Daemon d(w, dir);
  std::mutex mu;
  std::vector<std::string> acknowledged;
  std::atomic<int> answered{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < 8; ++t) {
    pool.emplace_back([&, t] {
      auto c = d.client();
      for (int i = 0; i < 100000; ++i) {
        std::string id = fmt::format("wamid.T{}-{}", t, i);
        std::string body =
            inbound(fixtures::acme.phone_number_id, "15551230000", id, "drain", 1764000000 + i);
        httplib::Headers h{{"X-Hub-Signature-256",
                            testsupport::signature_header(body, fixtures::acme.app_secret)}};
        auto r = c.Post("/api/whatsapp/webhook", h, body, "application/json");
        if (!r) return;
        ++answered;
        if (r->status == 200) {
          std::lock_guard lock(mu);
          acknowledged.push_back(id);
        }
      }
    });
  }
  while (answered < 100) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(d.stop(SIGTERM) == 0);
  for (auto& t : pool) t.join();
  SQLite::Database db(w.db.string(), SQLite::OPEN_READONLY);
  for (const auto& id : acknowledged) {
    SQLite::Statement q(db, "SELECT count(*) FROM whatsapp_messages WHERE message_id = ?");
    q.bind(1, id);
    q.executeStep();
    CAPTURE(id);
    CHECK(q.getColumn(0).getInt() == 1);
  }
}

TEST_CASE("serve refuses bad flags with exit 2 and a busy port with exit 75") {
  TempDir dir;
  Wabactl w(dir);
  REQUIRE(w({"key", "init"}).exit_code == 0);
  for (std::vector<std::string> args : {std::vector<std::string>{"--listen", ""},
                                        {"--listen", "nonsense"},
                                        {"--listen", "127.0.0.1:70000"},
                                        {"--listen", std::string(5000, 'x')},
                                        {"--threads", "0"},
                                        {"--threads", "100000"},
                                        {"--threads", "many"},
                                        {"--max-body", "10"},
                                        {"--max-body", "99999999999"},
                                        {"--max-body", "-5"},
                                        {"--max-body", ""},
                                        {"--ws-listen", "bad"},
                                        {"--max-streams", "0"},
                                        {"--max-streams", "-1"},
                                        {"--max-streams", "lots"},
                                        {"--max-connections-per-address", "0"},
                                        {"--max-connections-per-address", "99999999"},
                                        {"--head-timeout", "0"},
                                        {"--head-timeout", "301"},
                                        {"--head-timeout", "1.5"},
                                        {"--bogus"}}) {
    args.insert(args.begin(), "serve");
    CAPTURE(args[1]);
    auto r = w(args);
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind("wabactl: error: ", 0) == 0);
  }
  // A port someone else holds.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, 1) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  auto r = w({"serve", "--listen", fmt::format("127.0.0.1:{}", ntohs(a.sin_port))});
  ::close(fd);
  CHECK(r.exit_code == 75);
  CHECK(count(w, "SELECT count(*) FROM tenants") == 0);
}
