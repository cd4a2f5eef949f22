#pragma once
// Per-address limit on failed authentication (bad webhook signatures, wrong verify
// tokens): after `limit` failures within a minute, an address is refused (429) until its
// oldest failure is a minute old. Bounded memory: at most `max_addresses` are tracked.

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

  /// Whether `address` has used up its failures for the current minute.
  bool blocked(const std::string& address, Clock::time_point now = Clock::now());
  /// Records one failure of `address`.
  void failure(const std::string& address, Clock::time_point now = Clock::now());

private:
  void prune(std::deque<Clock::time_point>& times, Clock::time_point now);

  std::size_t limit_;
  std::size_t max_addresses_;
  std::mutex mu_;
  std::unordered_map<std::string, std::deque<Clock::time_point>> failures_;
};

} // namespace wabactl::server
