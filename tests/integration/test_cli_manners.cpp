// The command line's manners with the real binary: help where a command is missing, the
// global options in every command's help, "did you mean" for typos, a strict --config, and
// colour only where it is wanted (a terminal, or --color=always; never a pipe or --json).
#include "integration/test_cli_helpers.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

using namespace clitest;

namespace {

const std::string esc = "\033[";

// Runs the binary with stdout and stderr on a pseudo-terminal, as in an interactive shell;
// returns its exit code and everything it wrote there.
std::pair<int, std::string> run_on_terminal(const Wabactl& w, const std::vector<std::string>& args,
                                            const std::map<std::string, std::string>& extra = {}) {
  std::vector<std::string> env_strings = {"PATH=/usr/bin:/bin"};
  for (const auto& [k, v] : w.env) env_strings.push_back(k + "=" + v);
  for (const auto& [k, v] : extra) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings{WABACTL_BINARY};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  int master = -1;
  int slave = -1;
  REQUIRE(::openpty(&master, &slave, nullptr, nullptr, nullptr) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(master);
    ::setsid();
    ::dup2(slave, 1);
    ::dup2(slave, 2);
    ::close(slave);
    ::execve(WABACTL_BINARY, argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(slave);
  std::string output;
  char buf[4096];
  for (;;) {
    pollfd p{master, POLLIN, 0};
    REQUIRE_MESSAGE(::poll(&p, 1, 30000) == 1, "the command hung on the terminal");
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break; // EIO once the child has closed its side
    output.append(buf, static_cast<std::size_t>(n));
  }
  ::close(master);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

// A tenant "acme" with one outgoing message Meta refused (status failed), local id 1.
void add_failed_message(Env& e) {
  check_ok(e.set_config({"--no-test"}));
  e.graph.set_handler([](const testsupport::Recorded& r) -> std::optional<testsupport::Reply> {
    if (r.path.find("/messages") == std::string::npos) return std::nullopt;
    return testsupport::Reply(400, FakeGraph::error_body(131026, "Message undeliverable"));
  });
  auto sent =
      e.w({"send", "--outside-window", "--tenant", "acme", "--to", "+15551234567", "--text", "hi"});
  REQUIRE(sent.exit_code == 5);
}

} // namespace

TEST_CASE("cli: wabactl or a command group without its subcommand prints help and exits 2") {
  TempDir dir;
  Wabactl w(dir);
  struct Case {
    std::vector<std::string> args;
    std::string usage;
    std::string lists;
  };
  for (const Case& c : {Case{{}, "Usage: wabactl ", "  tenant"},
                        Case{{"config"}, "Usage: wabactl config ", "  set"},
                        Case{{"key"}, "Usage: wabactl key ", "  rotate"},
                        Case{{"tenant"}, "Usage: wabactl tenant ", "  remove"},
                        Case{{"token"}, "Usage: wabactl token ", "  revoke"},
                        Case{{"--json", "tenant"}, "Usage: wabactl tenant ", "  add"}}) {
    CAPTURE(c.usage);
    auto r = w(c.args);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty()); // help that reports an error is a diagnostic: stderr
    CHECK(r.err.find(c.usage) != std::string::npos);
    CHECK(r.err.find(c.lists) != std::string::npos);
    // It still ends with the one error line every failure prints.
    auto lines = r.err_lines();
    REQUIRE_FALSE(lines.empty());
    CHECK(lines.back().rfind("wabactl: error: ", 0) == 0);
    CHECK(lines.back().find("needs a command") != std::string::npos);
    int error_lines = 0;
    for (const auto& l : lines) error_lines += l.rfind("wabactl: error:", 0) == 0 ? 1 : 0;
    CHECK(error_lines == 1);
  }
  // A mistyped subcommand is an error about the typo, not a page of help.
  check_error(w({"config", "lst"}), 2);
}

TEST_CASE("cli: every command's --help lists the global options, each as it is written") {
  TempDir dir;
  Wabactl w(dir);
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{{"tenant", "add"},
                                                                             {"config"},
                                                                             {"config", "set"},
                                                                             {"send"},
                                                                             {"history"},
                                                                             {"unread"},
                                                                             {"status"},
                                                                             {"token", "create"},
                                                                             {"key", "rotate"},
                                                                             {"serve"}}) {
    CAPTURE(args.front());
    CAPTURE(args.back());
    args.push_back("--help");
    auto r = w(args);
    check_ok(r);
    auto globals = r.out.find("Global options:");
    REQUIRE(globals != std::string::npos);
    std::string tail = r.out.substr(globals);
    for (std::string flag : {"--db PATH ", "--key-file PATH ", "--config FILE", "--json ",
                             "-q,--quiet ", "-v,--verbose ", "--color WHEN"}) {
      CHECK_MESSAGE(tail.find(flag) != std::string::npos, flag);
    }
    CHECK(r.out.find("PATH:PATH") == std::string::npos);
  }
  auto root = w({"--help"});
  check_ok(root);
  CHECK(root.out.find("--db PATH ") != std::string::npos);
  CHECK(root.out.find("PATH:PATH") == std::string::npos);
  // The root's own options are not listed a second time.
  CHECK(root.out.find("Global options:") == std::string::npos);
}

TEST_CASE("cli: a mistyped command, option or tenant id gets the closest real one") {
  Env e;
  auto& w = e.w;
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string hint;
  };
  for (const Case& c : {
           Case{{"tenat", "list"}, 2, "hint: did you mean 'tenant'?"},
           Case{{"histroy", "--tenant", "acme"}, 2, "hint: did you mean 'history'?"},
           Case{{"config", "lst"}, 2, "hint: did you mean 'list'?"},
           Case{{"tenant", "list", "--jsn"}, 2, "hint: did you mean '--json'?"},
           Case{{"--jsno", "tenant", "list"}, 2, "hint: did you mean '--json'?"},
           Case{{"history", "--tenant", "acme", "--limt=5"}, 2, "hint: did you mean '--limit'?"},
           Case{{"send", "--tenant", "acme", "--too", "1", "--text", "x"},
                2,
                "hint: did you mean '--to'?"},
           Case{{"history", "--tenant", "acm"}, 3, "hint: did you mean 'acme'?"},
           Case{{"unread", "--tenant", "acmee"}, 3, "hint: did you mean 'acme'?"},
       }) {
    CAPTURE(c.args.front());
    CAPTURE(c.hint);
    auto r = w(c.args);
    check_error(r, c.code);
    CHECK(r.err.find(c.hint) != std::string::npos);
  }
  // A tenant typo is never offered as a tenant to create.
  CHECK(w({"history", "--tenant", "acm"}).err.find("tenant add") == std::string::npos);
  // Nothing close: the usual hints, and no guess.
  auto far = w({"history", "--tenant", "zzz"});
  check_error(far, 3);
  CHECK(far.err.find("hint: run 'wabactl tenant add zzz'") != std::string::npos);
  for (auto args : std::vector<std::vector<std::string>>{
           {"bogus"}, {"tenant", "list", "--bogus"}, {"tenant", "list", "-x"}}) {
    CAPTURE(args.back());
    auto r = w(args);
    check_error(r, 2);
    CHECK(r.err.find("did you mean") == std::string::npos);
  }
}

TEST_CASE("cli: --config with a missing file or an unknown key is a usage error naming it") {
  Env e;
  const auto conf = e.dir / "wabactl.conf";
  auto run = [&](const std::string& text, std::vector<std::string> args) {
    write_text(conf, text);
    args.insert(args.begin(), {"--config", conf.string()});
    return e.w(args);
  };
  auto root_typo = run("jsno = true\n", {"tenant", "list"});
  check_error(root_typo, 2);
  CHECK(root_typo.err.find("unknown key 'jsno'") != std::string::npos);
  CHECK(root_typo.err.find(conf.string()) != std::string::npos);
  auto section_typo = run("[history]\nlimt = 5\n", {"history", "--tenant", "acme"});
  check_error(section_typo, 2);
  CHECK(section_typo.err.find("unknown key 'history.limt'") != std::string::npos);
  CHECK(section_typo.err.find("hint: did you mean 'limit'?") != std::string::npos);
  CHECK(root_typo.err.find("hint: did you mean 'json'?") != std::string::npos);
  // An unknown section is a typo too.
  auto no_command = run("[histroy]\nlimit = 5\n", {"tenant", "list"});
  check_error(no_command, 2);
  CHECK(no_command.err.find("unknown section [histroy]") != std::string::npos);
  CHECK(no_command.err.find("did you mean [history]?") != std::string::npos);
  // One file may hold several commands' sections: the others are read, not refused.
  auto shared = run("json = true\n[serve]\nlisten = \"127.0.0.1:9\"\n[history]\nlimit = 5\n",
                    {"tenant", "list"});
  check_ok(shared);
  CHECK(nlohmann::json::parse(shared.out)["id"] == "acme");
  const auto missing = e.dir / "absent.conf";
  auto absent = e.w({"tenant", "list", "--config=" + missing.string()});
  check_error(absent, 2);
  CHECK(absent.err.find("cannot read the config file '" + missing.string() + "'") !=
        std::string::npos);
}

TEST_CASE("cli: every key of the example config file, uncommented, is an option") {
  // A strict --config would stop a daemon whose config follows a stale example.
  Env e;
  std::istringstream example(testsupport::slurp(std::filesystem::path(WABACTL_SOURCE_DIR) /
                                                "systemd/wabactl.conf.example"));
  std::string text;
  int keys = 0;
  for (std::string line; std::getline(example, line);) {
    // "# name = value" is a key shown commented out; other comments are prose.
    if (line.rfind("# ", 0) == 0 && line.find(" = ") != std::string::npos &&
        line.find(' ', 2) == line.find(" = ")) {
      line = line.substr(2);
    }
    if (!line.empty() && line[0] != '#' && line[0] != '[') ++keys;
    text += line + "\n";
  }
  CHECK(keys >= 4);
  const auto conf = e.dir / "example.conf";
  write_text(conf, text);
  // --db on the command line beats the example's system path.
  check_ok(e.w({"--config", conf.string(), "tenant", "list", "--db", e.w.db.string()}));
}

TEST_CASE("cli: colour goes to a terminal or with --color=always, never to a pipe or --json") {
  Env e;
  add_failed_message(e);
  auto& w = e.w;
  const std::vector<std::string> status = {"status", "--tenant", "acme", "1"};
  const std::vector<std::string> missing = {"history", "--tenant", "nobody"};

  // Pipes (the test's stdout and stderr): no colour by default, whatever the command.
  for (const auto& args : {status, missing}) {
    auto r = w(args);
    CHECK(r.out.find(esc) == std::string::npos);
    CHECK(r.err.find(esc) == std::string::npos);
  }
  CHECK(w(status).out.find("failed") != std::string::npos);

  // --color=always colours the pipe too: the error prefix and the status word.
  auto painted = w({"--color=always", "status", "--tenant", "acme", "1"});
  check_ok(painted);
  CHECK(painted.out.find(esc + "31mfailed" + esc + "0m") != std::string::npos);
  auto error = w({"history", "--tenant", "nobody", "--color", "always"});
  CHECK(error.exit_code == 3);
  CHECK(error.err.rfind(esc + "1;31mwabactl: error:" + esc + "0m ", 0) == 0);
  // ... and beats $NO_COLOR, which only decides for auto.
  CHECK(w({"--color=always", "history", "--tenant", "nobody"}, {}, {{"NO_COLOR", "1"}})
            .err.find(esc) != std::string::npos);
  // --json output is data: never coloured.
  auto json = w({"--color=always", "--json", "status", "--tenant", "acme", "1"});
  check_ok(json);
  CHECK(json.out.find(esc) == std::string::npos);
  CHECK(nlohmann::json::parse(json.out)["status"] == "failed");

  // A terminal gets colour by default; NO_COLOR, TERM=dumb and --color=never take it away.
  auto [code, tty] = run_on_terminal(w, status);
  CHECK(code == 0);
  CHECK(tty.find(esc + "31mfailed") != std::string::npos);
  auto [code2, tty_error] = run_on_terminal(w, missing);
  CHECK(code2 == 3);
  CHECK(tty_error.find(esc + "1;31mwabactl: error:") != std::string::npos);
  for (const auto& [args, env] :
       std::vector<std::pair<std::vector<std::string>, std::map<std::string, std::string>>>{
           {status, {{"NO_COLOR", "1"}}},
           {missing, {{"NO_COLOR", "1"}}},
           {status, {{"TERM", "dumb"}}},
           {{"--color=never", "status", "--tenant", "acme", "1"}, {}},
           {{"--json", "status", "--tenant", "acme", "1"}, {}}}) {
    CAPTURE(args.front());
    auto [c, text] = run_on_terminal(w, args, env);
    CHECK(c == (args == missing ? 3 : 0));
    CHECK(text.find(esc) == std::string::npos);
  }
  // An empty NO_COLOR is no request (no-color.org): the terminal keeps its colour.
  CHECK(run_on_terminal(w, status, {{"NO_COLOR", ""}}).second.find(esc) != std::string::npos);
  check_error(w({"--color=blue", "tenant", "list"}), 2);
}
