// `wabactl unread --watch`: the count now and at every change, from the daemon's SSE
// stream ($WABACTL_URL + $WABACTL_TOKEN) or from the database.
#include "integration/test_stream_support.hpp"

#include <doctest/doctest.h>
#include <poll.h>
#include <sys/wait.h>

#include <csignal>

namespace {

// `wabactl args...` running in the background, its stdout read line by line.
class Watcher {
public:
  Watcher(const testsupport::Wabactl& w, const std::vector<std::string>& args,
          const std::map<std::string, std::string>& extra_env,
          const std::filesystem::path& err_file) {
    auto env = w.env;
    for (const auto& [k, v] : extra_env) env[k] = v;
    for (const char* keep : {"PATH", "HOME", "LANG", "TMPDIR", "ASAN_OPTIONS", "UBSAN_OPTIONS"}) {
      if (const char* v = std::getenv(keep); v != nullptr && env.count(keep) == 0) env[keep] = v;
    }
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    std::vector<std::string> argv_strings = {WABACTL_BINARY};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv, envp;
    for (auto& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    int out[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    std::string err_path = err_file.string();
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(out[1], 1);
      ::dup2(err, 2);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(out[1]);
    fd_ = out[0];
  }
  ~Watcher() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    ::close(fd_);
  }
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  std::optional<std::string> line(int timeout_ms = 5000) {
    for (;;) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string l = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return l;
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) return std::nullopt;
      char b[4096];
      ssize_t n = ::read(fd_, b, sizeof b);
      if (n <= 0) return std::nullopt;
      buf_.append(b, static_cast<std::size_t>(n));
    }
  }

private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buf_;
};

void check_watch(streamtest::Setup& s, const std::map<std::string, std::string>& env,
                 const std::filesystem::path& err) {
  s.inbound("wamid.U0", "before the watch");
  Watcher watch(s.w, {"unread", "--tenant", "acme", "--watch"}, env, err);
  CHECK(watch.line() == std::optional<std::string>("1"));
  s.inbound("wamid.U1", "one more");
  CHECK(watch.line() == std::optional<std::string>("2"));
  // A change by another process, and other tenants' messages do not print.
  s.inbound("wamid.G1", "globex", true);
  REQUIRE(s.w({"mark-read", "--tenant", "acme", "--all", "--no-receipt"}).exit_code == 0);
  CHECK(watch.line() == std::optional<std::string>("0"));
  s.inbound("wamid.U2", "again");
  CHECK(watch.line() == std::optional<std::string>("1"));
}

} // namespace

TEST_CASE("unread --watch follows the database when no daemon is named") {
  streamtest::Setup s;
  auto err = s.dir / "watch.err";
  check_watch(s, {}, err);
  CHECK(testsupport::slurp(err).empty());
}

TEST_CASE("unread --watch follows the daemon's SSE stream with WABACTL_URL and WABACTL_TOKEN") {
  streamtest::Setup s;
  auto err = s.dir / "watch.err";
  check_watch(s,
              {{"WABACTL_URL", fmt::format("http://127.0.0.1:{}/", s.daemon->port())},
               {"WABACTL_TOKEN", s.acme_token}},
              err);
  CHECK(testsupport::slurp(err).empty());
}

TEST_CASE("unread --watch falls back to the database when the daemon refuses the token") {
  streamtest::Setup s;
  auto err = s.dir / "watch.err";
  check_watch(s,
              {{"WABACTL_URL", fmt::format("http://127.0.0.1:{}", s.daemon->port())},
               {"WABACTL_TOKEN", "wbt_not-a-real-token"}},
              err);
  CHECK(testsupport::slurp(err).find("watching the database instead") != std::string::npos);
  auto bad = s.w({"unread", "--tenant", "acme", "--watch"}, {},
                 {{"WABACTL_URL", "ftp://x"}, {"WABACTL_TOKEN", "t"}});
  CHECK(bad.exit_code == 2);
  auto both = s.w({"unread", "--tenant", "acme", "--watch", "--by-contact"});
  CHECK(both.exit_code == 2);
  CHECK(s.w({"unread", "--tenant", "nobody", "--watch"}).exit_code == 3);
}

TEST_CASE("unread --watch refuses another tenant's token (exit 4), never printing its count") {
  streamtest::Setup s;
  s.inbound("wamid.G0", "for globex", true);
  std::map<std::string, std::string> env = {
      {"WABACTL_URL", fmt::format("http://127.0.0.1:{}", s.daemon->port())},
      {"WABACTL_TOKEN", s.globex_token}};
  // The token is known to this database as globex's.
  auto same = s.w({"unread", "--tenant", "acme", "--watch"}, {}, env);
  CHECK(same.exit_code == 4);
  CHECK(same.out.empty());
  CHECK(same.err.find("not a token of tenant 'acme'") != std::string::npos);
  // A database that does not know the token: the stream's events show whose it is.
  auto other = (s.dir / "other.db").string();
  REQUIRE(s.w({"--db", other, "tenant", "add", "acme"}).exit_code == 0);
  auto foreign = s.w({"--db", other, "unread", "--tenant", "acme", "--watch"}, {}, env);
  CHECK(foreign.exit_code == 4);
  CHECK(foreign.out == "0\n");
  CHECK(foreign.err.find("not a token of tenant 'acme'") != std::string::npos);
}
