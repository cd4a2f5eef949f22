#pragma once
// Per-tenant WhatsApp Cloud API configuration. Secrets are stored sealed (secrets.hpp);
// reading metadata needs no key, reading secrets does.

#include <optional>
#include <string>
#include <vector>

namespace wabactl {

class Store;
class MasterKey;

/// A tenant's config as stored: metadata in clear, secrets sealed (empty = not set).
struct Config {
  std::string tenant_id;
  std::string phone_number_id;
  std::optional<std::string> business_account_id;
  std::optional<std::string> webhook_url;
  std::optional<std::string> api_version; ///< per-tenant override, else $META_API_VERSION
  std::optional<std::string> graph_url;   ///< per-tenant override, else $WABACTL_GRAPH_URL
  bool is_active = true;
  bool needs_reauth = false;
  std::vector<unsigned char> sealed_access_token;
  std::vector<unsigned char> sealed_app_secret;
  std::vector<unsigned char> sealed_verify_token;
  std::string created_at;
  std::string updated_at;
};

/// A config's secrets in plaintext (keep them in memory only).
struct ConfigSecrets {
  std::optional<std::string> access_token;
  std::optional<std::string> app_secret;
  std::optional<std::string> verify_token;
};

/// Field names used as associated data when sealing.
inline constexpr const char* field_access_token = "access_token";
inline constexpr const char* field_app_secret = "app_secret";
inline constexpr const char* field_verify_token = "verify_token";

/// The config of `tenant`, or nullopt.
std::optional<Config> find_config(Store& store, const std::string& tenant);
/// As find_config, but Error(not_found) with a hint when absent.
Config require_config(Store& store, const std::string& tenant);
/// The config owning `phone_number_id`, or nullopt.
std::optional<Config> find_config_by_phone_number_id(Store& store,
                                                     const std::string& phone_number_id);
/// Every config, ordered by tenant id.
std::vector<Config> list_configs(Store& store);
/// A value that changes whenever a tenant's routing or secrets change (number, active flag,
/// App Secret, verify token), also twice within a second: the daemon's tenant cache
/// compares it to see whether it must reload.
std::string config_fingerprint(Store& store);

/// Opens every secret of `config` (Error(credentials) when one does not open).
ConfigSecrets open_secrets(const Config& config, const MasterKey& key);

/// Creates or replaces the tenant's config, sealing `secrets` (unset ones are stored as
/// NULL). Clears needs_reauth. Error(exists) when the phone number id belongs to another
/// tenant. Returns the stored config.
Config save_config(Store& store, const MasterKey& key, Config config, const ConfigSecrets& secrets);

/// Deletes the tenant's config; Error(not_found) when it has none.
void delete_config(Store& store, const std::string& tenant);

/// Flags (or clears) the config as needing a new access token.
void set_needs_reauth(Store& store, const std::string& tenant, bool value);

/// Re-seals every stored secret from `old_key` to `new_key` in one transaction and
/// rewrites the key check, so an interrupted rotation leaves every secret readable under
/// exactly one of the two keys. Returns how many secrets were re-sealed.
std::size_t rotate_master_key(Store& store, const MasterKey& old_key, const MasterKey& new_key);

/// The Graph API base URL for a config: its own, else $WABACTL_GRAPH_URL, else Meta's.
std::string effective_graph_url(const Config& config);
/// The Graph API version for a config: its own, else $META_API_VERSION, else v25.0.
std::string effective_api_version(const Config& config);

/// Validation shared by the CLI and the REST API; each throws Error(usage).
void validate_phone_number_id(const std::string& value);
void validate_api_version(const std::string& value);
void validate_graph_url(const std::string& value);
void validate_secret(const std::string& value, const char* what);

} // namespace wabactl
