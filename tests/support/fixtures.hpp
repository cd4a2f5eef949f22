#pragma once
// The test tenants, one set for every test: each tenant's id, WhatsApp number, App Secret,
// verify token and access token, and the ways to set one up (through the real binary, or
// through the library on an open store). The numbers are those of tests/fixtures/webhooks.

#include "wabactl/configs.hpp"
#include "wabactl/secrets.hpp"
#include "wabactl/store.hpp"

#include <initializer_list>
#include <map>
#include <string>

namespace testsupport {

class TempDir;
class Wabactl;

namespace fixtures {

struct TestTenant {
  std::string id;
  std::string phone_number_id;
  std::string app_secret;
  std::string verify_token;
  std::string access_token;
};

inline const TestTenant acme{"acme", "106540352242922", "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                             "my-verify-token-4242",
                             "EAAGm0PX4ZCpsBAKZCtesttoken0123456789abcdefXYZ9Qf1"};
inline const TestTenant beta{"beta", "109876543210987", "beta-app-secret-0123456789abcdef",
                             "beta-verify-token-43", "EAAGbetatoken0123456789"};
inline const TestTenant globex{"globex", "106540352249999", "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5",
                               "verify-globex", "EAAGglobextoken0123456789"};
inline const TestTenant gamma{"gamma", "100000000000003", "gamma-app-secret-0123456789abcd",
                              "gamma-verify", "EAAGgammatoken0123456789"};

/// Which tenant each of `tenants`' numbers belongs to, as the webhook ingest takes it.
inline std::map<std::string, std::string> numbers(std::initializer_list<TestTenant> tenants) {
  std::map<std::string, std::string> out;
  for (const auto& t : tenants) out.emplace(t.phone_number_id, t.id);
  return out;
}

/// The body of the recorded delivery tests/fixtures/webhooks/`name`.
std::string webhook(const std::string& name);

/// Adds `t` and its active config through the real binary (secrets from files in `dir`, no
/// test against Meta); `graph_url` set per tenant when not empty.
void add_tenant_config(const Wabactl& w, const TempDir& dir, const TestTenant& t,
                       const std::string& graph_url = {});

/// Adds `t` to `store` with an active config: its number and its three secrets sealed with
/// `key`, API version v25.0 (request paths that no environment changes), and `graph_url`
/// when not empty.
wabactl::Config add_tenant_config(wabactl::Store& store, const wabactl::MasterKey& key,
                                  const TestTenant& t, const std::string& graph_url = {});

} // namespace fixtures
} // namespace testsupport

/// Tests name the tenants `fixtures::acme` and so on.
namespace fixtures = testsupport::fixtures;
