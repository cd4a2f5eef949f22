#include "support/fixtures.hpp"

#include "support/support.hpp"
#include "wabactl/tenants.hpp"

#include <doctest/doctest.h>

#include <fstream>

namespace testsupport::fixtures {

namespace {

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}

} // namespace

std::string webhook(const std::string& name) {
  return slurp(std::filesystem::path(WABACTL_SOURCE_DIR) / "tests/fixtures/webhooks" / name);
}

void add_tenant_config(const Wabactl& w, const TempDir& dir, const TestTenant& t,
                       const std::string& graph_url) {
  REQUIRE(w({"tenant", "add", t.id}).exit_code == 0);
  auto secret_file = dir / (t.id + ".app-secret");
  auto token_file = dir / (t.id + ".token");
  write_file(secret_file, t.app_secret);
  write_file(token_file, t.access_token);
  std::vector<std::string> args = {"config",
                                   "set",
                                   "--tenant",
                                   t.id,
                                   "--phone-number-id",
                                   t.phone_number_id,
                                   "--app-secret-file",
                                   secret_file.string(),
                                   "--access-token-file",
                                   token_file.string(),
                                   "--verify-token",
                                   t.verify_token,
                                   "--no-test"};
  if (!graph_url.empty()) {
    args.push_back("--graph-url");
    args.push_back(graph_url);
  }
  auto r = w(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

wabactl::Config add_tenant_config(wabactl::Store& store, const wabactl::MasterKey& key,
                                  const TestTenant& t, const std::string& graph_url) {
  wabactl::add_tenant(store, t.id, std::nullopt);
  wabactl::Config c;
  c.tenant_id = t.id;
  c.phone_number_id = t.phone_number_id;
  c.api_version = "v25.0";
  if (!graph_url.empty()) c.graph_url = graph_url;
  return wabactl::save_config(store, key, c,
                              wabactl::ConfigSecrets{t.access_token, t.app_secret, t.verify_token});
}

} // namespace testsupport::fixtures
