#pragma once
// The daemon's history importer (coexistence, CONTRACT.md §6): the webhook's transaction
// only stores a `history` chunk, so the 200 goes out at once; this thread imports the
// chunk's messages afterwards on a connection of its own, a bounded number per
// transaction, so that webhook intake (the writer's connection) never waits long for the
// write lock. Woken after a group commit that stored a chunk, and at start for chunks a
// restart left.

#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace wabactl {
class Store;
}

namespace wabactl::server {

/// Imports every pending chunk of `store`, `batch` messages per transaction, oldest chunk
/// first, until none is left or `stopping()` is true (checked between transactions).
/// Returns how many messages were new or filled in.
std::size_t import_pending_history(Store& store, std::size_t batch,
                                   const std::function<bool()>& stopping);

class HistoryImporter {
public:
  /// Messages per transaction: a few milliseconds of write lock, then the writer's turn.
  static constexpr std::size_t batch_messages = 200;

  explicit HistoryImporter(std::filesystem::path db);
  HistoryImporter(const HistoryImporter&) = delete;
  HistoryImporter& operator=(const HistoryImporter&) = delete;
  ~HistoryImporter();

  /// `fn` runs on the importer's thread after a pass that stored messages (their media is
  /// queued: the daemon wakes its media worker). Call before start().
  void on_imported(std::function<void()> fn);
  /// Starts the thread, which first imports what is pending (Error when the database
  /// cannot be opened).
  void start();
  /// Asks for another pass (a commit stored a chunk). Cheap; any thread.
  void wake();
  /// Stops after the current transaction. Idempotent.
  void stop();

private:
  void run();

  std::filesystem::path db_;
  std::unique_ptr<Store> store_;
  std::function<void()> on_imported_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool wanted_ = true;
  bool stopping_ = false;
};

} // namespace wabactl::server
