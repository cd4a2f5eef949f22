#include "server/rate_limit.hpp"

namespace wabactl::server {

namespace {
constexpr auto window = std::chrono::minutes(1);
}

FailureLimiter::FailureLimiter(std::size_t limit, std::size_t max_addresses)
    : limit_(limit), max_addresses_(max_addresses) {}

void FailureLimiter::prune(std::deque<Clock::time_point>& times, Clock::time_point now) {
  while (!times.empty() && now - times.front() >= window) times.pop_front();
}

bool FailureLimiter::failure(const std::string& address, Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (failures_.size() >= max_addresses_ && failures_.count(address) == 0) {
    // A flood from many addresses: forget the ones whose failures have expired, and if
    // that is not enough, start over rather than grow without bound.
    for (auto it = failures_.begin(); it != failures_.end();) {
      prune(it->second, now);
      it = it->second.empty() ? failures_.erase(it) : std::next(it);
    }
    if (failures_.size() >= max_addresses_) failures_.clear();
  }
  auto& times = failures_[address];
  prune(times, now);
  bool over = times.size() >= limit_;
  // Keep only what the decision needs.
  if (over && !times.empty()) times.pop_front();
  times.push_back(now);
  return over;
}

} // namespace wabactl::server
