#pragma once
// Per-address limit on failed authentication (bad webhook signatures, wrong verify tokens,
// wrong API tokens). It slows the failing requests only: every request is still checked,
// and one that passes is served whatever its address did before. A failure beyond `limit`
// within a minute is answered 429 instead of 401/403, until the address's oldest failure is
// a minute old. Bounded memory: at most `max_addresses` are tracked.

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace wabactl::server {

class FailureLimiter {
public:
  using Clock = std::chrono::steady_clock;

  explicit FailureLimiter(std::size_t limit, std::size_t max_addresses = 10000);

  /// Records one failure of `address`; true when the address had already failed `limit`
  /// times within the minute (answer this one 429).
  bool failure(const std::string& address, Clock::time_point now = Clock::now());

private:
  void prune(std::deque<Clock::time_point>& times, Clock::time_point now);

  std::size_t limit_;
  std::size_t max_addresses_;
  std::mutex mu_;
  std::unordered_map<std::string, std::deque<Clock::time_point>> failures_;
};

} // namespace wabactl::server
