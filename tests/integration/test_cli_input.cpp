// Integration tests of bad input on every flag of the foundation commands: the documented
// exit code, exactly one `wabactl: error: ` line, and nothing lost.
#include "integration/test_cli_helpers.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstring>
#include <fstream>
#include <map>

using namespace clitest;

namespace {

struct Case {
  std::string name;
  std::vector<std::string> args;
  std::string input;
  std::map<std::string, std::string> env;
  int code;
};

void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

// A path that exists but cannot be read as a file. Permissions do not stop root, so as
// root it is a Unix socket (open() fails with ENXIO).
std::filesystem::path unreadable_file(const TempDir& dir) {
  auto p = dir / "unreadable";
  if (::geteuid() != 0) {
    write_file(p, token);
    REQUIRE(::chmod(p.c_str(), 0) == 0);
    return p;
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(p.string().size() < sizeof addr.sun_path);
  std::memcpy(addr.sun_path, p.c_str(), p.string().size() + 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  ::close(fd);
  return p;
}

std::vector<std::string> set_args(std::vector<std::string> extra,
                                  const std::string& tenant = "acme",
                                  const std::string& phone = phone_id) {
  std::vector<std::string> args{"config", "set", "--tenant", tenant, "--phone-number-id", phone};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

} // namespace

TEST_CASE("cli: bad input to config set fails cleanly and loses nothing") {
  Env e;
  auto& w = e.w;
  check_ok(
      w({"config", "set", "--tenant", "acme", "--phone-number-id", phone_id, "--access-token-stdin",
         "--business-account-id", "42", "--verify-token", verify_token},
        token, {{"WABA_APP_SECRET", app_secret}}));
  const auto before = e.config();
  REQUIRE_FALSE(before.is_null());
  e.graph.clear();

  const std::string mb(1024 * 1024, 'A');
  const std::string big_arg(100 * 1024, '7');
  write_file(e.dir / "empty", "");
  write_file(e.dir / "blank", " \n\n");
  write_file(e.dir / "huge", mb);
  write_file(e.dir / "spaced", "two words\n");
  write_file(e.dir / "ok", token);
  std::filesystem::create_directory(e.dir / "folder");
  const auto unreadable = unreadable_file(e.dir);
  const auto f = [&](const char* name) { return (e.dir / name).string(); };

  const std::vector<Case> cases = {
      {"empty tenant", set_args({"--access-token-stdin"}, ""), token, {}, 2},
      {"uppercase tenant", set_args({"--no-test"}, "ACME"), {}, {}, 2},
      {"leading dash tenant", set_args({"--no-test"}, "-acme"), {}, {}, 2},
      {"65-char tenant", set_args({"--no-test"}, std::string(65, 'a')), {}, {}, 2},
      {"unicode tenant", set_args({"--no-test"}, "acmé"), {}, {}, 2},
      {"huge tenant", set_args({"--no-test"}, std::string(100 * 1024, 'a')), {}, {}, 2},
      {"unknown tenant", set_args({"--access-token-stdin"}, "nobody"), token, {}, 3},
      {"empty phone number id", set_args({"--no-test"}, "acme", ""), {}, {}, 2},
      {"letters in phone number id", set_args({"--no-test"}, "acme", "12ab"), {}, {}, 2},
      {"phone number instead of id", set_args({"--no-test"}, "acme", "+15551234567"), {}, {}, 2},
      {"huge phone number id", set_args({"--no-test"}, "acme", big_arg), {}, {}, 2},
      {"token on argv", set_args({"--access-token", token}), {}, {}, 2},
      {"token on argv with =", set_args({"--access-token=" + token}), {}, {}, 2},
      {"app secret on argv", set_args({"--app-secret", app_secret}), {}, {}, 2},
      {"both stdin flags", set_args({"--access-token-stdin", "--app-secret-stdin"}), token, {}, 2},
      {"token file and stdin",
       set_args({"--access-token-file", f("ok"), "--access-token-stdin"}),
       token,
       {},
       2},
      {"app secret file and stdin",
       set_args({"--app-secret-file", f("ok"), "--app-secret-stdin"}),
       app_secret,
       {},
       2},
      {"empty token file", set_args({"--access-token-file", f("empty")}), {}, {}, 2},
      {"blank token file", set_args({"--access-token-file", f("blank")}), {}, {}, 2},
      {"1 MB token file", set_args({"--access-token-file", f("huge")}), {}, {}, 2},
      {"token with a space", set_args({"--access-token-file", f("spaced")}), {}, {}, 2},
      {"missing token file", set_args({"--access-token-file", f("missing")}), {}, {}, 2},
      {"token file is a folder", set_args({"--access-token-file", f("folder")}), {}, {}, 2},
      {"unreadable token file", set_args({"--access-token-file", unreadable.string()}), {}, {}, 2},
      {"token file under a file", set_args({"--access-token-file", f("ok") + "/x"}), {}, {}, 2},
      {"empty token file name", set_args({"--access-token-file", ""}), {}, {}, 2},
      {"empty token on stdin", set_args({"--access-token-stdin"}), {}, {}, 2},
      {"1 MB token on stdin", set_args({"--access-token-stdin"}), mb, {}, 2},
      {"empty app secret file", set_args({"--app-secret-file", f("empty")}), {}, {}, 2},
      {"1 MB app secret file", set_args({"--app-secret-file", f("huge")}), {}, {}, 2},
      {"app secret file is a folder", set_args({"--app-secret-file", f("folder")}), {}, {}, 2},
      {"unreadable app secret file",
       set_args({"--app-secret-file", unreadable.string()}),
       {},
       {},
       2},
      {"1 MB app secret on stdin", set_args({"--app-secret-stdin"}), mb, {}, 2},
      {"token with spaces in the environment", set_args({}), {}, {{"WABA_ACCESS_TOKEN", "a b"}}, 2},
      {"1 MB-ish token in the environment",
       set_args({}),
       {},
       {{"WABA_ACCESS_TOKEN", std::string(100 * 1024, 'T')}},
       2},
      {"app secret with a newline in the environment",
       set_args({}),
       {},
       {{"WABA_APP_SECRET", "abc\ndef"}},
       2},
      {"active and inactive", set_args({"--no-test", "--active", "--inactive"}), {}, {}, 2},
      {"empty api version", set_args({"--no-test", "--api-version", ""}), {}, {}, 2},
      {"bad api version", set_args({"--no-test", "--api-version", "25.0"}), {}, {}, 2},
      {"huge api version", set_args({"--no-test", "--api-version", "v" + big_arg}), {}, {}, 2},
      {"empty graph url", set_args({"--no-test", "--graph-url", ""}), {}, {}, 2},
      {"ftp graph url", set_args({"--no-test", "--graph-url", "ftp://graph.example"}), {}, {}, 2},
      {"graph url with a space", set_args({"--no-test", "--graph-url", "http://a b"}), {}, {}, 2},
      {"huge graph url", set_args({"--no-test", "--graph-url", "https://" + big_arg}), {}, {}, 2},
      {"empty business account id",
       set_args({"--no-test", "--business-account-id", ""}),
       {},
       {},
       2},
      {"letters in business account id",
       set_args({"--no-test", "--business-account-id", "x1"}),
       {},
       {},
       2},
      {"empty verify token", set_args({"--no-test", "--verify-token", ""}), {}, {}, 2},
      {"verify token with a space", set_args({"--no-test", "--verify-token", "a b"}), {}, {}, 2},
      {"huge verify token", set_args({"--no-test", "--verify-token", big_arg}), {}, {}, 2},
      {"missing phone number id", {"config", "set", "--tenant", "acme", "--no-test"}, {}, {}, 2},
      {"missing tenant", {"config", "set", "--phone-number-id", phone_id, "--no-test"}, {}, {}, 2},
      {"unknown flag", set_args({"--no-test", "--frobnicate"}), {}, {}, 2},
      {"stray argument", set_args({"--no-test", "extra"}), {}, {}, 2},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto r = w(c.args, c.input, c.env);
    check_error(r, c.code);
    CHECK(r.err.find(token) == std::string::npos);
    CHECK(r.err.find(app_secret) == std::string::npos);
  }
  // Nothing was saved and Meta was never asked.
  CHECK(e.config() == before);
  CHECK(e.graph.requests().empty());

  auto r = w(set_args({"--access-token-stdin"}, "nobody"), token);
  CHECK(r.err.find("wabactl tenant add nobody") != std::string::npos);
}

TEST_CASE("cli: config set needs an access token when none is stored") {
  Env e;
  auto r = e.w(set_args({"--no-test"}));
  check_error(r, 2);
  CHECK(r.err.find("WABA_ACCESS_TOKEN") != std::string::npos);
  check_error(e.w({"config", "get", "--tenant", "acme"}), 3);
}

TEST_CASE("cli: phone number ids belong to one tenant") {
  Env e;
  check_ok(e.set_config({"--no-test"}));
  check_ok(e.w({"tenant", "add", "beta"}));
  auto r = e.w(set_args({"--no-test"}, "beta"), {}, {{"WABA_ACCESS_TOKEN", token}});
  check_error(r, 8);
  check_error(e.w({"config", "get", "--tenant", "beta"}), 3);
}

TEST_CASE("cli: bad input to tenant, config get/delete/test and key commands") {
  Env e;
  auto& w = e.w;
  check_ok(e.set_config({"--no-test"}));
  const auto before = e.config();
  const std::string long_id(65, 'a');
  const std::vector<Case> cases = {
      {"tenant add: empty id", {"tenant", "add", ""}, {}, {}, 2},
      {"tenant add: uppercase", {"tenant", "add", "Acme"}, {}, {}, 2},
      {"tenant add: leading dash", {"tenant", "add", "--", "-acme"}, {}, {}, 2},
      {"tenant add: 65 characters", {"tenant", "add", long_id}, {}, {}, 2},
      {"tenant add: unicode", {"tenant", "add", "ünï"}, {}, {}, 2},
      {"tenant add: path", {"tenant", "add", "../etc"}, {}, {}, 2},
      {"tenant add: existing", {"tenant", "add", "acme"}, {}, {}, 8},
      {"tenant add: missing id", {"tenant", "add"}, {}, {}, 2},
      {"tenant add: huge name",
       {"tenant", "add", "big", "--name", std::string(100 * 1024, 'n')},
       {},
       {},
       2},
      {"tenant add: control characters in name",
       {"tenant", "add", "ctl", "--name", "a\x1b[2J"},
       {},
       {},
       2},
      {"tenant remove: unknown", {"tenant", "remove", "nobody", "--yes"}, {}, {}, 3},
      {"tenant remove: invalid", {"tenant", "remove", "No Body", "--yes"}, {}, {}, 2},
      {"tenant remove: without --yes", {"tenant", "remove", "acme"}, {}, {}, 2},
      {"tenant list: stray argument", {"tenant", "list", "x"}, {}, {}, 2},
      {"config get: unknown tenant", {"config", "get", "--tenant", "nobody"}, {}, {}, 3},
      {"config get: invalid tenant", {"config", "get", "--tenant", "a b"}, {}, {}, 2},
      {"config get: empty tenant", {"config", "get", "--tenant", ""}, {}, {}, 2},
      {"config delete: unknown tenant", {"config", "delete", "--tenant", "nobody"}, {}, {}, 3},
      {"config delete: invalid tenant", {"config", "delete", "--tenant", long_id}, {}, {}, 2},
      {"config test: unknown tenant", {"config", "test", "--tenant", "nobody"}, {}, {}, 3},
      {"config test: invalid tenant", {"config", "test", "--tenant", "-x"}, {}, {}, 2},
      {"--db: empty", {"tenant", "list", "--db", ""}, {}, {}, 2},
      {"--db: a folder", {"tenant", "list", "--db", e.dir.path().string()}, {}, {}, 2},
      {"--db: under a file", {"--db", e.w.key.string() + "/x.db", "tenant", "list"}, {}, {}, 2},
      {"--key-file: empty", {"config", "get", "--tenant", "acme", "--key-file", ""}, {}, {}, 2},
      {"--key-file: a folder",
       {"config", "get", "--tenant", "acme", "--key-file", e.dir.path().string()},
       {},
       {},
       4},
      {"--key-file: missing",
       {"config", "get", "--tenant", "acme", "--key-file", (e.dir / "nope").string()},
       {},
       {},
       4},
      {"--config: missing",
       {"--config", (e.dir / "nope.conf").string(), "tenant", "list"},
       {},
       {},
       2},
      {"key init: key file under a file",
       {"key", "init", "--key-file", e.w.key.string() + "/sub.key"},
       {},
       {},
       2},
      {"key init: key file is a folder",
       {"key", "init", "--force", "--key-file", e.dir.path().string()},
       {},
       {},
       2},
      {"key rotate: no new key file", {"key", "rotate"}, {}, {}, 2},
      {"key rotate: empty new key file", {"key", "rotate", "--new-key-file", ""}, {}, {}, 2},
      {"key rotate: new key file is a folder",
       {"key", "rotate", "--new-key-file", e.dir.path().string()},
       {},
       {},
       4},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    check_error(w(c.args, c.input, c.env), c.code);
  }
  auto r = w({"config", "get", "--tenant", "nobody"});
  CHECK(r.err.find("wabactl tenant add nobody") != std::string::npos);
  CHECK(e.config() == before);
  check_ok(w({"tenant", "add", "beta"}));
  r = w({"config", "get", "--tenant", "beta"});
  check_error(r, 3);
  CHECK(r.err.find("config set") != std::string::npos);
}
