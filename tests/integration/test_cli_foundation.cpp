// Integration tests of the foundation commands with the real binary and a fake Graph API:
// key init, tenants, config set/get/list/test/delete, key resolution and rotation, and no
// plaintext secret on disk.
#include "integration/test_cli_helpers.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <fstream>
#include <set>
#include <sstream>

using namespace clitest;
using testsupport::mode_of;
using testsupport::slurp;

namespace {

void write_file(const std::filesystem::path& p, const std::string& text, mode_t mode = 0600) {
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
  }
  REQUIRE(::chmod(p.c_str(), mode) == 0);
}

bool is_key_text(const std::string& text) {
  if (text.size() != 65 || text.back() != '\n') return false;
  for (char c : text.substr(0, 64)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

} // namespace

TEST_CASE("cli: key init writes 64 hex characters and a newline, mode 0600, once") {
  TempDir dir;
  Wabactl w(dir);
  auto r = w({"key", "init"});
  check_ok(r);
  CHECK(r.out.find(w.key.string()) != std::string::npos);
  std::string first = slurp(w.key);
  CHECK(is_key_text(first));
  CHECK(mode_of(w.key) == 0600);
  CHECK(mode_of(w.key.parent_path()) == 0700);

  check_error(w({"key", "init"}), 8);
  CHECK(slurp(w.key) == first);

  check_ok(w({"key", "init", "--force"}));
  std::string second = slurp(w.key);
  CHECK(is_key_text(second));
  CHECK(second != first);
  CHECK(mode_of(w.key) == 0600);

  // --key-file (before or after the subcommand) chooses where.
  check_ok(w({"--key-file", (dir / "a.key").string(), "key", "init"}));
  check_ok(w({"key", "init", "--key-file", (dir / "b.key").string(), "--json"}));
  CHECK(is_key_text(slurp(dir / "a.key")));
  CHECK(is_key_text(slurp(dir / "b.key")));
}

TEST_CASE("cli: tenant add, list and remove (cascading to its config)") {
  Env e(false);
  auto& w = e.w;
  check_ok(w({"tenant", "add", "acme", "--name", "Acme Inc"}));
  check_ok(w({"tenant", "add", "beta"}));
  check_error(w({"tenant", "add", "acme"}), 8);
  auto lines = json_lines(w({"tenant", "list", "--json"}).out);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["id"] == "acme");
  CHECK(lines[0]["name"] == "Acme Inc");
  CHECK(lines[1]["name"].is_null());
  CHECK(w({"tenant", "list"}).out.find("Acme Inc") != std::string::npos);

  check_ok(e.set_config({"--no-test"}));
  auto r = w({"tenant", "remove", "acme"});
  check_error(r, 2);
  CHECK(r.err.find("--yes") != std::string::npos);
  CHECK_FALSE(e.config().is_null());

  check_ok(w({"tenant", "remove", "acme", "--yes"}));
  lines = json_lines(w({"tenant", "list", "--json"}).out);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["id"] == "beta");
  check_error(w({"config", "get", "--tenant", "acme"}), 3);
  check_ok(w({"tenant", "add", "acme"}));
  check_error(w({"config", "get", "--tenant", "acme"}), 3);
  CHECK(json_lines(w({"config", "list", "--json"}).out).empty());
  check_error(w({"tenant", "remove", "acme2", "--yes"}), 3);
}

TEST_CASE("cli: config set, get (masked), test, list and delete") {
  Env e;
  auto& w = e.w;
  auto r =
      w({"config", "set", "--tenant", "acme", "--phone-number-id", phone_id, "--access-token-stdin",
         "--business-account-id", "987654321", "--verify-token", verify_token},
        token + "\n");
  check_ok(r);
  // Meta was asked about the number with the token.
  auto reqs = e.graph.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].method == "GET");
  CHECK(reqs[0].path == "/v25.0/" + phone_id);
  CHECK(reqs[0].authorization == "Bearer " + token);
  CHECK(r.out.find("Acme Test") != std::string::npos);
  CHECK(r.out.find(token) == std::string::npos);
  CHECK(r.err.find(token) == std::string::npos);

  // Human output: masked.
  r = w({"config", "get", "--tenant", "acme"});
  check_ok(r);
  CHECK(r.out.find(token) == std::string::npos);
  CHECK(r.out.find(verify_token) == std::string::npos);
  CHECK(r.out.find(token.substr(0, 4) + "…" + token.substr(token.size() - 4)) != std::string::npos);
  CHECK(r.out.find(phone_id) != std::string::npos);

  // JSON: exactly the contract's keys, masked.
  r = w({"config", "get", "--tenant", "acme", "--json"});
  check_ok(r);
  auto j = nlohmann::json::parse(r.out);
  CHECK(testsupport::keys_of(j) == testsupport::config_json_keys);
  CHECK(j["tenant_id"] == "acme");
  CHECK(j["phone_number_id"] == phone_id);
  CHECK(j["business_account_id"] == "987654321");
  CHECK(j["api_version"] == "v25.0");
  CHECK(j["is_active"] == true);
  CHECK(j["needs_reauth"] == false);
  CHECK(j["access_token"] == token.substr(0, 4) + "…" + token.substr(token.size() - 4));
  CHECK(j["verify_token"] == "my-v…4242");
  CHECK(j["app_secret"].is_null());
  CHECK(r.out.find(token) == std::string::npos);

  // --show-secrets: in full.
  j = e.config();
  CHECK(j["access_token"] == token);
  CHECK(j["verify_token"] == verify_token);

  // config test: verified name, display number, quality rating.
  e.graph.clear();
  r = w({"config", "test", "--tenant", "acme"});
  check_ok(r);
  CHECK(r.out.find("Acme Test") != std::string::npos);
  CHECK(r.out.find("+1 555-010-0000") != std::string::npos);
  CHECK(r.out.find("GREEN") != std::string::npos);
  CHECK(e.graph.count("GET", "/" + phone_id) == 1);
  r = w({"config", "test", "--tenant", "acme", "--json"});
  check_ok(r);
  j = nlohmann::json::parse(r.out);
  CHECK(j["verified_name"] == "Acme Test");
  CHECK(j["display_phone_number"] == "+1 555-010-0000");
  CHECK(j["quality_rating"] == "GREEN");

  // config list --json: JSON Lines, secrets masked.
  check_ok(w({"tenant", "add", "beta"}));
  check_ok(w({"config", "set", "--tenant", "beta", "--phone-number-id", "555", "--no-test"}, {},
             {{"WABA_ACCESS_TOKEN", token}}));
  r = w({"config", "list", "--json"});
  check_ok(r);
  auto lines = json_lines(r.out);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["tenant_id"] == "acme");
  CHECK(lines[1]["tenant_id"] == "beta");
  CHECK(r.out.find(token) == std::string::npos);
  r = w({"config", "list"});
  check_ok(r);
  CHECK(r.out.find("beta") != std::string::npos);
  CHECK(r.out.find(token) == std::string::npos);

  // config delete.
  check_ok(w({"config", "delete", "--tenant", "acme"}));
  check_error(w({"config", "get", "--tenant", "acme"}), 3);
  check_error(w({"config", "delete", "--tenant", "acme"}), 3);
  check_error(w({"config", "test", "--tenant", "acme"}), 3);
  CHECK(json_lines(w({"config", "list", "--json"}).out).size() == 1);
}

TEST_CASE("cli: secrets from a file, stdin or the environment") {
  Env e;
  auto& w = e.w;
  write_file(e.dir / "token.txt", token + "\n");
  write_file(e.dir / "secret.txt", "\n  " + app_secret + "  \r\n");
  SUBCASE("token and app secret from files") {
    check_ok(w({"config", "set", "--tenant", "acme", "--phone-number-id", phone_id,
                "--access-token-file", (e.dir / "token.txt").string(), "--app-secret-file",
                (e.dir / "secret.txt").string()}));
  }
  SUBCASE("token from a file, app secret from stdin") {
    check_ok(w({"config", "set", "--tenant", "acme", "--phone-number-id", phone_id,
                "--access-token-file", (e.dir / "token.txt").string(), "--app-secret-stdin"},
               app_secret));
  }
  SUBCASE("both from the environment") {
    check_ok(w({"config", "set", "--tenant", "acme", "--phone-number-id", phone_id}, {},
               {{"WABA_ACCESS_TOKEN", token}, {"WABA_APP_SECRET", app_secret}}));
  }
  SUBCASE("a file wins over the environment") {
    check_ok(w({"config", "set", "--tenant", "acme", "--phone-number-id", phone_id,
                "--access-token-file", (e.dir / "token.txt").string()},
               {},
               {{"WABA_ACCESS_TOKEN", "ignored-token-value"}, {"WABA_APP_SECRET", app_secret}}));
  }
  auto j = e.config();
  REQUIRE_FALSE(j.is_null());
  CHECK(j["access_token"] == token);
  CHECK(j["app_secret"] == app_secret);
  auto masked = nlohmann::json::parse(w({"config", "get", "--tenant", "acme", "--json"}).out);
  CHECK(masked["app_secret"] == app_secret.substr(0, 4) + "…" + app_secret.substr(28));
}

TEST_CASE("cli: config set keeps stored secrets it is not given and replaces the rest") {
  Env e;
  auto& w = e.w;
  check_ok(e.set_config({"--verify-token", verify_token}));
  check_ok(w({"config", "set", "--tenant", "acme", "--phone-number-id", phone_id,
              "--app-secret-stdin", "--inactive", "--api-version", "v24.0"},
             app_secret));
  auto j = e.config();
  CHECK(j["access_token"] == token);
  CHECK(j["verify_token"] == verify_token);
  CHECK(j["app_secret"] == app_secret);
  CHECK(j["is_active"] == false);
  CHECK(j["api_version"] == "v24.0");
  CHECK(e.graph.count("GET", "/v24.0/" + phone_id) == 1);
  check_ok(w({"config", "set", "--tenant", "acme", "--phone-number-id", phone_id, "--active",
              "--no-test"}));
  CHECK(e.config()["is_active"] == true);
}

TEST_CASE("cli: a token Meta rejects is not saved (exit 4)") {
  Env e;
  auto r = e.set_config({}, "EAAGrejectedtoken0000000000000000");
  check_error(r, 4);
  CHECK(r.err.find("190") != std::string::npos);
  CHECK(r.err.find("EAAGrejectedtoken") == std::string::npos);
  check_error(e.w({"config", "get", "--tenant", "acme"}), 3);

  // An existing config is left as it was.
  check_ok(e.set_config());
  auto before = e.config();
  check_error(e.set_config({}, "EAAGrejectedtoken0000000000000000"), 4);
  CHECK(e.config() == before);
}

TEST_CASE("cli: a permanent refusal by Meta is not saved (exit 5)") {
  Env e;
  e.graph.set_handler([](const testsupport::Recorded&) -> std::optional<testsupport::Reply> {
    return testsupport::Reply{400, FakeGraph::error_body(100, "Unsupported get request.", 33)};
  });
  auto r = e.set_config();
  check_error(r, 5);
  CHECK(r.err.find("100") != std::string::npos);
  check_error(e.w({"config", "get", "--tenant", "acme"}), 3);

  // A server that is not Meta (a wrong --graph-url) is no verdict on the token.
  e.graph.set_handler([](const testsupport::Recorded&) -> std::optional<testsupport::Reply> {
    return testsupport::Reply{404, "<html>Not Found</html>"};
  });
  r = e.set_config();
  check_error(r, 5);
  CHECK(r.err.find("404") != std::string::npos);
  check_error(e.w({"config", "get", "--tenant", "acme"}), 3);

  // A 5xx page is a temporary failure: saved with a warning.
  e.graph.set_handler([](const testsupport::Recorded&) -> std::optional<testsupport::Reply> {
    return testsupport::Reply{503, "<html>Service Unavailable</html>"};
  });
  r = e.set_config();
  check_ok(r);
  CHECK(r.err.find("warning") != std::string::npos);
  CHECK(e.config()["access_token"] == token);
}

TEST_CASE("cli: an unreachable Graph API saves with a warning, --no-test sends nothing") {
  Env e;
  SUBCASE("unreachable") {
    auto r =
        e.w({"config", "set", "--tenant", "acme", "--phone-number-id", phone_id,
             "--access-token-stdin"},
            token,
            {{"WABACTL_GRAPH_URL", fmt::format("http://127.0.0.1:{}", testsupport::free_port())}});
    check_ok(r);
    CHECK(r.err.find("warning") != std::string::npos);
    CHECK(r.err.find("config test") != std::string::npos);
    CHECK(e.config()["access_token"] == token);
    // config test against the unreachable API is a temporary failure.
    check_error(
        e.w({"config", "test", "--tenant", "acme"}, {},
            {{"WABACTL_GRAPH_URL", fmt::format("http://127.0.0.1:{}", testsupport::free_port())}}),
        75);
  }
  SUBCASE("--no-test") {
    check_ok(e.set_config({"--no-test"}, "EAAGnotacceptedbutnottested00000"));
    CHECK(e.graph.requests().empty());
    CHECK(e.config()["access_token"] == "EAAGnotacceptedbutnottested00000");
  }
}

TEST_CASE("cli: config test with a rejected token exits 4 and flags needs_reauth") {
  Env e;
  const std::string stale = "EAAGstaletoken1111111111111111111";
  check_ok(e.set_config({"--no-test"}, stale));
  auto r = e.w({"config", "test", "--tenant", "acme"});
  check_error(r, 4);
  auto j = nlohmann::json::parse(e.w({"config", "get", "--tenant", "acme", "--json"}).out);
  CHECK(j["needs_reauth"] == true);
  CHECK(e.w({"config", "list"}).out.find("NEEDED") != std::string::npos);
  // Once Meta accepts the token again, the flag clears.
  e.graph.accept_token(stale);
  check_ok(e.w({"config", "test", "--tenant", "acme"}));
  j = nlohmann::json::parse(e.w({"config", "get", "--tenant", "acme", "--json"}).out);
  CHECK(j["needs_reauth"] == false);
}

TEST_CASE("cli: the database and its WAL never hold a secret in plaintext") {
  Env e;
  // Create the database, then keep a reader open so the WAL is not checkpointed away.
  check_ok(e.w({"tenant", "list"}));
  SQLite::Database reader(e.w.db.string(), SQLite::OPEN_READONLY);
  CHECK(reader.execAndGet("SELECT count(*) FROM tenants").getInt() == 1);
  write_file(e.dir / "secret.txt", app_secret);
  check_ok(e.w({"config", "set", "--tenant", "acme", "--phone-number-id", phone_id,
                "--access-token-stdin", "--app-secret-file", (e.dir / "secret.txt").string(),
                "--verify-token", verify_token},
               token));
  check_ok(e.w({"config", "test", "--tenant", "acme"}));
  auto wal = std::filesystem::path(e.w.db.string() + "-wal");
  REQUIRE(std::filesystem::exists(wal));
  std::string bytes = slurp(e.w.db) + slurp(wal);
  // The scan sees what was written...
  CHECK(bytes.find(phone_id) != std::string::npos);
  // ...and no secret is among it.
  CHECK(bytes.find(token) == std::string::npos);
  CHECK(bytes.find(token.substr(0, 24)) == std::string::npos);
  CHECK(bytes.find(app_secret) == std::string::npos);
  CHECK(bytes.find(verify_token) == std::string::npos);
  CHECK(mode_of(e.w.db) == 0600);
  CHECK(mode_of(wal) == 0600);
}

TEST_CASE("cli: master key resolution order and refusals") {
  Env e;
  auto& w = e.w;
  check_ok(e.set_config({"--no-test"}));
  const std::string env_key = w.key.string();
  // A second, different key.
  const auto other = e.dir / "other.key";
  check_ok(w({"key", "init", "--key-file", other.string()}));

  SUBCASE("--key-file wins over $WABACTL_KEY_FILE") {
    auto r = w({"config", "get", "--tenant", "acme", "--key-file", other.string()});
    check_error(r, 4);
    CHECK(r.err.find(other.string()) != std::string::npos);
    CHECK(r.err.find("--key-file") != std::string::npos);
    // The right key via the flag, a wrong one in the environment: the flag wins.
    check_ok(w({"--key-file", env_key, "config", "get", "--tenant", "acme"}, {},
               {{"WABACTL_KEY_FILE", other.string()}}));
  }
  SUBCASE("a wrong key in $WABACTL_KEY_FILE names that source") {
    auto r = w({"config", "get", "--tenant", "acme"}, {}, {{"WABACTL_KEY_FILE", other.string()}});
    check_error(r, 4);
    CHECK(r.err.find("$WABACTL_KEY_FILE") != std::string::npos);
    CHECK(r.err.find(other.string()) != std::string::npos);
  }
  SUBCASE("$CREDENTIALS_DIRECTORY/wabactl.key") {
    std::filesystem::create_directory(e.dir / "creds");
    std::filesystem::copy_file(env_key, e.dir / "creds" / "wabactl.key");
    ::chmod((e.dir / "creds" / "wabactl.key").c_str(), 0400);
    Wabactl sysd = w;
    sysd.env.erase("WABACTL_KEY_FILE");
    sysd.env["CREDENTIALS_DIRECTORY"] = (e.dir / "creds").string();
    auto j = nlohmann::json::parse(
        sysd({"config", "get", "--tenant", "acme", "--json", "--show-secrets"}).out);
    CHECK(j["access_token"] == token);
    // Without the credential file there is no key.
    std::filesystem::remove(e.dir / "creds" / "wabactl.key");
    auto r = sysd({"config", "get", "--tenant", "acme"});
    check_error(r, 4);
    CHECK(r.err.find("$CREDENTIALS_DIRECTORY") != std::string::npos);
  }
  SUBCASE("a missing key file") {
    auto r = w({"config", "get", "--tenant", "acme"}, {},
               {{"WABACTL_KEY_FILE", (e.dir / "nope.key").string()}});
    check_error(r, 4);
    CHECK(r.err.find("nope.key") != std::string::npos);
    CHECK(r.err.find("key init") != std::string::npos);
  }
  SUBCASE("a group-readable key file") {
    ::chmod(env_key.c_str(), 0640);
    auto r = w({"config", "get", "--tenant", "acme"});
    check_error(r, 4);
    CHECK(r.err.find("chmod 600") != std::string::npos);
    ::chmod(env_key.c_str(), 0600);
    check_ok(w({"config", "get", "--tenant", "acme"}));
  }
  SUBCASE("a malformed key file") {
    write_file(other, "not a key\n");
    check_error(w({"config", "get", "--tenant", "acme", "--key-file", other.string()}), 4);
  }
  SUBCASE("commands that need no key work without one") {
    Wabactl nokey = w;
    nokey.env["WABACTL_KEY_FILE"] = (e.dir / "nope.key").string();
    check_ok(nokey({"tenant", "list"}));
    check_ok(nokey({"tenant", "add", "gamma"}));
    auto r = nokey({"config", "list"});
    check_ok(r);
    CHECK(r.out.find(phone_id) != std::string::npos);
    check_error(nokey({"config", "list", "--json"}), 4);
  }
}

TEST_CASE("cli: a passphrase in $WHATSAPP_ENCRYPTION_KEY stands in for a key file") {
  TempDir dir;
  FakeGraph graph;
  graph.accept_token(token);
  Wabactl w(dir);
  w.env.erase("WABACTL_KEY_FILE");
  w.env["WABACTL_GRAPH_URL"] = graph.url();
  const std::string pass = "a passphrase of thirty-two chars!";
  w.env["WHATSAPP_ENCRYPTION_KEY"] = pass;
  check_ok(w({"tenant", "add", "acme"}));
  check_ok(w(
      {"config", "set", "--tenant", "acme", "--phone-number-id", phone_id, "--access-token-stdin"},
      token));
  auto r = w({"config", "get", "--tenant", "acme", "--json", "--show-secrets"});
  check_ok(r);
  CHECK(nlohmann::json::parse(r.out)["access_token"] == token);

  r = w({"config", "get", "--tenant", "acme"}, {},
        {{"WHATSAPP_ENCRYPTION_KEY", "another passphrase, also 32+ chars"}});
  check_error(r, 4);
  CHECK(r.err.find("WHATSAPP_ENCRYPTION_KEY") != std::string::npos);

  r = w({"config", "get", "--tenant", "acme"}, {},
        {{"WHATSAPP_ENCRYPTION_KEY", std::string(31, 'x')}});
  check_error(r, 4);
  CHECK(r.err.find("too short") != std::string::npos);

  // Without passphrase or key file there is no key.
  Wabactl none = w;
  none.env.erase("WHATSAPP_ENCRYPTION_KEY");
  check_error(none({"config", "get", "--tenant", "acme"}), 4);
}

TEST_CASE("cli: key rotate re-seals everything under the new key") {
  Env e;
  auto& w = e.w;
  check_ok(e.set_config({"--verify-token", verify_token}));
  check_ok(w({"tenant", "add", "beta"}));
  check_ok(w({"config", "set", "--tenant", "beta", "--phone-number-id", "777", "--no-test"}, {},
             {{"WABA_ACCESS_TOKEN", token + "B"}, {"WABA_APP_SECRET", app_secret}}));
  const std::string old_text = slurp(w.key);
  const auto fresh = e.dir / "keys" / "new.key";

  auto r = w({"key", "rotate", "--new-key-file", fresh.string(), "--json"});
  check_ok(r);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["resealed"] == 4);
  CHECK(j["created"] == true);
  CHECK(is_key_text(slurp(fresh)));
  CHECK(mode_of(fresh) == 0600);
  CHECK(slurp(w.key) == old_text);

  check_error(w({"config", "get", "--tenant", "acme"}), 4);
  auto acme = nlohmann::json::parse(w({"config", "get", "--tenant", "acme", "--json",
                                       "--show-secrets", "--key-file", fresh.string()})
                                        .out);
  CHECK(acme["access_token"] == token);
  CHECK(acme["verify_token"] == verify_token);
  auto beta = nlohmann::json::parse(w({"config", "get", "--tenant", "beta", "--json",
                                       "--show-secrets", "--key-file", fresh.string()})
                                        .out);
  CHECK(beta["access_token"] == token + "B");
  CHECK(beta["app_secret"] == app_secret);

  // Rotating with the wrong old key changes nothing.
  auto third = e.dir / "third.key";
  check_error(w({"key", "rotate", "--new-key-file", third.string()}), 4);
  check_ok(w({"config", "get", "--tenant", "acme", "--key-file", fresh.string()}));
  check_error(w({"key", "rotate"}), 2);
}

TEST_CASE("cli: global flags go before or after the subcommand") {
  Env e;
  auto& w = e.w;
  const auto db2 = e.dir / "second" / "nested" / "two.db";
  check_ok(w({"--db", db2.string(), "tenant", "add", "one"}));
  check_ok(w({"tenant", "add", "two", "--db", db2.string()}));
  auto before = w({"--json", "--db", db2.string(), "tenant", "list"});
  auto after = w({"tenant", "list", "--db", db2.string(), "--json"});
  check_ok(before);
  CHECK(before.out == after.out);
  auto lines = json_lines(before.out);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["id"] == "one");
  CHECK(lines[1]["id"] == "two");
  // The parent folders of --db are created private.
  CHECK(mode_of(db2.parent_path()) == 0700);
  CHECK(mode_of(db2.parent_path().parent_path()) == 0700);
  // The default database still holds only acme.
  lines = json_lines(w({"tenant", "list", "--json"}).out);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["id"] == "acme");
  // --key-file after the subcommand.
  check_ok(e.set_config({"--no-test"}));
  check_ok(w({"config", "get", "--tenant", "acme", "--key-file", w.key.string()}));
  check_ok(w({"--key-file", w.key.string(), "config", "get", "--tenant", "acme"}));
}

TEST_CASE("cli: --config FILE sets long options") {
  Env e;
  const auto db3 = e.dir / "fromconfig" / "three.db";
  write_file(e.dir / "wabactl.conf", fmt::format("db = \"{}\"\njson = true\n", db3.string()));
  check_ok(e.w({"--config", (e.dir / "wabactl.conf").string(), "tenant", "add", "viaconfig"}));
  CHECK(std::filesystem::exists(db3));
  auto r = e.w({"tenant", "list", "--config", (e.dir / "wabactl.conf").string()});
  check_ok(r);
  auto lines = json_lines(r.out);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["id"] == "viaconfig");
  check_error(e.w({"--config", (e.dir / "missing.conf").string(), "tenant", "list"}), 2);
}

TEST_CASE("cli: --help and --version exit 0, unknown commands and flags exit 2") {
  TempDir dir;
  Wabactl w(dir);
  for (auto args : std::vector<std::vector<std::string>>{{"--help"},
                                                         {"--version"},
                                                         {"config", "--help"},
                                                         {"config", "set", "--help"},
                                                         {"key", "init", "--help"},
                                                         {"tenant", "add", "--help"}}) {
    CAPTURE(args.front());
    auto r = w(args);
    CHECK(r.exit_code == 0);
    CHECK_FALSE(r.out.empty());
  }
  CHECK(w({"--version"}).out.rfind("wabactl ", 0) == 0);
  // (wabactl and a command group alone print help as well: test_cli_manners.cpp.)
  for (auto args : std::vector<std::vector<std::string>>{{"bogus"},
                                                         {"--bogus"},
                                                         {"tenant", "frobnicate"},
                                                         {"tenant", "list", "--bogus"},
                                                         {"config", "get"},
                                                         {"config", "get", "--tenant"},
                                                         {"key", "init", "extra"}}) {
    CAPTURE(args.size());
    check_error(w(args), 2);
  }
  CHECK(w({"bogus"}).err.find("unknown command 'bogus'") != std::string::npos);
  CHECK(w({"tenant", "frobnicate"}).err.find("unknown command 'frobnicate'") != std::string::npos);
  CHECK(w({"--bogus"}).err.find("unknown option '--bogus'") != std::string::npos);
  // Nothing was created by failed parsing.
  CHECK_FALSE(std::filesystem::exists(w.db));
}

TEST_CASE("cli: a command leaves a small WAL without a checkpoint, and folds in a large one") {
  Env e(false);
  auto& w = e.w;
  auto wal = w.db.string() + "-wal";
  for (int i = 0; i < 20; ++i) check_ok(w({"tenant", "add", fmt::format("t{}", i)}));
  // No connection is left, yet the WAL is still there: the last one closed without a
  // checkpoint (fsyncs a short-lived command does not need to pay).
  REQUIRE(std::filesystem::exists(wal));
  CHECK(std::filesystem::file_size(wal) < 512 * 1024);
  {
    SQLite::Database db(w.db.string(), SQLite::OPEN_READWRITE);
    CHECK(db.execAndGet("SELECT count(*) FROM tenants").getInt() == 20);
    CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
    // 1 MiB more in the WAL, left there as a CLI process would leave it.
    sqlite3_db_config(db.getHandle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    db.exec("CREATE TABLE filler(b BLOB)");
    db.exec("INSERT INTO filler VALUES (zeroblob(1048576))");
  }
  REQUIRE(std::filesystem::file_size(wal) > 1024 * 1024);
  // The next command, the last connection again, checkpoints it away at exit, so the
  // process after it does not read a megabyte of WAL to start.
  CHECK(json_lines(w({"tenant", "list", "--json"}).out).size() == 20);
  CHECK_FALSE(std::filesystem::exists(wal));
  SQLite::Database db(w.db.string(), SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("SELECT length(b) FROM filler").getInt() == 1048576);
  CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
}
