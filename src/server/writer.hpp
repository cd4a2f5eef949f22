#pragma once
// Group commit: one thread owns the write connection. Request threads submit verified,
// parsed deliveries and wait on a future; the writer drains the queue and commits many
// deliveries in one transaction (each in its own SAVEPOINT, so a delivery that fails is
// rolled back alone), then answers every future. One fsync serves the whole group.

#include "server/metrics.hpp"
#include "wabactl/store.hpp"
#include "wabactl/webhook.hpp"

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace wabactl::server {

/// One delivery to store.
struct DeliveryJob {
  std::string body;
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

class DeliveryWriter {
public:
  /// The most deliveries one transaction carries.
  static constexpr std::size_t max_group = 512;

  DeliveryWriter(const std::filesystem::path& db, Durability durability, Metrics& metrics);
  DeliveryWriter(const DeliveryWriter&) = delete;
  DeliveryWriter& operator=(const DeliveryWriter&) = delete;
  ~DeliveryWriter();

  /// Opens the write connection and starts the thread (Error when the database fails).
  void start();
  /// Commits what is queued, then stops the thread. Idempotent.
  void stop();
  /// Queues a delivery; the future resolves once it is committed (or failed).
  std::future<DeliveryOutcome> submit(DeliveryJob job);
  /// Called on the writer thread after each commit that appended events.
  void on_commit(std::function<void()> listener);

private:
  struct Pending {
    DeliveryJob job;
    std::promise<DeliveryOutcome> promise;
  };
  void run();
  void commit_group(std::vector<Pending>& group);

  std::filesystem::path db_path_;
  Durability durability_;
  Metrics& metrics_;
  std::unique_ptr<Store> store_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool running_ = false;
  bool stopping_ = false;
  std::vector<std::function<void()>> listeners_;
};

} // namespace wabactl::server
