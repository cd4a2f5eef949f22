#pragma once
// The daemon's counters, gauges and the commit latency histogram, rendered as Prometheus
// text. Counters are lock-free; the per-code and per-reason maps take a small lock.

#include "wabactl/hook_forwarder.hpp"
#include "wabactl/hooks.hpp"
#include "wabactl/media_fetch.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace wabactl::server {

class Metrics {
public:
  /// Why a webhook request was refused.
  enum class Rejection {
    signature,
    unknown_number,
    malformed,
    too_large,
    chunked,
    encoding,
    rate_limited,
    headers,
    failed
  };

  std::atomic<std::uint64_t> webhooks_received{0};  ///< POSTs that reached the webhook route
  std::atomic<std::uint64_t> webhooks_stored{0};    ///< deliveries committed (new bytes)
  std::atomic<std::uint64_t> webhooks_duplicate{0}; ///< deliveries whose bytes were stored before
  std::atomic<std::uint64_t> records_duplicate{0};  ///< messages/statuses already present
  std::atomic<std::uint64_t> messages_received{0};  ///< new inbound messages stored
  std::atomic<std::uint64_t> statuses_received{0};  ///< new status rows stored
  std::atomic<std::uint64_t> messages_sent{0};      ///< sends Meta accepted (send routes)
  std::atomic<std::uint64_t> messages_failed{0};    ///< sends Meta refused or that failed
  std::atomic<std::int64_t> sse_clients{0};         ///< gauge, driven by the streams' thread
  std::atomic<std::int64_t> ws_clients{0};          ///< gauge, driven by the streams' thread
  std::atomic<std::int64_t> http_connections{0};    ///< gauge, driven by the connection front
  MediaCounters media;                              ///< driven by the media worker
  HookCounters hooks;                               ///< driven by the hook forwarder

  void reject(Rejection why);
  /// Counts a refused request by route ("webhook", "api", …) and reason.
  void refused(std::string_view route, std::string_view reason);
  /// Counts a Graph API error by Meta's code.
  void graph_error(int code);
  /// Records one group commit: how long it took and how many deliveries it carried.
  void commit(double seconds, std::size_t deliveries);

  /// The Prometheus text exposition of everything above, and of each hook's backlog.
  std::string render(const std::vector<HookBacklog>& backlogs = {}) const;

private:
  static constexpr std::array<double, 11> bounds_ = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                     0.05,   0.1,   0.25,   0.5,   1.0};
  mutable std::mutex mu_;
  std::map<Rejection, std::uint64_t> rejected_;
  std::map<std::pair<std::string, std::string>, std::uint64_t, std::less<>> refused_;
  std::map<int, std::uint64_t> graph_errors_;
  std::array<std::uint64_t, bounds_.size() + 1> buckets_{};
  double commit_sum_ = 0;
  std::uint64_t commits_ = 0;
  std::uint64_t committed_deliveries_ = 0;
};

/// The reason label of a webhook refusal in /metrics and the log.
const char* reason_name(Metrics::Rejection r);

} // namespace wabactl::server
