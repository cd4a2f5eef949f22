// What a short-lived process skips at start-up. Commands that never open a connection skip
// OpenSSL's full set-up (cmd/wabactl/main.cpp): which commands those are, and, on the real
// binary, that they do not read OpenSSL's configuration file while the others still do.
// And each command builds only its own family of the command tree.
#include "integration/test_cli_helpers.hpp"
#include "wabactl/cli.hpp"

#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <thread>

using namespace clitest;

namespace {

bool no_connection(std::vector<const char*> args) {
  args.insert(args.begin(), "wabactl");
  return wabactl::cli::opens_no_connection(static_cast<int>(args.size()), args.data());
}

std::string_view command(std::vector<const char*> args) {
  args.insert(args.begin(), "wabactl");
  return wabactl::cli::command_word(static_cast<int>(args.size()), args.data());
}

// Points $OPENSSL_CONF at a FIFO and records whether a process opened it for reading: a
// thread keeps trying a non-blocking open for writing, which succeeds only while a reader
// has the FIFO open, and then gives that reader an empty configuration.
class ConfigWatch {
public:
  explicit ConfigWatch(const TempDir& dir) : path_((dir / "openssl.cnf").string()) {
    REQUIRE(::mkfifo(path_.c_str(), 0600) == 0);
    thread_ = std::thread([this] {
      while (!stop_) {
        int fd = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
          opened_ = true;
          ::close(fd);
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
  }
  ~ConfigWatch() {
    stop_ = true;
    thread_.join();
  }
  ConfigWatch(const ConfigWatch&) = delete;
  ConfigWatch& operator=(const ConfigWatch&) = delete;

  std::map<std::string, std::string> env() const { return {{"OPENSSL_CONF", path_}}; }
  /// Whether the configuration was read since the last call.
  bool read() { return opened_.exchange(false); }

private:
  std::string path_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> opened_{false};
  std::thread thread_;
};

} // namespace

TEST_CASE("tls setup: the command word skips global options and their values") {
  CHECK(command({"history", "--tenant", "acme"}) == "history");
  CHECK(command({"--db", "/tmp/x.db", "-v", "unread"}) == "unread");
  CHECK(command({"--db=/tmp/x.db", "--key-file", "k", "send"}) == "send");
  CHECK(command({"--config", "serve", "status"}) == "status"); // a config file named serve
  CHECK(command({"--color", "never", "history"}) == "history");
  CHECK(command({"--color=always", "-q", "tenant"}) == "tenant");
  CHECK(command({"--json", "--version"}).empty());
  CHECK(command({}).empty());
  CHECK(command({"--db"}).empty()); // a value-taking option at the end
}

TEST_CASE("tls setup: only commands that never connect skip it") {
  for (auto* c : {"history", "status", "tenant", "key", "token", "unread"}) {
    CAPTURE(c);
    CHECK(no_connection({c, "--tenant", "acme"}));
    CHECK(no_connection({"--db", "/tmp/x.db", c}));
  }
  CHECK(no_connection({"--version"}));
  CHECK(no_connection({"--help"}));
  CHECK(no_connection({}));

  // Anything that may call Meta, the daemon or a stream over https keeps OpenSSL's set-up.
  CHECK_FALSE(no_connection({"send", "--tenant", "acme"}));
  CHECK_FALSE(no_connection({"mark-read", "--tenant", "acme", "--all"}));
  CHECK_FALSE(no_connection({"config", "test", "--tenant", "acme"}));
  CHECK_FALSE(no_connection({"serve"}));
  CHECK_FALSE(no_connection({"unread", "--tenant", "acme", "--watch"}));
  CHECK_FALSE(no_connection({"unread", "--watch=true", "--tenant", "acme"}));
  CHECK_FALSE(no_connection({"bogus"}));
  // A value that looks like a command is not one.
  CHECK_FALSE(no_connection({"--db", "history", "send"}));
  // A config file may set any option, --watch included.
  CHECK_FALSE(no_connection({"--config", "/etc/x.conf", "history"}));
  CHECK_FALSE(no_connection({"--config=/etc/x.conf", "unread"}));
}

TEST_CASE("tls setup: local commands do not read openssl.cnf, the others still do") {
  Env e;
  check_ok(e.set_config({"--no-test"}));
  ConfigWatch conf(e.dir);

  for (const std::vector<std::string>& args : {std::vector<std::string>{"--version"},
                                               {"tenant", "list"},
                                               {"history", "--tenant", "acme"},
                                               {"unread", "--tenant", "acme"}}) {
    CAPTURE(args.front());
    check_ok(e.w(args, {}, conf.env()));
    CHECK_FALSE(conf.read());
  }

  // The control: OpenSSL's usual set-up reads the file the watch offers.
  check_ok(e.w({"config", "get", "--tenant", "acme"}, {}, conf.env()));
  CHECK(conf.read());
  auto r = e.w(
      {"send", "--outside-window", "--tenant", "acme", "--to", "+15551234567", "--text", "hello"},
      {}, conf.env());
  check_ok(r);
  CHECK(conf.read());
  CHECK(e.graph.count("POST", "/messages") == 1);
}

namespace {

// The top-level command names of a tree built for `only_command` (empty: the whole tree).
std::set<std::string> top_commands(std::string_view only_command) {
  std::ostringstream out;
  std::ostringstream err;
  wabactl::cli::Context ctx(out, err, false);
  CLI::App app;
  wabactl::cli::build_app(app, ctx, false, only_command);
  std::set<std::string> names;
  for (const auto* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    names.insert(sub->get_name());
  }
  return names;
}

} // namespace

TEST_CASE("startup: each command builds only its own family of the command tree") {
  auto all = top_commands({});
  REQUIRE(all.size() >= 10);
  for (const auto& command : all) {
    CAPTURE(command);
    auto own = top_commands(command);
    // Its family has it (a command mapped to the wrong family would be "unknown").
    CHECK(own.count(command) == 1);
    CHECK(own.size() < all.size());
  }
  // The four reading commands are one family.
  CHECK(top_commands("unread") ==
        std::set<std::string>{"history", "unread", "mark-read", "status"});
  // No command, or one that does not exist: the whole tree, for --help and a clear error.
  CHECK(top_commands("bogus") == all);
}

TEST_CASE("startup: the smaller tree parses and fails like the whole one") {
  Env e;
  check_ok(e.set_config({"--no-test"}));
  auto r = e.w({"unread", "--tenant", "acme", "--json"});
  check_ok(r);
  CHECK(r.out == "{\"count\":0}\n");
  // Global options before and after the command still work.
  check_ok(e.w({"--json", "history", "--tenant", "acme"}));
  check_error(e.w({"history", "--tenant", "acme", "--bogus"}), 2);
  check_error(e.w({"histroy", "--tenant", "acme"}), 2);
  auto help = e.w({"--help"});
  check_ok(help);
  for (const auto* command : {"key", "tenant", "config", "send", "history", "serve", "token"}) {
    CAPTURE(command);
    CHECK(help.out.find(std::string("  ") + command) != std::string::npos);
  }
  auto own_help = e.w({"status", "--help"});
  check_ok(own_help);
  CHECK(own_help.out.find("--tenant") != std::string::npos);
}
