#include "server/template_syncer.hpp"

#include "wabactl/log.hpp"
#include "wabactl/send.hpp"
#include "wabactl/store.hpp"
#include "wabactl/template_check.hpp"
#include "wabactl/templates.hpp"
#include "wabactl/util.hpp"

#include <random>

namespace wabactl::server {
namespace {

std::string iso_in(std::chrono::seconds from_now) {
  auto at = std::chrono::system_clock::now() + from_now;
  return iso_from_unix(
      std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count());
}

} // namespace

TemplateSyncer::TemplateSyncer(std::filesystem::path db,
                               std::function<ConfigSecrets(const Config&)> open)
    : db_(std::move(db)), open_(std::move(open)) {}

TemplateSyncer::~TemplateSyncer() {
  stop();
}

void TemplateSyncer::start() {
  store_ = std::make_unique<Store>(db_, Durability::normal);
  thread_ = std::thread([this] { run(); });
}

void TemplateSyncer::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void TemplateSyncer::run() {
  for (;;) {
    try {
      pass();
    } catch (const std::exception& e) {
      LOG_ERROR("template sync: {}", e.what());
    }
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, tick, [this] { return stopping_; })) return;
  }
}

void TemplateSyncer::pass() {
  static thread_local std::mt19937 random{std::random_device{}()};
  std::uniform_int_distribution<long> spread(-jitter.count() * 60, jitter.count() * 60);
  for (const Config& c : list_configs(*store_)) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (!c.is_active || !c.business_account_id) continue;
    auto next = std::chrono::duration_cast<std::chrono::seconds>(period) +
                std::chrono::seconds(spread(random));
    if (!claim_template_sync(*store_, c.tenant_id, now_iso(), iso_in(next))) continue;
    try {
      auto target = send_target(*store_, open_, c.tenant_id);
      if (!target) continue;
      TemplateSync s = sync_templates(*store_, *target);
      LOG_INFO("tenant {}: synced {} templates", c.tenant_id, s.count);
    } catch (const std::exception& e) {
      LOG_WARN("tenant {}: template sync failed, trying again in {} minutes: {}", c.tenant_id,
               retry_after.count(), e.what());
      reschedule_template_sync(
          *store_, c.tenant_id,
          iso_in(std::chrono::duration_cast<std::chrono::seconds>(retry_after)));
    }
  }
}

} // namespace wabactl::server
