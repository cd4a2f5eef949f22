#pragma once
// Helpers for the integration tests of the foundation commands (key, tenant, config): a
// ready environment with a key, a tenant and a fake Graph API, and error-line checks.

#include "support/fixtures.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

namespace clitest {

using testsupport::FakeGraph;
using testsupport::RunResult;
using testsupport::TempDir;
using testsupport::Wabactl;

// The foundation tests' tenant is fixtures::acme; these are its secrets by short names.
inline const std::string& token = fixtures::acme.access_token;
inline const std::string& app_secret = fixtures::acme.app_secret;
inline const std::string& verify_token = fixtures::acme.verify_token;
inline const std::string& phone_id = fixtures::acme.phone_number_id;

/// The command failed with `code` and printed exactly one `wabactl: error: ` line.
inline void check_error(const RunResult& r, int code) {
  CAPTURE(r.out);
  CAPTURE(r.err);
  CHECK(r.exit_code == code);
  auto lines = r.err_lines();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].rfind("wabactl: error: ", 0) == 0);
}

/// A command's JSON Lines output, one value per non-empty line.
inline std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

/// The command succeeded.
inline void check_ok(const RunResult& r) {
  CAPTURE(r.out);
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
}

/// A temporary folder, the binary's environment pointed at a fake Graph API that accepts
/// `token`, a master key and the tenant "acme".
struct Env {
  TempDir dir;
  FakeGraph graph;
  Wabactl w{dir};

  explicit Env(bool with_tenant = true) {
    w.env["WABACTL_GRAPH_URL"] = graph.url();
    graph.accept_token(token);
    check_ok(w({"key", "init"}));
    if (with_tenant) check_ok(w({"tenant", "add", "acme"}));
  }

  /// `config set` for acme with the token on stdin, plus `extra` arguments.
  RunResult set_config(const std::vector<std::string>& extra = {},
                       const std::string& tok = token) const {
    std::vector<std::string> args{
        "config", "set", "--tenant", "acme", "--phone-number-id", phone_id, "--access-token-stdin"};
    args.insert(args.end(), extra.begin(), extra.end());
    return w(args, tok + "\n");
  }

  /// `config get --json --show-secrets` for acme, parsed; null when it failed.
  nlohmann::json config(const std::string& tenant = "acme") const {
    auto r = w({"config", "get", "--tenant", tenant, "--json", "--show-secrets"});
    if (r.exit_code != 0) return nullptr;
    return nlohmann::json::parse(r.out);
  }
};

} // namespace clitest
