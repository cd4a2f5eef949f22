// Time, the per-number rate limiter and per-recipient spacing.
#include "wabactl/send.hpp"

#include <algorithm>
#include <thread>

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

// The window the limiter keeps to: a second plus a guard of 2 %, so that jitter between a
// grant and the request reaching Meta (scheduling, a busy machine) cannot squeeze rate + 1
// requests into one second at Meta's end.
constexpr std::chrono::nanoseconds window = std::chrono::milliseconds(1020);

} // namespace

Clock& steady_clock() {
  static SteadyClock clock;
  return clock;
}

RateLimiter::RateLimiter(int rate_per_second, Clock& clock) : clock_(clock) {
  if (rate_per_second < 1)
    throw Error(Exit::usage, "the rate must be at least 1 message per second");
  interval_ = std::chrono::nanoseconds(window.count() / rate_per_second);
  recent_.assign(static_cast<std::size_t>(rate_per_second), std::chrono::nanoseconds::min());
}

std::chrono::nanoseconds RateLimiter::acquire() {
  std::unique_lock lock(mu_);
  for (;;) {
    auto now = clock_.now();
    if (!started_) {
      next_ = now;
      started_ = true;
    }
    auto bound =
        recent_[oldest_] == std::chrono::nanoseconds::min() ? now : recent_[oldest_] + window;
    auto slot = std::max(next_, bound);
    if (now >= slot) {
      recent_[oldest_] = now;
      oldest_ = (oldest_ + 1) % recent_.size();
      // Lateness of up to one interval is made up; beyond that the spacing restarts now.
      next_ = std::max(next_, now - interval_) + interval_;
      return now;
    }
    lock.unlock();
    clock_.sleep_until(slot);
    lock.lock();
  }
}

RecipientSpacer::RecipientSpacer(std::chrono::nanoseconds gap, Clock& clock)
    : clock_(clock), gap_(gap) {}

std::chrono::nanoseconds RecipientSpacer::acquire(const std::string& recipient) {
  std::chrono::nanoseconds slot;
  {
    std::lock_guard lock(mu_);
    auto now = clock_.now();
    auto it = next_.find(recipient);
    slot = it == next_.end() || it->second < now ? now : it->second;
    next_[recipient] = slot + gap_;
  }
  clock_.sleep_until(slot);
  return slot;
}

void RecipientSpacer::defer(const std::string& recipient, std::chrono::nanoseconds delay) {
  std::lock_guard lock(mu_);
  auto until = clock_.now() + delay;
  auto& next = next_[recipient];
  if (next < until) next = until;
}

} // namespace wabactl
