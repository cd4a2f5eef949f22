#pragma once
// Group commit: one thread owns the write connection. Request threads queue verified,
// parsed deliveries and wait; the writer drains the queue and commits many deliveries in
// one transaction (a delivery that fails is rolled back alone), then wakes every waiter.
// One fsync serves the whole group.
//
// Checkpoints (copying the WAL back into the database file) run on a thread of their own
// with its own connection, so the writer does not stall on the bulk of the copying. The WAL
// only starts over when a checkpoint has copied every frame before a write begins, which a
// background checkpoint never achieves while the writer keeps committing: once a background
// pass is done, the writer copies the few frames committed meanwhile itself, between two
// groups, and the next group starts the WAL over.

#include "wabactl/delivery.hpp"
#include "wabactl/inbox.hpp"
#include "wabactl/store.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace wabactl {

/// One delivery to store.
struct DeliveryJob {
  std::string_view body; ///< the request's bytes, alive while store() runs
  ParsedDelivery parsed;
  std::map<std::string, std::string> tenant_of_number;
  std::string route;
  std::string verified_by;
};

/// What happened to a delivery: stored (with ingest's statistics) or failed.
struct DeliveryOutcome {
  bool stored = false;
  IngestStats stats;
  std::string error; ///< for failures, for the log (never secrets)
};

/// Stores `jobs` in one transaction on `store`. A delivery that fails is rolled back alone
/// (the group is stored again, each delivery in a savepoint of its own) and reported failed;
/// a COMMIT that fails fails them all.
/// The writer's group commit (and bench/writer.cpp's, which times it without HTTP).
std::vector<DeliveryOutcome> store_group(Store& store, const std::vector<const DeliveryJob*>& jobs);

/// When the WAL is checkpointed, in frames (pages) it holds after a commit.
struct CheckpointPolicy {
  /// The background thread checkpoints once the WAL holds this many frames (SQLite's own
  /// automatic checkpoint uses 1000).
  int background_frames = 2000;
  /// The writer checkpoints everything itself, between groups, beyond this many (when the
  /// background thread falls behind).
  int inline_frames = 16000;
};

/// Wakes one waiting thread once, through a Linux futex: the store() caller sleeps on it for
/// the whole commit (about 300 us), so it sleeps at once. libstdc++'s std::binary_semaphore
/// first spins and calls sched_yield() four times: 3.5 extra system calls per webhook request.
class Handoff {
public:
  /// Returns once signal() was called (at once if it already was).
  void wait() noexcept;
  /// Wakes the waiter. The waiter may return and free the Handoff before the wake-up call
  /// is made: a futex wake on a stale address is harmless, a waiter re-checks its word.
  void signal() noexcept;

private:
  std::atomic<std::uint32_t> state_{0};
};

/// What one group commit did, for the writer's listeners.
struct GroupCommit {
  std::chrono::duration<double> took{0}; ///< storing and committing the group
  std::size_t deliveries = 0;
  bool appended_events = false; ///< a delivery of the group appended events
  bool stored_history = false;  ///< a delivery of the group stored a history chunk to import
};

class DeliveryWriter {
public:
  /// The most deliveries one transaction carries.
  static constexpr std::size_t max_group = 512;
  /// How many nice levels the writer thread asks to run above the process, when allowed
  /// (CAP_SYS_NICE or RLIMIT_NICE): requests wait for its commits, so it goes first. In the
  /// webhook bench: 7,095 -> 8,132 req/s (medians of 5 alternating runs), commits 490 ->
  /// 360 us.
  static constexpr int priority_boost = 10;
  /// How many nice levels the checkpoint thread runs below the process (always allowed):
  /// nothing waits for it, so it takes the CPU time the request threads and the writer
  /// leave. In the webhook bench: 8,600 -> 8,930 req/s (means of 12 alternating pairs, 9
  /// of them won), p99 about 0.4 ms higher.
  static constexpr int checkpoint_priority_drop = 10;

  DeliveryWriter(const std::filesystem::path& db, Durability durability,
                 CheckpointPolicy checkpoints = {});
  DeliveryWriter(const DeliveryWriter&) = delete;
  DeliveryWriter& operator=(const DeliveryWriter&) = delete;
  ~DeliveryWriter();

  /// Opens the write connection and starts the thread (Error when the database fails).
  void start();
  /// Commits what is queued, then stops the thread. Idempotent.
  void stop();
  /// Stores a delivery: queues it for the next group commit and returns once that commit
  /// is over (or failed). The job stays the caller's, read by the writer meanwhile, so the
  /// request thread that built it also frees it: glibc's malloc frees another thread's
  /// memory through that thread's arena lock, which took the writer ~6 us per delivery.
  DeliveryOutcome store(const DeliveryJob& job);
  /// Runs `fn` on the writer thread, between group commits, in a transaction of its own,
  /// and returns once it committed; rethrows what `fn` threw (the transaction rolled back).
  /// For the daemon's other writers that run often (the hook forwarder): on a connection of
  /// their own they would contend with the writer for SQLite's one write lock, and a
  /// writer that finds it taken sleeps in SQLite's busy handler for 1 to 100 ms while
  /// webhook requests wait. Error when the writer is not running.
  void write(const std::function<void(Store&)>& fn);
  /// Called on the writer thread after each group commit (the daemon's metrics time them;
  /// the event hub wakes when events were appended). Register before start() (Error
  /// after): the writer then reads the list without a lock or a copy.
  void on_commit(std::function<void(const GroupCommit&)> listener);

private:
  /// A waiting store() call: everything lives on the caller's stack until `done`.
  struct Pending {
    const DeliveryJob* job;
    DeliveryOutcome* outcome;
    Handoff* done;
  };
  void run();
  void commit_group(std::vector<Pending>& group);
  void run_checkpoints();
  void wal_committed(int frames);

  std::filesystem::path db_path_;
  Durability durability_;
  std::unique_ptr<Store> store_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  /// A waiting write() call, on the caller's stack until `done`.
  struct Task {
    const std::function<void(Store&)>* fn;
    std::exception_ptr* error;
    Handoff* done;
  };
  std::deque<Task> tasks_;
  bool running_ = false;
  bool stopping_ = false;
  std::vector<std::function<void(const GroupCommit&)>> listeners_; ///< fixed once the thread runs

  CheckpointPolicy checkpoints_;
  int wal_frames_ = 0; ///< written by the writer thread only
  std::unique_ptr<Store> checkpoint_store_;
  std::thread checkpoint_thread_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ = false;
  bool checkpoint_stopping_ = false;
  // idle -> running (set by the commit hook) -> done (background pass over) -> idle (the
  // writer copied the tail).
  static constexpr int checkpoint_idle = 0;
  static constexpr int checkpoint_running = 1;
  static constexpr int checkpoint_done = 2;
  std::atomic<int> checkpoint_state_{checkpoint_idle};
};

} // namespace wabactl
