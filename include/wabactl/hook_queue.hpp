#pragma once
// The forwarder's side of the hook tables (hooks.hpp): turning new events into pending
// deliveries, finding the deliveries that are due, and recording what each attempt got.
// Every rule about order and giving up lives here, in the store, so a daemon that restarts
// (or is killed) resumes from the rows alone.

#include "wabactl/hooks.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wabactl {

class Store;

/// How long a delivery is retried before it is given up, and how long a hook whose every
/// attempt failed is kept active.
inline constexpr std::chrono::hours hook_retry_for{72};
/// How long acknowledged and failed deliveries stay listed.
inline constexpr std::chrono::hours hook_delivery_kept{24 * 7};

/// The wait before attempt `attempts + 1`, after `attempts` failed ones: 1 s doubling to
/// 1 h, with "equal jitter" (half of it fixed, half random) so that many failing deliveries
/// do not come back at the same moment.
std::chrono::milliseconds hook_retry_delay(int attempts);

/// An active hook as the forwarder works with it.
struct ForwardingHook {
  Hook hook;
  std::int64_t cursor = 0; ///< the last event id turned into deliveries
};

/// Every active hook of every tenant.
std::vector<ForwardingHook> forwarding_hooks(Store& store);

/// The lane of an event: its conversation (the message's phone number, or the contact's
/// id), or "" for the tenant's events that belong to none (config, templates).
std::string hook_lane(const std::string& event_json);

/// Turns the events of `hook`'s tenant after its cursor (at most `limit`) into pending
/// deliveries for the types it takes and moves its cursor past them (in the store and in
/// `hook`), in the caller's transaction. A delivery is due at once when its lane has nothing
/// pending, else it waits. `hook.test` events are never forwarded. Returns the number of events
/// read (a full page means there may be more).
std::size_t expand_hook(Store& store, ForwardingHook& hook, std::size_t limit, std::int64_t now_ms);

/// A delivery whose attempt is due.
struct DueDelivery {
  std::string hook_id;
  std::int64_t event_id = 0;
  std::string type;
  std::string lane;
  int attempts = 0;
};

/// The hook's deliveries due at `now_ms`, soonest first, at most `limit`.
std::vector<DueDelivery> due_deliveries(Store& store, const std::string& hook_id,
                                        std::int64_t now_ms, std::size_t limit);
/// The Event JSON of an event (a delivery's body); nullopt when it is gone.
std::optional<std::string> event_json(Store& store, std::int64_t event_id);

/// What one attempt got.
struct AttemptResult {
  std::string hook_id;
  std::int64_t event_id = 0;
  std::string lane;
  int attempts = 0;                 ///< failed attempts before this one
  bool acknowledged = false;        ///< a 2xx answer within the time allowed
  std::optional<int> status;        ///< the HTTP status, when an answer came
  std::optional<std::string> error; ///< why it failed (at most 200 bytes)
  std::int64_t attempted_ms = 0;    ///< when the attempt started
};

/// What recording a batch of results changed.
struct RecordedResults {
  std::size_t acknowledged = 0;
  std::size_t retried = 0;
  std::size_t failed = 0;
  std::vector<std::string> disabled; ///< hooks disabled now (a hook.disabled event each)
};

/// Records attempts in one transaction. An acknowledged delivery, or one failing
/// hook_retry_for after its first attempt (failed), lets the next of its lane become due; a
/// failed attempt otherwise schedules the next after hook_retry_delay. A hook is disabled
/// (with a `hook.disabled` event) when a delivery is given up and the hook has had no
/// acknowledgement for hook_retry_for. Results for deliveries that are gone (a removed
/// hook) are ignored.
RecordedResults record_attempts(Store& store, const std::vector<AttemptResult>& results,
                                std::int64_t now_ms);

/// Deletes at most `limit` acknowledged or failed deliveries finished hook_delivery_kept
/// ago; returns how many.
std::size_t prune_hook_deliveries(Store& store, std::int64_t now_ms, std::size_t limit);

} // namespace wabactl
