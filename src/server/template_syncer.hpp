#pragma once
// The daemon's template syncer (CONTRACT.md §8): each active tenant's catalogue is pulled at
// start and every 6 hours, jittered so that many tenants (and many daemons) do not call
// Meta at the same moment. Each period is claimed in the store with one conditional write,
// so of any number of daemons on one database only one syncs a tenant per period. A sync
// that fails is tried again after 15 minutes; the stored catalogue stays as it was.

#include "wabactl/configs.hpp"
#include "wabactl/secrets.hpp"

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace wabactl {
class Store;
}

namespace wabactl::server {

class TemplateSyncer {
public:
  static constexpr std::chrono::hours period{6};
  static constexpr std::chrono::minutes jitter{30};
  static constexpr std::chrono::minutes retry_after{15};
  /// How often the thread looks for tenants whose next sync is due.
  static constexpr std::chrono::seconds tick{60};

  /// `open` opens a config's secrets (the daemon's tenant cache).
  TemplateSyncer(std::filesystem::path db, std::function<ConfigSecrets(const Config&)> open);
  TemplateSyncer(const TemplateSyncer&) = delete;
  TemplateSyncer& operator=(const TemplateSyncer&) = delete;
  ~TemplateSyncer();

  /// Starts the thread, which first syncs every tenant whose period is due.
  void start();
  /// Stops after the current sync. Idempotent.
  void stop();

private:
  void run();
  void pass();

  std::filesystem::path db_;
  std::function<ConfigSecrets(const Config&)> open_;
  std::unique_ptr<Store> store_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

} // namespace wabactl::server
