#include "wabactl/config_service.hpp"

#include "wabactl/error.hpp"
#include "wabactl/secrets.hpp"
#include "wabactl/store.hpp"
#include "wabactl/tenants.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>

namespace wabactl {
namespace {

void validate_digits(const std::string& value, const char* what) {
  bool ok = !value.empty() && value.size() <= 32;
  for (char c : value) ok = ok && c >= '0' && c <= '9';
  if (!ok) {
    throw Error(Exit::usage,
                fmt::format("invalid {} '{}': expected 1-32 digits", what, value.substr(0, 40)));
  }
}

void validate_verify_token(const std::string& value) {
  if (value.empty() || value.size() > 256) {
    throw Error(Exit::usage, "the verify token must be 1-256 characters");
  }
  for (unsigned char c : value) {
    if (c <= 0x20 || c >= 0x7f) {
      throw Error(Exit::usage,
                  "the verify token must be printable ASCII without spaces (Meta sends it in "
                  "a URL query)");
    }
  }
}

[[noreturn]] void throw_rejected(const MetaError& e, bool credentials) {
  std::string advice = advice_for(e);
  if (credentials) {
    throw Error(Exit::credentials, fmt::format("Meta rejected the access token: {}", describe(e)),
                advice.empty() ? "set a valid token with 'wabactl config set ... "
                                 "--access-token-file FILE'"
                               : advice);
  }
  throw Error(Exit::rejected, fmt::format("Meta refused the request: {}", describe(e)),
              advice.empty() ? "check the phone number id (Meta's id, not the number)" : advice);
}

} // namespace

GraphTarget graph_target(const Config& config, const ConfigSecrets& secrets) {
  return GraphTarget{effective_graph_url(config), effective_api_version(config),
                     secrets.access_token.value_or("")};
}

ConfigSetResult set_config(Store& store, const MasterKey& key, const ConfigUpdate& u,
                           CredentialTest test) {
  require_tenant(store, u.tenant_id);
  validate_phone_number_id(u.phone_number_id);
  if (u.business_account_id) validate_digits(*u.business_account_id, "business account id");
  if (u.verify_token) validate_verify_token(*u.verify_token);
  if (u.api_version) validate_api_version(*u.api_version);
  if (u.graph_url) validate_graph_url(*u.graph_url);
  if (u.webhook_url) validate_graph_url(*u.webhook_url);
  if (u.access_token) validate_secret(*u.access_token, "access token");
  if (u.app_secret) validate_secret(*u.app_secret, "app secret");

  Config config;
  ConfigSecrets secrets;
  if (auto existing = find_config(store, u.tenant_id)) {
    config = *existing;
    secrets = open_secrets(*existing, key);
  }
  config.tenant_id = u.tenant_id;
  config.phone_number_id = u.phone_number_id;
  if (u.business_account_id) config.business_account_id = u.business_account_id;
  if (u.webhook_url) config.webhook_url = u.webhook_url;
  if (u.api_version) config.api_version = u.api_version;
  if (u.graph_url) config.graph_url = u.graph_url;
  if (u.is_active) config.is_active = *u.is_active;
  if (u.access_token) secrets.access_token = u.access_token;
  if (u.app_secret) secrets.app_secret = u.app_secret;
  if (u.verify_token) secrets.verify_token = u.verify_token;
  if (!secrets.access_token) {
    throw Error(Exit::usage, fmt::format("tenant '{}' needs an access token", u.tenant_id),
                "pass --access-token-file FILE, --access-token-stdin, or set $WABA_ACCESS_TOKEN");
  }

  ConfigSetResult result;
  if (test == CredentialTest::run) {
    GraphClient client(graph_target(config, secrets),
                       GraphTimeouts{std::chrono::seconds(5), std::chrono::seconds(15)});
    CredentialCheck check = check_credentials(client, config.phone_number_id);
    switch (check.result) {
    case CredentialCheck::Result::ok:
      result.info = check.info;
      break;
    case CredentialCheck::Result::rejected_credentials:
      throw_rejected(*check.error, true);
    case CredentialCheck::Result::rejected:
      throw_rejected(*check.error, false);
    case CredentialCheck::Result::unreachable:
      result.warning = fmt::format("could not reach the Graph API to test the credentials ({}); "
                                   "saved without testing: run 'wabactl config test --tenant {}' "
                                   "later",
                                   check.transport_error, u.tenant_id);
      break;
    }
  }
  result.config = save_config(store, key, config, secrets);
  return result;
}

PhoneNumberInfo test_config(Store& store, const MasterKey& key, const std::string& tenant) {
  require_tenant(store, tenant);
  Config config = require_config(store, tenant);
  ConfigSecrets secrets = open_secrets(config, key);
  if (!secrets.access_token) {
    throw Error(Exit::not_found, fmt::format("tenant '{}' has no access token", tenant),
                "set one with 'wabactl config set --access-token-file FILE'");
  }
  GraphClient client(graph_target(config, secrets),
                     GraphTimeouts{std::chrono::seconds(5), std::chrono::seconds(15)});
  CredentialCheck check = check_credentials(client, config.phone_number_id);
  switch (check.result) {
  case CredentialCheck::Result::ok:
    if (config.needs_reauth) set_needs_reauth(store, tenant, false);
    return *check.info;
  case CredentialCheck::Result::rejected_credentials:
    set_needs_reauth(store, tenant, true);
    throw_rejected(*check.error, true);
  case CredentialCheck::Result::rejected:
    throw_rejected(*check.error, false);
  case CredentialCheck::Result::unreachable:
    break;
  }
  throw Error(Exit::tempfail,
              fmt::format("could not reach the Graph API: {}", check.transport_error),
              "check the network, $WABACTL_GRAPH_URL or --graph-url, and try again");
}

nlohmann::json config_json(const Config& c, const ConfigSecrets& s, bool show_secrets) {
  auto secret = [&](const std::optional<std::string>& v) -> nlohmann::json {
    if (!v) return nullptr;
    return show_secrets ? *v : mask_secret(*v);
  };
  auto opt = [](const std::optional<std::string>& v) -> nlohmann::json {
    if (!v) return nullptr;
    return *v;
  };
  return {{"tenant_id", c.tenant_id},
          {"phone_number_id", c.phone_number_id},
          {"business_account_id", opt(c.business_account_id)},
          {"api_version", effective_api_version(c)},
          {"graph_url", effective_graph_url(c)},
          {"is_active", c.is_active},
          {"needs_reauth", c.needs_reauth},
          {"access_token", secret(s.access_token)},
          {"app_secret", secret(s.app_secret)},
          {"verify_token", secret(s.verify_token)},
          {"created_at", c.created_at},
          {"updated_at", c.updated_at}};
}

} // namespace wabactl
