#include "server/history_import.hpp"

#include "wabactl/coexistence.hpp"
#include "wabactl/log.hpp"
#include "wabactl/store.hpp"
#include "wabactl/webhook.hpp"

#include <chrono>

namespace wabactl::server {
namespace {

// After a failed pass (the database busy past its timeout, a full disk), the next waits
// this long: the chunk stays pending and nothing is lost.
constexpr auto retry_after = std::chrono::seconds(2);

} // namespace

std::size_t import_pending_history(Store& store, std::size_t batch,
                                   const std::function<bool()>& stopping) {
  std::size_t imported = 0;
  while (!stopping()) {
    auto chunk = next_history_chunk(store);
    if (!chunk) break;
    ParsedHistory parsed = parse_history_messages(chunk->body, chunk->business_number);
    std::size_t from = static_cast<std::size_t>(chunk->imported);
    do {
      imported += import_history_batch(store, *chunk, parsed.messages, from, batch);
      from += batch;
    } while (from < parsed.messages.size() && !stopping());
    if (from >= parsed.messages.size()) {
      LOG_INFO("tenant '{}': history chunk {} imported ({} messages, {} malformed left out)",
               chunk->tenant, chunk->id, parsed.messages.size(), parsed.skipped);
    }
  }
  return imported;
}

HistoryImporter::HistoryImporter(std::filesystem::path db) : db_(std::move(db)) {}

HistoryImporter::~HistoryImporter() {
  stop();
}

void HistoryImporter::on_imported(std::function<void()> fn) {
  on_imported_ = std::move(fn);
}

void HistoryImporter::start() {
  // Progress is recorded with each batch and every message is deduplicated by its wamid,
  // so a crash loses at most a batch's work, which the next pass redoes: no sync needed.
  store_ = std::make_unique<Store>(db_, Durability::normal);
  thread_ = std::thread([this] { run(); });
}

void HistoryImporter::wake() {
  {
    std::lock_guard lock(mu_);
    wanted_ = true;
  }
  cv_.notify_one();
}

void HistoryImporter::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void HistoryImporter::run() {
  auto stopping = [this] {
    std::lock_guard lock(mu_);
    return stopping_;
  };
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return wanted_ || stopping_; });
      if (stopping_) return;
      wanted_ = false;
    }
    try {
      if (import_pending_history(*store_, batch_messages, stopping) > 0 && on_imported_) {
        on_imported_();
      }
    } catch (const std::exception& e) {
      LOG_ERROR("importing WhatsApp Business app history failed (retrying): {}", e.what());
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, retry_after, [this] { return stopping_; });
      wanted_ = true;
    }
  }
}

} // namespace wabactl::server
