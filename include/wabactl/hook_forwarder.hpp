#pragma once
// Sending forwarded events (CONTRACT.md §13): one signed POST to a hook, and the daemon's
// forwarder, one thread driving libcurl's multi interface. It turns new events into
// deliveries (hook_queue.hpp), starts the due ones (at most `per_hook` at once per hook and
// `total` in all), records what each got and schedules retries. A receiver that never
// answers, answers slowly or answers gigabytes holds one of its hook's slots for at most
// the answer timeout; intake, the API and other hooks never wait for it.

#include "wabactl/hooks.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace wabactl {

class MasterKey;

/// How long a receiver has to answer: a 2xx within this acknowledges (CONTRACT.md §13).
inline constexpr std::chrono::milliseconds hook_answer_timeout{10'000};
/// How much of an answer is read; a longer one is cut there (a 2xx still acknowledges).
inline constexpr std::size_t hook_answer_limit = 64 * 1024;
/// How much of an answer is kept in last_error or printed.
inline constexpr std::size_t hook_answer_excerpt = 200;

/// What one POST to a hook got.
struct HookAnswer {
  bool acknowledged = false;
  std::optional<int> status; ///< the HTTP status, when an answer came
  std::string error;         ///< why it did not acknowledge (empty when it did)
  std::string excerpt;       ///< the answer's first bytes, made printable
  std::chrono::milliseconds took{0};
};

/// POSTs one event to `hook` now, signed with `secret`, and waits for the answer (`hook
/// test`). The same rules as the forwarder's: no redirects, private addresses refused at
/// connect time unless the hook allows them.
HookAnswer post_hook_now(const Hook& hook, const std::string& secret, std::int64_t event_id,
                         const std::string& body);

/// The forwarder's counters, read by /metrics.
struct HookCounters {
  std::atomic<std::uint64_t> acknowledged{0};
  std::atomic<std::uint64_t> retried{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> disabled{0};
  std::atomic<std::int64_t> in_flight{0};
};

class Store;

/// Runs a write transaction somewhere: the daemon's webhook writer (DeliveryWriter::write),
/// so that the forwarder never contends with it for the database's write lock.
using WriteTransaction = std::function<void(const std::function<void(Store&)>&)>;

struct HookForwarderOptions {
  std::filesystem::path db;
  /// Attempts in flight at once to one hook. At 3,300 webhooks/s into one hook on loopback
  /// (bench/hooks.sh), 8 forwarded 2,749 events/s, the lag growing to a p99 of 4.2 s; 32
  /// keep up (3,298/s, lag p99 0.5 s).
  std::size_t per_hook = 32;
  std::size_t total = 128; ///< attempts in flight at once to all hooks
  /// Where its writes run; empty: in transactions on its own connection.
  WriteTransaction write;
};

class HookForwarder {
public:
  /// `key` gives the master key that opens hook secrets (the daemon's tenant cache).
  HookForwarder(HookForwarderOptions options, std::function<const MasterKey&()> key,
                HookCounters& counters);
  HookForwarder(const HookForwarder&) = delete;
  HookForwarder& operator=(const HookForwarder&) = delete;
  ~HookForwarder();

  /// Starts the thread (loading libcurl). Throws Error when libcurl cannot be loaded.
  void start();
  /// Stops: attempts in flight are abandoned (their deliveries stay pending and are tried
  /// again after a restart). Idempotent.
  void stop();
  /// New events were committed: look for them now rather than at the next tick.
  void wake();

private:
  struct Loop;
  void run();

  HookForwarderOptions options_;
  std::function<const MasterKey&()> key_;
  HookCounters& counters_;
  std::mutex wake_mu_; ///< wake() (the writer's thread) against start() and stop()
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
};

} // namespace wabactl
