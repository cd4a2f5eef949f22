#include "server/refusals.hpp"

#include "wabactl/log.hpp"

#include <fmt/format.h>

namespace wabactl::server {
namespace {

// An address comes from the peer or a proxy's header: keep the log line one clean line.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) out += (c > 0x20 && c < 0x7f) ? c : '?';
  return out;
}

} // namespace

Refusals::Refusals(Metrics& metrics, std::size_t per_second)
    : metrics_(metrics), per_second_(per_second) {}

void Refusals::refuse(std::string_view route, std::string_view reason, int status,
                      std::string_view address, std::string_view detail) {
  for (const auto& line : note(route, reason, status, address, detail, Clock::now())) {
    LOG_INFO("{}", line);
  }
}

std::vector<std::string> Refusals::note(std::string_view route, std::string_view reason, int status,
                                        std::string_view address, std::string_view detail,
                                        Clock::time_point now) {
  metrics_.refused(route, reason);
  std::vector<std::string> lines;
  std::lock_guard lock(mu_);
  auto key = std::pair{std::string(route), std::string(reason)};
  auto it = windows_.find(key);
  if (it == windows_.end()) it = windows_.emplace(std::move(key), Window{now, 0, 0}).first;
  Window& w = it->second;
  if (now - w.start >= std::chrono::seconds(1)) {
    if (w.suppressed != 0) {
      lines.push_back(fmt::format("{} refusals: suppressed {} similar refusals ({})", route,
                                  w.suppressed, reason));
    }
    w = Window{now, 0, 0};
  }
  if (w.logged >= per_second_) {
    ++w.suppressed;
    return lines;
  }
  ++w.logged;
  lines.push_back(fmt::format("{} request refused: {} {} ({}) from {}", route, status, detail,
                              reason, printable(address)));
  return lines;
}

} // namespace wabactl::server
