#include "server/stream_slots.hpp"

#include <algorithm>

namespace wabactl::server {

StreamSlots::StreamSlots(std::size_t cap)
    : cap_(cap), reserve_(std::max<std::size_t>(1, cap / 16)) {}

bool StreamSlots::acquire(const std::string& tenant) {
  std::lock_guard lock(mu_);
  if (total_ >= cap_) return false;
  auto it = held_.find(tenant);
  if (it != held_.end()) {
    std::size_t share = std::max<std::size_t>(1, cap_ / held_.size());
    if (it->second >= share || cap_ - total_ <= reserve_) return false;
    ++it->second;
  } else {
    held_.emplace(tenant, 1);
  }
  ++total_;
  return true;
}

void StreamSlots::release(const std::string& tenant) {
  std::lock_guard lock(mu_);
  auto it = held_.find(tenant);
  if (it == held_.end()) return;
  --total_;
  if (--it->second == 0) held_.erase(it);
}

std::size_t StreamSlots::taken() const {
  std::lock_guard lock(mu_);
  return total_;
}

} // namespace wabactl::server
