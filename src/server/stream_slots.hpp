#pragma once
// The live-stream slots (SSE and WebSocket together) and how tenants share them.

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace wabactl::server {

/// At most `cap` streams at once. A tenant with no stream is admitted while any slot is
/// free. A tenant that holds streams gets another only while it holds fewer than cap / n
/// (n: tenants holding streams, itself included) and more than a reserve of cap / 16
/// (at least 1) slots stays free, so one tenant can never take the slots that let another
/// tenant in. Thread-safe.
class StreamSlots {
public:
  explicit StreamSlots(std::size_t cap);
  /// Takes a slot for `tenant`; false when the rules above refuse it.
  bool acquire(const std::string& tenant);
  /// Gives back a slot `tenant` took.
  void release(const std::string& tenant);
  /// Slots taken.
  std::size_t taken() const;

private:
  std::size_t cap_;
  std::size_t reserve_;
  mutable std::mutex mu_;
  std::size_t total_ = 0;
  std::unordered_map<std::string, std::size_t> held_;
};

} // namespace wabactl::server
