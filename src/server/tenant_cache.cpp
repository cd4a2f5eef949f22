#include "server/tenant_cache.hpp"

#include "wabactl/configs.hpp"
#include "wabactl/error.hpp"
#include "wabactl/log.hpp"
#include "wabactl/store.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace wabactl::server {

TenantCache::TenantCache(const std::filesystem::path& db, KeyOptions key,
                         std::optional<std::string> fallback_secret)
    : db_(db), key_options_(std::move(key)), fallback_(std::move(fallback_secret)) {}

TenantCache::~TenantCache() = default;

void TenantCache::load() {
  std::lock_guard lock(mu_);
  store_ = std::make_unique<Store>(db_);
  try {
    use_key_locked(load_master_key(key_options_, *store_));
  } catch (const Error& e) {
    if (!list_configs(*store_).empty()) throw;
    // No tenant is configured yet: run (the fallback secret may serve) and retry the key
    // when configs appear.
    LOG_WARN("no usable master key yet ({}); tenants configured later need it", e.what());
    key_warned_ = true;
  }
  reload_locked();
}

void TenantCache::reload_locked() {
  data_version_ = store_->data_version();
  fingerprint_ = fingerprint_locked();
  checked_ = std::chrono::steady_clock::now();
  auto configs = list_configs(*store_);
  auto next = std::make_shared<TenantSnapshot>();
  if (!configs.empty() && !key_) {
    try {
      use_key_locked(load_master_key(key_options_, *store_));
    } catch (const Error& e) {
      if (!key_warned_) LOG_ERROR("cannot open the tenants' secrets: {}", e.what());
      key_warned_ = true;
    }
  }
  std::vector<Config> usable;
  for (const auto& c : configs) {
    if (!c.is_active || !key_) continue;
    ConfigSecrets secrets;
    try {
      secrets = open_secrets(c, *key_);
    } catch (const Error& e) {
      LOG_ERROR("tenant {}: cannot open its secrets, its webhooks are refused: {}", c.tenant_id,
                e.what());
      continue;
    }
    next->tenant_of_number[c.phone_number_id] = c.tenant_id;
    if (c.business_account_id) next->tenants_of_waba[*c.business_account_id].insert(c.tenant_id);
    if (secrets.app_secret && !secrets.app_secret->empty()) {
      next->app_secret_of_tenant[c.tenant_id] = *secrets.app_secret;
    }
    if (secrets.verify_token && !secrets.verify_token->empty()) {
      next->verify_tokens.emplace_back(c.tenant_id, *secrets.verify_token);
    }
    next->secrets_of_tenant[c.tenant_id] = secrets;
    usable.push_back(c);
  }
  if (key_) next->candidates = secret_candidates(usable, *key_, fallback_);
  snapshot_ = std::move(next);
}

void TenantCache::use_key_locked(MasterKey key) {
  keys_.push_back(std::make_unique<const MasterKey>(std::move(key)));
  key_ = keys_.back().get();
}

bool TenantCache::try_new_key_locked() {
  try {
    use_key_locked(load_master_key(key_options_, *store_));
  } catch (const Error& e) {
    LOG_DEBUG("the rotated master key is not there yet: {}", e.what());
    return false;
  }
  rotation_pending_ = false;
  LOG_INFO("the master key was rotated: now using the key from {}", key_->source());
  reload_locked();
  return true;
}

void TenantCache::refresh_locked(std::chrono::steady_clock::time_point now) {
  if (rotation_pending_) {
    if (now < key_retry_at_) return;
    if (try_new_key_locked()) return;
    key_backoff_ =
        std::min<std::chrono::steady_clock::duration>(key_backoff_ * 2, std::chrono::minutes(1));
    key_retry_at_ = now + key_backoff_;
    return;
  }
  if (now - checked_ < std::chrono::seconds(1)) return;
  checked_ = now;
  // data_version moves whenever another connection commits (the writer does, often);
  // only a changed key check or configs table is worth more.
  auto version = store_->data_version();
  if (version == data_version_) return;
  data_version_ = version;
  if (key_ && !key_matches(*store_, *key_)) {
    LOG_WARN("the master key was rotated (the stored key check changed): signed webhooks "
             "keep verifying with the secrets already open; waiting for the new key from {} "
             "(replace that file, or reload the daemon)",
             key_->source());
    rotation_pending_ = true;
    key_backoff_ = std::chrono::seconds(1);
    key_retry_at_ = now;
    refresh_locked(now);
    return;
  }
  if (fingerprint_locked() != fingerprint_) reload_locked();
}

const MasterKey& TenantCache::master_key() {
  std::lock_guard lock(mu_);
  return master_key_locked();
}

ConfigSecrets TenantCache::open(const Config& config) {
  std::lock_guard lock(mu_);
  try {
    return open_secrets(config, master_key_locked());
  } catch (const Error&) {
    // Re-sealed under a key the daemon does not have yet (noticed, or not checked yet):
    // the secrets opened before the rotation are still the tenant's.
    bool rotated = rotation_pending_ || (key_ && !key_matches(*store_, *key_));
    if (!rotated || !snapshot_) throw;
    auto held = snapshot_->secrets_of_tenant.find(config.tenant_id);
    auto number = snapshot_->tenant_of_number.find(config.phone_number_id);
    if (held == snapshot_->secrets_of_tenant.end() || number == snapshot_->tenant_of_number.end() ||
        number->second != config.tenant_id) {
      throw;
    }
    return held->second;
  }
}

const MasterKey& TenantCache::master_key_locked() {
  try {
    refresh_locked(std::chrono::steady_clock::now());
    if (!key_) use_key_locked(load_master_key(key_options_, *store_));
  } catch (const Error& e) {
    // The daemon's own key is missing or wrong: a server fault, not the client's.
    throw Error(Exit::internal, fmt::format("the daemon cannot open its master key: {}", e.what()));
  }
  if (rotation_pending_) {
    throw Error(Exit::tempfail,
                "the master key was rotated and the daemon does not have the new key yet",
                "replace the daemon's key file with the new one, or reload the daemon");
  }
  return *key_;
}

void TenantCache::reload() {
  std::lock_guard lock(mu_);
  try {
    if (key_ && !key_matches(*store_, *key_)) rotation_pending_ = true;
    if (rotation_pending_) {
      if (try_new_key_locked()) return;
      LOG_ERROR("reload: the master key from {} does not match the database yet; keeping the "
                "secrets already open",
                key_->source());
      key_backoff_ = std::chrono::seconds(1);
      key_retry_at_ = std::chrono::steady_clock::now() + key_backoff_;
      return;
    }
    reload_locked();
    LOG_INFO("reloaded the master key and the tenants' configs");
  } catch (const std::exception& e) {
    LOG_ERROR("reload failed, keeping the previous configs: {}", e.what());
  }
}

std::string TenantCache::fingerprint_locked() {
  return config_fingerprint(*store_);
}

std::shared_ptr<const TenantSnapshot> TenantCache::get() {
  std::lock_guard lock(mu_);
  try {
    refresh_locked(std::chrono::steady_clock::now());
  } catch (const std::exception& e) {
    LOG_ERROR("reloading the tenants' configs failed, keeping the previous ones: {}", e.what());
  }
  return snapshot_;
}

} // namespace wabactl::server
