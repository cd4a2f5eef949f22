#include "wabactl/claimant.hpp"
#include "wabactl/log.hpp"
#include "wabactl/media_fetch.hpp"
#include "wabactl/store.hpp"
#include "wabactl/util.hpp"

#include <algorithm>

namespace wabactl {
namespace {

// The longest the claiming thread sleeps without a wake-up: retries become due on their own,
// and another daemon's claims lapse.
constexpr std::chrono::seconds max_idle{60};
// After a store error, before trying again.
constexpr std::chrono::seconds error_pause{1};

std::int64_t unix_now() {
  return now_ms() / 1000;
}

} // namespace

MediaWorker::MediaWorker(MediaWorkerOptions options, SecretsOpener open, MediaCounters& counters)
    : options_(std::move(options)), open_(std::move(open)), counters_(counters) {}

MediaWorker::~MediaWorker() {
  stop();
}

void MediaWorker::start() {
  dispatcher_ = std::thread([this] { dispatch(); });
  for (std::size_t i = 0; i < options_.workers; ++i) {
    downloaders_.emplace_back([this] { download(); });
  }
}

void MediaWorker::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  dispatch_cv_.notify_one();
}

void MediaWorker::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  dispatch_cv_.notify_all();
  jobs_cv_.notify_all();
  if (dispatcher_.joinable()) dispatcher_.join();
  for (auto& t : downloaders_) {
    if (t.joinable()) t.join();
  }
  // Jobs claimed but not started go back at once, as do the in-flight ones (download()).
  if (ready_.empty()) return;
  try {
    Store store(options_.db, Durability::normal);
    for (const auto& job : ready_) release_media_job(store, job, outbox_claimant());
  } catch (const std::exception& e) {
    LOG_WARN("media: could not give back {} claimed downloads (claimable again once their "
             "lease ends): {}",
             ready_.size(), e.what());
  }
  ready_.clear();
}

void MediaWorker::dispatch() {
  std::unique_ptr<Store> store;
  auto wake_at = std::chrono::steady_clock::now();
  for (;;) {
    std::size_t free = 0;
    {
      std::unique_lock lock(mu_);
      dispatch_cv_.wait_until(lock, wake_at, [&] { return stopping_.load() || woken_; });
      if (stopping_) return;
      woken_ = false;
      std::size_t held = busy_ + ready_.size();
      free = options_.workers > held ? options_.workers - held : 0;
    }
    try {
      if (!store) {
        store = std::make_unique<Store>(options_.db, Durability::normal);
        if (auto n = release_dead_media_claims(*store); n > 0) {
          LOG_INFO("media: {} downloads of a daemon that stopped are claimable again", n);
        }
      }
      const std::int64_t now = unix_now();
      if (free > 0 && media_job_due(*store, now)) {
        auto jobs = claim_media_jobs(*store, outbox_claimant(), free, now, options_.lease);
        if (!jobs.empty()) {
          std::lock_guard lock(mu_);
          for (auto& j : jobs) ready_.push_back(std::move(j));
        }
        jobs_cv_.notify_all();
      }
      counters_.queued = queued_media_jobs(*store);
      auto next = next_media_due(*store);
      std::int64_t wait = next ? std::clamp<std::int64_t>(*next - unix_now(), 1, max_idle.count())
                               : max_idle.count();
      wake_at = std::chrono::steady_clock::now() + std::chrono::seconds(wait);
    } catch (const std::exception& e) {
      LOG_ERROR("media: the download queue cannot be read: {}", e.what());
      store.reset();
      wake_at = std::chrono::steady_clock::now() + error_pause;
    }
  }
}

void MediaWorker::download() {
  std::unique_ptr<Store> store;
  for (;;) {
    MediaJob job;
    {
      std::unique_lock lock(mu_);
      jobs_cv_.wait(lock, [&] { return stopping_.load() || !ready_.empty(); });
      if (stopping_) return;
      job = std::move(ready_.front());
      ready_.pop_front();
      ++busy_;
    }
    try {
      if (!store) store = std::make_unique<Store>(options_.db, Durability::normal);
      MediaOutcome outcome =
          process_media_job(*store, job, options_.caps, open_, outbox_claimant(), &stopping_);
      switch (outcome.result) {
      case MediaResult::stored:
        ++counters_.stored;
        LOG_DEBUG("media: message {} of tenant '{}' stored", job.message_id, job.tenant_id);
        break;
      case MediaResult::retry:
        ++counters_.retry;
        LOG_INFO("media: message {} of tenant '{}': {} (will retry)", job.message_id, job.tenant_id,
                 outcome.reason);
        break;
      case MediaResult::failed:
        ++counters_.failed;
        LOG_WARN("media: message {} of tenant '{}' failed: {}", job.message_id, job.tenant_id,
                 outcome.reason);
        break;
      case MediaResult::abandoned:
        break;
      }
    } catch (const std::exception& e) {
      // The job keeps its claim until the lease ends, then another attempt takes it.
      LOG_ERROR("media: message {} of tenant '{}': {}", job.message_id, job.tenant_id, e.what());
      store.reset();
    }
    {
      std::lock_guard lock(mu_);
      --busy_;
      woken_ = true;
    }
    dispatch_cv_.notify_one();
  }
}

} // namespace wabactl
