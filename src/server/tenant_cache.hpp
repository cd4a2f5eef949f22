#pragma once
// The daemon's view of the tenants' WhatsApp configs with their secrets opened: which
// tenant owns each phone number id, the candidate secrets for webhook signatures and the
// verify tokens. Kept in memory and reloaded when the database changed (checked with
// PRAGMA data_version at most once a second), so `wabactl config set` reaches a running
// daemon within a second without a restart.
//
// A key rotation (`wabactl key rotate`) re-seals every secret and changes the key check value
// while the daemon runs. The cache notices the check value no longer matches its key, keeps
// serving the secrets it already holds open (signed webhooks keep verifying), and re-reads its
// key sources (backing off from 1 s to a minute, or at once on reload()) until the new key is
// there; then it swaps the key in and reloads the configs.

#include "wabactl/configs.hpp"
#include "wabactl/secrets.hpp"
#include "wabactl/webhook.hpp"

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace wabactl {
class Store;
}

namespace wabactl::server {

/// One immutable generation of the cache.
struct TenantSnapshot {
  /// phone_number_id → tenant, for active configs.
  std::map<std::string, std::string> tenant_of_number;
  /// Candidates for any delivery on the shared route.
  std::vector<SecretCandidate> candidates;
  /// business account id → the tenants of active configs that name it (template webhooks
  /// carry no phone number).
  std::map<std::string, std::set<std::string>> tenants_of_waba;
  /// tenant → its own App Secret (the per-tenant route accepts only that one).
  std::map<std::string, std::string> app_secret_of_tenant;
  /// (tenant, verify token) of active configs that have one.
  std::vector<std::pair<std::string, std::string>> verify_tokens;
  /// tenant → its active config's secrets, opened: what the API uses while a rotation waits
  /// for its new key.
  std::map<std::string, ConfigSecrets> secrets_of_tenant;
};

class TenantCache {
public:
  TenantCache(const std::filesystem::path& db, KeyOptions key,
              std::optional<std::string> fallback_secret);
  ~TenantCache();

  /// Loads the configs and the master key. Throws Error(credentials) when configs exist but
  /// the master key cannot be loaded.
  void load();
  /// The current snapshot, reloaded first when the database changed and the last check is
  /// more than a second old.
  std::shared_ptr<const TenantSnapshot> get();
  /// The master key, for sealing and opening secrets on behalf of API requests; loaded on
  /// first use when no config existed at start. The reference stays valid for the cache's
  /// life. Error(tempfail) while a rotation waits for its new key, Error(internal) when the
  /// daemon's key is missing or wrong.
  const MasterKey& master_key();
  /// `config`'s secrets, opened with the master key; while a rotation waits for its new key,
  /// the ones the cache opened before it (for the same phone number id), so sends and reads
  /// go on. Errors as master_key() when neither is there.
  ConfigSecrets open(const Config& config);
  /// Re-reads the master key from its sources and the configs now (SIGHUP).
  void reload();

private:
  void reload_locked();
  void refresh_locked(std::chrono::steady_clock::time_point now);
  bool try_new_key_locked();
  const MasterKey& master_key_locked();
  void use_key_locked(MasterKey key);
  std::string fingerprint_locked();

  std::filesystem::path db_;
  KeyOptions key_options_;
  std::optional<std::string> fallback_;
  std::mutex mu_;
  std::unique_ptr<Store> store_;
  const MasterKey* key_ = nullptr;
  /// Every key used since start: references handed out stay valid across a rotation.
  std::vector<std::unique_ptr<const MasterKey>> keys_;
  bool rotation_pending_ = false;
  std::chrono::steady_clock::duration key_backoff_{};
  std::chrono::steady_clock::time_point key_retry_at_{};
  std::shared_ptr<const TenantSnapshot> snapshot_;
  std::int64_t data_version_ = -1;
  std::string fingerprint_;
  std::chrono::steady_clock::time_point checked_{};
  bool key_warned_ = false;
};

} // namespace wabactl::server
