#pragma once
// Helpers for the daemon's integration tests: the real `wabactl serve` as a child process,
// signed webhook bodies and raw HTTP requests.

#include "support/fixtures.hpp"
#include "support/signing.hpp"
#include "support/support.hpp"
#include "wabactl/webhook.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <httplib.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <thread>

namespace servetest {

/// A delivery with one inbound text message.
inline std::string inbound(const std::string& number_id, const std::string& from,
                           const std::string& wamid, const std::string& text, long ts = 1764000000,
                           const std::string& name = "Jane") {
  nlohmann::json value = {
      {"messaging_product", "whatsapp"},
      {"metadata", {{"display_phone_number", "15550000000"}, {"phone_number_id", number_id}}},
      {"contacts", {{{"profile", {{"name", name}}}, {"wa_id", from}}}},
      {"messages",
       {{{"from", from},
         {"id", wamid},
         {"timestamp", std::to_string(ts)},
         {"type", "text"},
         {"text", {{"body", text}}}}}}};
  return nlohmann::json{
      {"object", "whatsapp_business_account"},
      {"entry", {{{"id", "1"}, {"changes", {{{"field", "messages"}, {"value", value}}}}}}}}
      .dump();
}

/// A delivery with one status update for an outgoing message.
inline std::string status_update(const std::string& number_id, const std::string& wamid,
                                 const std::string& status, long ts = 1764000100) {
  nlohmann::json value = {
      {"messaging_product", "whatsapp"},
      {"metadata", {{"display_phone_number", "15550000000"}, {"phone_number_id", number_id}}},
      {"statuses",
       {{{"id", wamid},
         {"status", status},
         {"timestamp", std::to_string(ts)},
         {"recipient_id", "15551230000"}}}}};
  return nlohmann::json{
      {"object", "whatsapp_business_account"},
      {"entry", {{{"id", "1"}, {"changes", {{{"field", "messages"}, {"value", value}}}}}}}}
      .dump();
}

/// The real `wabactl serve` in the background.
class Daemon {
public:
  Daemon(const testsupport::Wabactl& w, const testsupport::TempDir& dir,
         std::vector<std::string> extra_args = {},
         std::map<std::string, std::string> extra_env = {})
      : w_(w), dir_(dir), args_(std::move(extra_args)), env_(std::move(extra_env)) {
    start();
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  ~Daemon() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string log() const { return testsupport::slurp(log_path()); }

  /// Starts (again) on a fresh port and waits until /healthz answers.
  void start() {
    port_ = testsupport::free_port();
    std::vector<std::string> env_strings;
    auto env = w_.env;
    for (const auto& [k, v] : env_) env[k] = v;
    for (const char* keep :
         {"PATH", "HOME", "LANG", "TMPDIR", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"}) {
      if (const char* v = std::getenv(keep); v != nullptr && env.count(keep) == 0) env[keep] = v;
    }
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    std::vector<std::string> argv_strings = {WABACTL_BINARY, "serve", "--listen",
                                             fmt::format("127.0.0.1:{}", port_),
                                             // The kernel's choice: port + 1 may be taken.
                                             "--ws-listen", "127.0.0.1:0"};
    argv_strings.insert(argv_strings.end(), args_.begin(), args_.end());
    std::vector<char*> argv, envp;
    for (auto& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string log_file = log_path().string();
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(fd, 2);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    wait_healthy();
  }

  /// Sends `sig` and waits for the exit; returns the exit status (128+N for a signal). A
  /// daemon still running `deadline` after the signal is killed and fails the test: a stop
  /// that hangs must not hang the suite.
  int stop(int sig = SIGTERM, std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    REQUIRE(pid_ > 0);
    ::kill(pid_, sig);
    const auto until = std::chrono::steady_clock::now() + deadline;
    int status = 0;
    for (;;) {
      pid_t done = ::waitpid(pid_, &status, WNOHANG);
      REQUIRE(done >= 0);
      if (done == pid_) break;
      if (std::chrono::steady_clock::now() >= until) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        FAIL("wabactl serve was still running ", deadline.count(), " ms after signal ", sig,
             "; killed it. Its log:\n", log());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  /// A client for this daemon.
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(std::chrono::seconds(5));
    c.set_read_timeout(std::chrono::seconds(30));
    return c;
  }

  /// POSTs a body signed with `secret` (or with `signature` as given when not empty).
  httplib::Result post(const std::string& path, const std::string& body, const std::string& secret,
                       const std::string& signature = {}) const {
    auto c = client();
    httplib::Headers h;
    std::string sig = signature.empty()
                          ? (secret.empty() ? "" : testsupport::signature_header(body, secret))
                          : signature;
    if (!sig.empty()) h.emplace("X-Hub-Signature-256", sig);
    return c.Post(path, h, body, "application/json");
  }

private:
  std::filesystem::path log_path() const { return dir_ / "serve.log"; }

  void wait_healthy() {
    for (int i = 0; i < 400; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL("wabactl serve exited early: ", log());
      }
      httplib::Client c("127.0.0.1", port_);
      c.set_connection_timeout(std::chrono::milliseconds(200));
      if (auto r = c.Get("/healthz"); r && r->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL("wabactl serve did not become healthy: ", log());
  }

  const testsupport::Wabactl& w_;
  const testsupport::TempDir& dir_;
  std::vector<std::string> args_;
  std::map<std::string, std::string> env_;
  pid_t pid_ = -1;
  int port_ = 0;
};

/// Sends raw bytes on a new connection and returns everything read until the server
/// closes or `timeout_ms` passes.
inline std::string raw_http(int port, const std::string& request, int timeout_ms = 5000) {
  int fd = testsupport::connect_loopback(port);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    // One response is enough once its body (by Content-Length) has arrived.
    auto end = out.find("\r\n\r\n");
    auto cl = out.find("Content-Length: ");
    if (end != std::string::npos && cl != std::string::npos && cl < end) {
      std::size_t len = std::stoul(out.substr(cl + 16));
      if (out.size() >= end + 4 + len) break;
    }
  }
  ::close(fd);
  return out;
}

/// The status code of a raw HTTP response ("HTTP/1.1 413 ..." → 413), 0 if none.
inline int status_of(const std::string& response) {
  if (response.size() < 12 || response.rfind("HTTP/1.", 0) != 0) return 0;
  return std::atoi(response.c_str() + 9);
}

} // namespace servetest
