#pragma once
// Every refused webhook or API request is counted in /metrics by route and reason and
// logged at info with its reason and the client address (never a secret). An attack must
// not flood the journal: at most `per_second` lines a second for each route and reason;
// the ones left out are summed up in one "suppressed K similar refusals" line when that
// route and reason is next logged.

#include "server/metrics.hpp"

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wabactl::server {

class Refusals {
public:
  using Clock = std::chrono::steady_clock;

  explicit Refusals(Metrics& metrics, std::size_t per_second = 10);

  /// Counts one refusal and logs it unless its route and reason used up this second's lines.
  /// `detail` says what was wrong and must hold no secret.
  void refuse(std::string_view route, std::string_view reason, int status, std::string_view address,
              std::string_view detail);

  /// The lines `refuse` would log for this refusal at `now` (none when suppressed); counts it.
  std::vector<std::string> note(std::string_view route, std::string_view reason, int status,
                                std::string_view address, std::string_view detail,
                                Clock::time_point now);

private:
  struct Window {
    Clock::time_point start{};
    std::size_t logged = 0;
    std::size_t suppressed = 0;
  };

  Metrics& metrics_;
  std::size_t per_second_;
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Window, std::less<>> windows_;
};

} // namespace wabactl::server
