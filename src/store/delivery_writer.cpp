#include "wabactl/delivery_writer.hpp"

#include "store/sql.hpp"
#include "wabactl/error.hpp"
#include "wabactl/log.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <linux/futex.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string_view>

namespace wabactl {

namespace {

void futex(std::atomic<std::uint32_t>& word, int op, std::uint32_t value) noexcept {
  static_assert(sizeof(word) == sizeof(std::uint32_t) &&
                std::atomic<std::uint32_t>::is_always_lock_free);
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), op, value, nullptr, nullptr, 0);
}

// Adds `delta` to the calling thread's nice value (Linux keeps one per thread), within
// -20..19. Raising it is always allowed; lowering it needs CAP_SYS_NICE or RLIMIT_NICE (the
// systemd unit sets LimitNICE=-10), and without either the thread keeps its priority.
void renice_self(int delta, std::string_view thread) {
  auto self = static_cast<id_t>(gettid());
  errno = 0;
  int current = getpriority(PRIO_PROCESS, self);
  if (current == -1 && errno != 0) return;
  int wanted = std::clamp(current + delta, -20, 19);
  if (setpriority(PRIO_PROCESS, self, wanted) != 0) {
    LOG_DEBUG("the {} keeps nice {} (not {}: {})", thread, current, wanted, std::strerror(errno));
  }
}

// PASSIVE never waits for the writer or for readers; what it cannot copy yet, the next does.
void checkpoint(Store& store) {
  sqlite3* db = sqlite(store).getHandle();
  int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
    LOG_WARN("checkpointing the database failed: {}", sqlite3_errmsg(db));
  }
}

} // namespace

void Handoff::wait() noexcept {
  // Sleeps only while the word is still 0; EINTR, EAGAIN and stale wake-ups loop back here.
  while (state_.load(std::memory_order_acquire) == 0) futex(state_, FUTEX_WAIT_PRIVATE, 0);
}

void Handoff::signal() noexcept {
  state_.store(1, std::memory_order_release);
  futex(state_, FUTEX_WAKE_PRIVATE, 1);
}

DeliveryWriter::DeliveryWriter(const std::filesystem::path& db, Durability durability,
                               CheckpointPolicy checkpoints)
    : db_path_(db), durability_(durability), checkpoints_(checkpoints) {}

DeliveryWriter::~DeliveryWriter() {
  stop();
}

void DeliveryWriter::start() {
  // The writer's commits are its hot path: one write per commit instead of two per frame.
  store_ = std::make_unique<Store>(db_path_, durability_,
                                   durability_ == Durability::full ? WalWrites::batched
                                                                   : WalWrites::direct);
  checkpoint_store_ = std::make_unique<Store>(db_path_, durability_);
  // Replaces SQLite's automatic checkpoint on this connection (it runs inside COMMIT).
  sqlite3_wal_hook(
      sqlite(*store_).getHandle(),
      [](void* self, sqlite3*, const char*, int frames) {
        static_cast<DeliveryWriter*>(self)->wal_committed(frames);
        return SQLITE_OK;
      },
      this);
  checkpoint_thread_ = std::thread([this] { run_checkpoints(); });
  std::lock_guard lock(mu_);
  running_ = true;
  thread_ = std::thread([this] { run(); });
}

void DeliveryWriter::stop() {
  {
    std::lock_guard lock(mu_);
    if (!running_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(checkpoint_mu_);
    checkpoint_stopping_ = true;
  }
  checkpoint_cv_.notify_all();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
  std::lock_guard lock(mu_);
  running_ = false;
}

void DeliveryWriter::wal_committed(int frames) {
  wal_frames_ = frames;
  int idle = checkpoint_idle;
  if (frames >= checkpoints_.background_frames &&
      checkpoint_state_.compare_exchange_strong(idle, checkpoint_running)) {
    {
      std::lock_guard lock(checkpoint_mu_);
      checkpoint_wanted_ = true;
    }
    checkpoint_cv_.notify_all();
  }
}

void DeliveryWriter::run_checkpoints() {
  // Past its inline bound the writer checkpoints itself, so a starved checkpoint thread
  // costs latency only then, never the WAL's bound.
  renice_self(checkpoint_priority_drop, "checkpoint thread");
  for (;;) {
    {
      std::unique_lock lock(checkpoint_mu_);
      checkpoint_cv_.wait(lock, [this] { return checkpoint_wanted_ || checkpoint_stopping_; });
      if (checkpoint_stopping_) return;
      checkpoint_wanted_ = false;
    }
    checkpoint(*checkpoint_store_);
    {
      std::lock_guard lock(checkpoint_mu_);
      checkpoint_state_.store(checkpoint_done);
    }
    checkpoint_cv_.notify_all();
  }
}

void DeliveryWriter::on_commit(std::function<void(const GroupCommit&)> listener) {
  std::lock_guard lock(mu_);
  if (running_) throw Error(Exit::internal, "commit listeners are registered before start()");
  listeners_.push_back(std::move(listener));
}

DeliveryOutcome DeliveryWriter::store(const DeliveryJob& job) {
  DeliveryOutcome outcome;
  Handoff done;
  {
    std::lock_guard lock(mu_);
    if (!running_ || stopping_) return {false, {}, "the writer is stopping"};
    queue_.push_back({&job, &outcome, &done});
  }
  cv_.notify_one();
  done.wait();
  return outcome;
}

void DeliveryWriter::write(const std::function<void(Store&)>& fn) {
  std::exception_ptr error;
  Handoff done;
  {
    std::lock_guard lock(mu_);
    if (!running_ || stopping_) throw Error(Exit::tempfail, "the webhook writer is stopping");
    tasks_.push_back({&fn, &error, &done});
  }
  cv_.notify_one();
  done.wait();
  if (error) std::rethrow_exception(error);
}

void DeliveryWriter::run() {
  // Every webhook request waits for the writer's next commit, and on a busy machine the
  // writer used to wait for a CPU behind the request threads it serves (22 % of its time
  // runnable but not running in the webhook bench).
  renice_self(-priority_boost, "webhook writer");
  for (;;) {
    std::vector<Pending> group;
    std::deque<Task> tasks;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty() || !tasks_.empty(); });
      if (queue_.empty() && tasks_.empty()) return; // stopping, and everything is committed
      while (!queue_.empty() && group.size() < max_group) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      tasks.swap(tasks_);
    }
    if (!group.empty()) commit_group(group);
    for (auto& t : tasks) {
      try {
        store_->transaction([&] { (*t.fn)(*store_); });
      } catch (...) {
        *t.error = std::current_exception();
      }
      t.done->signal();
    }
    // The tail waits until the background pass is over: of two checkpoints at once, one
    // returns SQLITE_BUSY having copied nothing. Past the inline bound (a background pass
    // slowed down by a busy machine), the writer waits for that pass to end.
    bool over = wal_frames_ >= checkpoints_.inline_frames;
    if (over) {
      std::unique_lock lock(checkpoint_mu_);
      checkpoint_cv_.wait(lock, [this] {
        return checkpoint_state_.load() != checkpoint_running || checkpoint_stopping_;
      });
    }
    if (over || checkpoint_state_.load() == checkpoint_done) {
      checkpoint(*store_);
      wal_frames_ = 0;
      checkpoint_state_.store(checkpoint_idle);
    }
  }
}

namespace {

DeliveryOutcome ingest(Store& store, const DeliveryJob& job) {
  return {true,
          record_delivery(store, job.body, job.parsed, job.tenant_of_number, job.route,
                          job.verified_by),
          {}};
}

} // namespace

std::vector<DeliveryOutcome> store_group(Store& store,
                                         const std::vector<const DeliveryJob*>& jobs) {
  std::vector<DeliveryOutcome> outcomes(jobs.size());
  // A savepoint copies every page its delivery changes into the sub-journal first: 5 % of
  // the writer's CPU in bench/writer.sh. Deliveries rarely fail, so a group is stored
  // without them first; only when a delivery fails is the group rolled back and stored
  // again with one savepoint per delivery.
  bool isolate = false;
  for (;;) {
    std::optional<std::size_t> failed;
    try {
      store.transaction([&] {
        for (std::size_t i = 0; i < jobs.size(); ++i) {
          if (!isolate) {
            failed = i;
            outcomes[i] = ingest(store, *jobs[i]);
            failed.reset();
            continue;
          }
          try {
            store.transaction([&] { outcomes[i] = ingest(store, *jobs[i]); });
          } catch (const std::exception& e) {
            outcomes[i] = {false, {}, e.what()};
          }
        }
      });
      return outcomes;
    } catch (const std::exception& e) {
      if (failed && jobs.size() > 1) {
        isolate = true;
        continue;
      }
      if (failed) {
        outcomes[*failed] = {false, {}, e.what()};
        return outcomes;
      }
      // The COMMIT itself failed (disk full, I/O error): nothing of the group is durable.
      LOG_ERROR("committing {} webhook deliveries failed: {}", jobs.size(), e.what());
      for (auto& o : outcomes) o = {false, {}, e.what()};
      return outcomes;
    }
  }
}

void DeliveryWriter::commit_group(std::vector<Pending>& group) {
  auto started = std::chrono::steady_clock::now();
  std::vector<const DeliveryJob*> jobs;
  jobs.reserve(group.size());
  for (const auto& p : group) jobs.push_back(p.job);
  std::vector<DeliveryOutcome> outcomes = store_group(*store_, jobs);
  GroupCommit done;
  done.appended_events =
      std::any_of(outcomes.begin(), outcomes.end(),
                  [](const DeliveryOutcome& o) { return o.stored && !o.stats.event_ids.empty(); });
  done.stored_history = std::any_of(outcomes.begin(), outcomes.end(), [](const DeliveryOutcome& o) {
    return o.stored && o.stats.history_chunks > 0;
  });
  done.took = std::chrono::steady_clock::now() - started;
  done.deliveries = group.size();
  for (auto& l : listeners_) l(done);
  for (std::size_t i = 0; i < group.size(); ++i) {
    if (!outcomes[i].stored && !outcomes[i].error.empty()) {
      LOG_ERROR("storing a webhook delivery failed: {}", outcomes[i].error);
    }
    // The waiter returns as soon as it is released: nothing of group[i] is touched after.
    *group[i].outcome = std::move(outcomes[i]);
    group[i].done->signal();
  }
}

} // namespace wabactl
