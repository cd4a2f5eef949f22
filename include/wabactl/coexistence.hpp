#pragma once
// Coexistence (CONTRACT.md §6): a number used from the WhatsApp Business app and the Cloud
// API at once. Echoes and address-book syncs are stored by the webhook's transaction
// (record_delivery); history chunks are stored there too and imported afterwards, in short
// transactions of their own, by the daemon's history importer.

#include "wabactl/delivery.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wabactl {

class Store;

/// A stored history chunk whose messages are not all imported yet.
struct PendingHistoryChunk {
  std::int64_t id = 0;
  std::string tenant;
  std::optional<std::string> business_number; ///< digits of the business's display number
  std::string body;                           ///< HistoryChunk::payload
  std::int64_t imported = 0;                  ///< messages of the chunk already done
};

/// The oldest chunk of any tenant still to import (the daemon imports for all of them),
/// or nullopt when every chunk is done.
std::optional<PendingHistoryChunk> next_history_chunk(Store& store);

/// Imports `messages[from, from + count)` of `chunk` (its parse_history_messages()) in one
/// transaction of its own, and records that they are done; once `messages` is exhausted
/// the chunk is finished. Each message goes to its thread's conversation with source
/// "history", never unread (incoming ones are read at import); a wamid already stored is
/// left alone unless it is a media placeholder this message carries the media for. No
/// events. Returns how many messages were new or filled in.
std::size_t import_history_batch(Store& store, const PendingHistoryChunk& chunk,
                                 const std::vector<HistoryMessage>& messages, std::size_t from,
                                 std::size_t count);

/// Our status for a history message from Meta's `history_context.status` (any case):
/// incoming ones are "received"; outgoing SENT/PENDING → sent, DELIVERED → delivered,
/// READ → read, PLAYED → played, ERROR/FAILED → failed, anything else (or none) →
/// delivered, since the app's past message reached WhatsApp.
std::string history_status(const std::string& meta_status, bool outgoing);

} // namespace wabactl
