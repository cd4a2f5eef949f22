#pragma once
// The event hub: one thread follows the append-only `events` table (written by this
// process and by others, such as a cron job's `wabactl send`) and fans each new event out
// to the live subscribers of its tenant (SSE streams, WebSocket connections). Every
// subscriber has a bounded queue; one that falls behind is dropped, never waited for, and
// resumes from the table with its last event id.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace wabactl {

class Store;

/// One event as streams deliver it: the Event JSON of CONTRACT.md §3, serialised once.
struct StreamEvent {
  std::int64_t id = 0;
  std::string type;
  std::string tenant_id;
  std::string json;
};
using StreamEventPtr = std::shared_ptr<const StreamEvent>;

/// Events of `tenant` with id > `after`, oldest first, at most `limit` (replay and polling).
std::vector<StreamEventPtr> read_events(Store& store, const std::string& tenant, std::int64_t after,
                                        std::size_t limit);

/// A live subscriber's queue. Thread-safe; the hub fills it, one stream drains it.
class Subscription {
public:
  Subscription(std::string tenant, std::size_t limit, std::function<void()> notify);

  /// The tenant whose events this subscription receives.
  const std::string& tenant() const { return tenant_; }
  /// Waits until events are queued, the subscription is dropped, or `timeout` passes;
  /// returns (and removes) the queued events, possibly none.
  std::vector<StreamEventPtr> wait(std::chrono::milliseconds timeout);
  /// Returns (and removes) the queued events without waiting.
  std::vector<StreamEventPtr> take();
  /// Whether the hub dropped this subscriber (its queue overflowed, or the hub stopped):
  /// the stream should end so that the client resumes from its last event id.
  bool dropped() const;

  /// Queues events; drops the subscription when its queue would overflow (hub side).
  void push(const std::vector<StreamEventPtr>& events);
  /// Marks the subscription dropped and wakes its reader (hub side).
  void drop();

private:
  void notify();

  std::string tenant_;
  std::size_t limit_;
  std::function<void()> notify_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<StreamEventPtr> queue_;
  bool dropped_ = false;
};

/// A stream's resume point as its client gave it: the Last-Event-ID header when present,
/// else the last_event_id query parameter (each as received, nullopt when absent). nullopt
/// when neither was given or the value is empty (the stream starts after the newest event),
/// else the id; surrounding white space is ignored. Error(usage) when it is not an event id
/// (decimal digits, 0 to 2^63-1). Every door parses it here, so all refuse the same values
/// with the same message.
std::optional<std::int64_t> parse_last_event_id(const std::optional<std::string>& header,
                                                const std::optional<std::string>& query);

/// One stream's events, each once and in id order: the tenant's events after a cursor,
/// replayed from the table a page at a time, then the live ones its subscription queues
/// (those at or below the cursor were replayed already and are skipped). Callers pull, so a
/// non-blocking loop takes a page only when its socket has room. Subscribe before the first
/// pull, with the cursor read before subscribing: an event committed in between is then
/// replayed or queued, and delivered once. Without a subscription every pull reads the
/// table (polling). One stream drives it: not thread-safe.
class EventFollower {
public:
  EventFollower(std::string tenant, std::int64_t cursor, std::shared_ptr<Subscription> live = {});

  /// The next events to deliver, oldest first, possibly none: while replaying, a page of at
  /// most `page` from `store` (a shorter page ends the replay, and an empty one goes on to
  /// the live events at once); then every event queued in the subscription. Moves the
  /// cursor past them. Throws what reading the store throws; the cursor stays, so the next
  /// pull resumes.
  std::vector<StreamEventPtr> next(Store& store, std::size_t page);
  /// Whether the next pull reads the table.
  bool replaying() const { return replaying_; }
  /// Whether the stream should end so that its client resumes from the last id it got: the
  /// replay is over and the hub dropped the subscription (it fell too far behind, or the
  /// hub stopped).
  bool dropped() const { return !replaying_ && live_ && live_->dropped(); }
  /// The id of the last event returned (or the starting cursor).
  std::int64_t cursor() const { return cursor_; }

private:
  std::string tenant_;
  std::int64_t cursor_;
  std::shared_ptr<Subscription> live_;
  bool replaying_ = true;
};

struct EventHubOptions {
  std::filesystem::path db;                     ///< the database file to follow
  std::chrono::milliseconds poll_interval{100}; ///< how often the table is polled
  std::size_t queue_limit = 4096;               ///< events queued per subscriber
};

/// Follows the events table on its own thread and fans events out to subscribers.
class EventHub {
public:
  explicit EventHub(EventHubOptions options);
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;
  /// Stops the thread if it runs.
  ~EventHub();

  /// Opens its own database connection, starts after the newest event, and starts the
  /// polling thread. Throws Error when the database cannot be opened.
  void start();
  /// Stops the thread and drops every subscriber. Idempotent.
  void stop();
  /// Polls now instead of at the next interval (the daemon's writer calls it after a
  /// commit that appended events). Without subscribers it does nothing: the interval's
  /// poll moves the cursor on, and the writer does not pay a thread switch per commit.
  void wake();

  /// Registers a subscriber for `tenant`'s events appended after this call; it may also get
  /// some from up to one poll interval before it (the cursor of a hub without subscribers
  /// moves at each interval), so callers skip ids at or below their own cursor. Replay of
  /// earlier events is the caller's job, from read_events. `notify`, when set, is called
  /// on the hub thread after events were queued or the subscription was dropped; it must
  /// not block.
  std::shared_ptr<Subscription> subscribe(const std::string& tenant,
                                          std::function<void()> notify = {});
  /// Removes a subscriber (a stream that ended). Unknown ones are ignored.
  void unsubscribe(const std::shared_ptr<Subscription>& subscription);

  /// Live subscribers right now.
  std::size_t subscribers() const;
  /// The id of the newest event dispatched so far.
  std::int64_t cursor() const;

private:
  void run();
  void poll_once(Store& store);

  EventHubOptions options_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool running_ = false;
  bool woken_ = false;
  std::int64_t cursor_ = 0;
  std::vector<std::shared_ptr<Subscription>> subs_;
  std::unique_ptr<Store> store_;
};

} // namespace wabactl

namespace wabactl {

/// Where `unread --watch` may follow the daemon's SSE stream: $WABACTL_URL (the daemon's
/// base URL, e.g. http://127.0.0.1:8080) and $WABACTL_TOKEN (a tenant API token).
struct DaemonStream {
  std::string url;
  std::string token;
};

/// Calls `on_count` with the tenant's unread count now and again each time it changes,
/// until `on_count` returns false. Follows the daemon's SSE stream when `daemon` is given
/// and reachable (reconnecting with Last-Event-ID), else polls the events table every
/// `poll_interval`. `note` receives one-line notices (fallbacks, reconnects).
/// Error(credentials) when the daemon's token is another tenant's (known to this database,
/// or streaming another tenant's events).
void watch_unread(Store& store, const std::string& tenant,
                  const std::optional<DaemonStream>& daemon,
                  std::chrono::milliseconds poll_interval,
                  const std::function<bool(std::int64_t)>& on_count,
                  const std::function<void(const std::string&)>& note);

} // namespace wabactl
