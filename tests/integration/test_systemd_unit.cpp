// systemd/wabactl.service against the binary: the daemon, started with only what the unit
// gives it ($STATE_DIRECTORY, $CREDENTIALS_DIRECTORY), finds its database and master key.
#include "integration/test_serve_support.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using testsupport::slurp;
using testsupport::TempDir;
using testsupport::Wabactl;

const std::filesystem::path unit_file =
    std::filesystem::path(WABACTL_SOURCE_DIR) / "systemd/wabactl.service";

// Every "Key=value" of the unit, in order, per key.
std::multimap<std::string, std::string> parse_unit(const std::string& text) {
  std::multimap<std::string, std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#' || line[0] == ';' || line[0] == '[') continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    out.emplace(line.substr(0, eq), line.substr(eq + 1));
  }
  return out;
}

std::string only(const std::multimap<std::string, std::string>& unit, const std::string& key) {
  auto [first, last] = unit.equal_range(key);
  REQUIRE_MESSAGE(std::distance(first, last) == 1, key, " must appear exactly once");
  return first->second;
}

} // namespace

TEST_SUITE("systemd unit") {

  TEST_CASE("the unit starts 'wabactl serve' as a notify service with the key as a credential") {
    auto unit = parse_unit(slurp(unit_file));
    CHECK(only(unit, "ExecStart") == "/usr/bin/wabactl serve");
    CHECK(only(unit, "Type") == "notify");
    CHECK(only(unit, "DynamicUser") == "yes");
    CHECK(only(unit, "UMask") == "0077");
    CHECK(only(unit, "ProtectSystem") == "strict");
    CHECK(only(unit, "Documentation") == "man:wabactl(1)");
    // The code reads $CREDENTIALS_DIRECTORY/wabactl.key: the credential must carry that name.
    CHECK(only(unit, "LoadCredential").rfind("wabactl.key:/", 0) == 0);
    CHECK(only(unit, "StateDirectory") == "wabactl");
    // Meta, the proxy and the notify socket are all the daemon talks to.
    CHECK(only(unit, "RestrictAddressFamilies") == "AF_INET AF_INET6 AF_UNIX");
  }

  TEST_CASE("serve in the unit's environment uses $STATE_DIRECTORY and the key credential") {
    auto unit = parse_unit(slurp(unit_file));
    std::string credential = only(unit, "LoadCredential");
    credential = credential.substr(0, credential.find(':'));

    TempDir dir;
    Wabactl w(dir);
    // No --db, $WABACTL_DB or $WABACTL_KEY_FILE under systemd: only the unit's directories.
    w.env.erase("WABACTL_DB");
    w.env.erase("WABACTL_KEY_FILE");
    std::filesystem::path state = dir / "state" / only(unit, "StateDirectory");
    std::filesystem::path creds = dir / "credentials";
    std::filesystem::create_directories(state);
    std::filesystem::create_directories(creds);
    w.env["STATE_DIRECTORY"] = state.string();
    w.env["CREDENTIALS_DIRECTORY"] = creds.string();

    // The administrator's side: a key in the credential store, a tenant with a config.
    REQUIRE(w({"--key-file", (creds / credential).string(), "key", "init"}).exit_code == 0);
    REQUIRE(w({"tenant", "add", "acme"}).exit_code == 0);
    auto set =
        w({"config", "set", "--tenant", "acme", "--phone-number-id", fixtures::acme.phone_number_id,
           "--verify-token", fixtures::acme.verify_token, "--no-test"},
          {}, {{"WABA_ACCESS_TOKEN", fixtures::acme.access_token}});
    REQUIRE_MESSAGE(set.exit_code == 0, set.err);
    CHECK(std::filesystem::exists(state / "wabactl.db"));
    CHECK_FALSE(std::filesystem::exists(dir / "xdg-data" / "wabactl" / "wabactl.db"));

    servetest::Daemon daemon(w, dir, {}, {{"JOURNAL_STREAM", "8:1234"}});
    // Answering Meta's verification needs the sealed verify token: the daemon opened the
    // database in $STATE_DIRECTORY with the key from $CREDENTIALS_DIRECTORY.
    auto c = daemon.client();
    auto r = c.Get("/api/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=" +
                   fixtures::acme.verify_token + "&hub.challenge=8731");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "8731");
    CHECK(daemon.stop() == 0);
    CHECK(daemon.log().find("no usable master key") == std::string::npos);
  }

} // TEST_SUITE
