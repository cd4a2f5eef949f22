// Time, the per-number rate limiter, per-recipient spacing and a batch's upload cache.
#include "wabactl/send.hpp"

#include <algorithm>
#include <thread>
#include <utility>

namespace wabactl {
namespace {

class SteadyClock final : public Clock {
public:
  std::chrono::nanoseconds now() override {
    return std::chrono::steady_clock::now().time_since_epoch();
  }
  void sleep_until(std::chrono::nanoseconds t) override {
    std::this_thread::sleep_until(std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(t)));
  }
};

constexpr std::chrono::nanoseconds window = std::chrono::seconds(1);

} // namespace

Clock& steady_clock() {
  static SteadyClock clock;
  return clock;
}

RateLimiter::RateLimiter(int rate_per_second, Clock& clock) : clock_(clock) {
  if (rate_per_second < 1)
    throw Error(Exit::usage, "the rate must be at least 1 message per second");
  rate_ = static_cast<std::size_t>(rate_per_second);
}

RateLimiter::Grant RateLimiter::acquire() {
  std::unique_lock lock(mu_);
  for (;;) {
    auto now = clock_.now();
    // An answer a full second ago: Meta counted that request before it, in an earlier window.
    while (!answered_.empty() && answered_.front() <= now - window) answered_.pop_front();
    if (in_flight_ + answered_.size() < rate_) {
      ++in_flight_;
      return Grant(this, now);
    }
    if (answered_.empty()) {
      answer_.wait(lock); // every place is held by a request still on its way
      continue;
    }
    auto free_at = answered_.front() + window;
    lock.unlock();
    clock_.sleep_until(free_at);
    lock.lock();
  }
}

void RateLimiter::finish() {
  {
    std::lock_guard lock(mu_);
    --in_flight_;
    answered_.push_back(clock_.now());
  }
  answer_.notify_all();
}

RateLimiter::Grant::Grant(Grant&& other) noexcept
    : limiter_(std::exchange(other.limiter_, nullptr)), at_(other.at_) {}

RateLimiter::Grant& RateLimiter::Grant::operator=(Grant&& other) noexcept {
  if (this != &other) {
    finish();
    limiter_ = std::exchange(other.limiter_, nullptr);
    at_ = other.at_;
  }
  return *this;
}

void RateLimiter::Grant::finish() {
  if (limiter_ != nullptr) std::exchange(limiter_, nullptr)->finish();
}

RecipientSpacer::RecipientSpacer(std::chrono::nanoseconds gap, Clock& clock)
    : clock_(clock), gap_(gap) {}

std::chrono::nanoseconds RecipientSpacer::reserve(const std::string& recipient) {
  std::lock_guard lock(mu_);
  auto now = clock_.now();
  auto it = next_.find(recipient);
  auto slot = it == next_.end() || it->second < now ? now : it->second;
  next_[recipient] = slot + gap_;
  return slot;
}

std::chrono::nanoseconds RecipientSpacer::acquire(const std::string& recipient) {
  auto slot = reserve(recipient);
  clock_.sleep_until(slot);
  return slot;
}

void RecipientSpacer::defer(const std::string& recipient, std::chrono::nanoseconds delay) {
  std::lock_guard lock(mu_);
  auto until = clock_.now() + delay;
  auto& next = next_[recipient];
  if (next < until) next = until;
}

std::optional<UploadCache::Key> UploadCache::key_of(const MediaSource& file) {
  std::error_code ec;
  auto path = std::filesystem::canonical(file.path, ec);
  if (ec) return std::nullopt;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) return std::nullopt;
  auto modified = std::filesystem::last_write_time(path, ec);
  if (ec) return std::nullopt;
  return Key{path.string(), size, static_cast<std::int64_t>(modified.time_since_epoch().count()),
             file.mime_type};
}

std::optional<std::string> UploadCache::find_or_claim(const Key& key) {
  std::unique_lock lock(mu_);
  for (;;) {
    auto it = ids_.find(key);
    if (it == ids_.end()) {
      ids_.emplace(key, std::nullopt);
      return std::nullopt;
    }
    if (it->second) return it->second;
    done_.wait(lock);
  }
}

void UploadCache::remember(const Key& key, std::string media_id) {
  {
    std::lock_guard lock(mu_);
    ids_.insert_or_assign(key, std::move(media_id));
  }
  done_.notify_all();
}

void UploadCache::forget(const Key& key) {
  {
    std::lock_guard lock(mu_);
    ids_.erase(key);
  }
  done_.notify_all();
}

} // namespace wabactl
