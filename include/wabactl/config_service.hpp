#pragma once
// Setting and testing a tenant's WhatsApp config: the logic both front doors (the CLI's
// `config set/test` and the REST API's /api/whatsapp/config) share.

#include "wabactl/configs.hpp"
#include "wabactl/graph.hpp"

#include <optional>
#include <string>

namespace wabactl {

class MasterKey;
class Store;

/// A requested change; unset fields keep the stored value (or the default on create).
struct ConfigUpdate {
  std::string tenant_id;
  std::string phone_number_id;
  std::optional<std::string> business_account_id;
  std::optional<std::string> verify_token;
  std::optional<std::string> api_version;
  std::optional<std::string> graph_url;
  std::optional<std::string> webhook_url;
  std::optional<bool> is_active;
  std::optional<std::string> access_token;
  std::optional<std::string> app_secret;
};

enum class CredentialTest { run, skip };

/// What `set_config` did.
struct ConfigSetResult {
  Config config;
  std::optional<PhoneNumberInfo> info; ///< Meta's answer when the test ran and passed
  std::string warning;                 ///< set when the test could not reach Meta
};

/// Validates the update, merges it with the stored config, tests the credentials against
/// Meta unless skipped, and saves. A token Meta rejects is not saved (Error(credentials));
/// a permanent refusal is not saved (Error(rejected)); an unreachable Graph API saves with
/// a warning.
ConfigSetResult set_config(Store& store, const MasterKey& key, const ConfigUpdate& update,
                           CredentialTest test);

/// Tests the tenant's stored credentials: Meta's phone number info, or an Error
/// (credentials: also flags the config as needing a new token; rejected; tempfail).
PhoneNumberInfo test_config(Store& store, const MasterKey& key, const std::string& tenant);

/// The GraphTarget for a stored config (its URL, version and opened access token).
GraphTarget graph_target(const Config& config, const ConfigSecrets& secrets);

/// The config as JSON (CONTRACT.md §2 `config get --json`), secrets masked unless
/// `show_secrets`.
nlohmann::json config_json(const Config& config, const ConfigSecrets& secrets, bool show_secrets);

} // namespace wabactl
