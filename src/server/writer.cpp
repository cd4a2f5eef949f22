#include "server/writer.hpp"

#include "wabactl/error.hpp"
#include "wabactl/log.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <chrono>

namespace wabactl::server {

DeliveryWriter::DeliveryWriter(const std::filesystem::path& db, Durability durability,
                               Metrics& metrics)
    : db_path_(db), durability_(durability), metrics_(metrics) {}

DeliveryWriter::~DeliveryWriter() {
  stop();
}

void DeliveryWriter::start() {
  store_ = std::make_unique<Store>(db_path_, durability_);
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
  std::lock_guard lock(mu_);
  running_ = false;
}

void DeliveryWriter::on_commit(std::function<void()> listener) {
  std::lock_guard lock(mu_);
  listeners_.push_back(std::move(listener));
}

std::future<DeliveryOutcome> DeliveryWriter::submit(DeliveryJob job) {
  std::promise<DeliveryOutcome> promise;
  auto future = promise.get_future();
  {
    std::lock_guard lock(mu_);
    if (!running_ || stopping_) {
      promise.set_value({false, {}, "the writer is stopping"});
      return future;
    }
    queue_.push_back({std::move(job), std::move(promise)});
  }
  cv_.notify_one();
  return future;
}

void DeliveryWriter::run() {
  for (;;) {
    std::vector<Pending> group;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return; // stopping, and everything queued is committed
      while (!queue_.empty() && group.size() < max_group) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    commit_group(group);
  }
}

void DeliveryWriter::commit_group(std::vector<Pending>& group) {
  auto started = std::chrono::steady_clock::now();
  std::vector<DeliveryOutcome> outcomes(group.size());
  bool events = false;
  try {
    store_->transaction([&] {
      auto& db = store_->db();
      for (std::size_t i = 0; i < group.size(); ++i) {
        const auto& job = group[i].job;
        db.exec("SAVEPOINT delivery");
        try {
          outcomes[i].stats = ingest_delivery(*store_, job.body, job.parsed, job.tenant_of_number,
                                              job.route, job.verified_by);
          db.exec("RELEASE delivery");
          outcomes[i].stored = true;
          events = events || !outcomes[i].stats.event_ids.empty();
        } catch (const std::exception& e) {
          db.exec("ROLLBACK TO delivery");
          db.exec("RELEASE delivery");
          outcomes[i] = {false, {}, e.what()};
        }
      }
    });
  } catch (const std::exception& e) {
    // The COMMIT itself failed (disk full, I/O error): nothing of the group is durable.
    LOG_ERROR("committing {} webhook deliveries failed: {}", group.size(), e.what());
    for (auto& o : outcomes) o = {false, {}, e.what()};
    events = false;
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.commit(seconds, group.size());
  if (events) {
    std::vector<std::function<void()>> listeners;
    {
      std::lock_guard lock(mu_);
      listeners = listeners_;
    }
    for (auto& l : listeners) l();
  }
  for (std::size_t i = 0; i < group.size(); ++i) {
    if (!outcomes[i].stored && !outcomes[i].error.empty()) {
      LOG_ERROR("storing a webhook delivery failed: {}", outcomes[i].error);
    }
    group[i].promise.set_value(std::move(outcomes[i]));
  }
}

} // namespace wabactl::server
