#pragma once
// Helpers for the integration tests of the foundation commands (key, tenant, config): a
// ready environment with a key, a tenant and a fake Graph API, and error-line checks.

#include "support/support.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace clitest {

using testsupport::FakeGraph;
using testsupport::RunResult;
using testsupport::TempDir;
using testsupport::Wabactl;

inline const std::string token = "EAAGm0PX4ZCpsBAKZCtesttoken0123456789abcdefXYZ9Qf1";
inline const std::string app_secret = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
inline const std::string verify_token = "my-verify-token-4242";
inline const std::string phone_id = "106540352242922";

/// The command failed with `code` and printed exactly one `wabactl: error: ` line.
inline void check_error(const RunResult& r, int code) {
  CAPTURE(r.out);
  CAPTURE(r.err);
  CHECK(r.exit_code == code);
  auto lines = r.err_lines();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].rfind("wabactl: error: ", 0) == 0);
}

/// The command succeeded.
inline void check_ok(const RunResult& r) {
  CAPTURE(r.out);
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
}

/// A loopback port nothing listens on (bound, then closed).
inline int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
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
