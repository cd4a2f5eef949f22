#pragma once
// Reading conversations: history pages, unread counts, marking messages read and a
// message's status history. Every query is scoped to one tenant.

#include "wabactl/identity.hpp"
#include "wabactl/messages.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace wabactl {

class Store;

enum class Direction { any, incoming, outgoing };

/// A history page request. At most one of `peer` and `contact_id`; at most one of
/// `before` and `offset`.
struct HistoryQuery {
  std::optional<Peer> peer;
  std::optional<std::string> contact_id;
  Direction direction = Direction::any;
  std::size_t limit = 50;            ///< 1..1000
  std::optional<std::string> before; ///< message id (local or wamid) the page ends before
  std::size_t offset = 0;            ///< newest messages to skip
  /// Only messages whose readable text (text, caption, media filename) holds every word,
  /// folding case and accents; a word ending in `*` is a prefix (CONTRACT.md §13).
  std::optional<std::string> search;
  std::optional<std::string> since; ///< only messages at or after (ISO 8601 UTC)
  std::optional<std::string> until; ///< only messages at or before (ISO 8601 UTC)
};

/// The largest page history() returns.
inline constexpr std::size_t max_history_limit = 1000;

/// A page of the tenant's messages: the newest `limit` matching messages older than
/// `before` (or after skipping `offset`), ordered oldest to newest. Error(usage) for bad
/// limits, Error(not_found) when `before` names no message of this tenant.
/// Error(usage) as well for a search with no words (only punctuation or symbols), one
/// longer than 1 KiB, and `since` after `until`.
std::vector<Message> history(Store& store, const std::string& tenant, const HistoryQuery& query);

/// Every message history() would page through from `query` (its `before` or `offset` where
/// the first page starts), newest first, handed to `each` one at a time while one statement
/// reads them: constant memory and one consistent snapshot however many match. `limit` is
/// ignored. The same errors as history().
void each_message(Store& store, const std::string& tenant, const HistoryQuery& query,
                  const std::function<void(const Message&)>& each);

/// One conversation with unread incoming messages.
struct UnreadConversation {
  std::string conversation;
  std::string contact_id; ///< the host application's id for the contact, else the contact's
  std::optional<std::string> phone_number;
  std::optional<std::string> user_id;
  std::optional<std::string> username;
  std::optional<std::string> contact_name;
  std::int64_t unread = 0;
  std::string last_message_at; ///< timestamp of the newest unread message
  std::optional<std::string> last_text;
  /// When the customer-service window closes; nullopt once closed (CONTRACT.md §8).
  std::optional<std::string> window_expires_at;
};

/// Conversations with unread incoming messages, most recent first.
std::vector<UnreadConversation> unread_by_conversation(Store& store, const std::string& tenant);
/// The largest page recent_conversations() returns.
inline constexpr std::size_t max_conversations_limit = 1000;

/// The tenant's conversations, most recent message first (at most `limit`, 1..1000, else
/// Error(usage)), read or not: each row's `unread` may be 0, and `last_message_at` and
/// `last_text` are those of its newest message, whichever direction.
std::vector<UnreadConversation> recent_conversations(Store& store, const std::string& tenant,
                                                     std::size_t limit);
/// When the customer-service window of the conversation with `peer` closes, or nullopt when
/// it is closed: the customer never wrote, or wrote more than 24 hours ago (CONTRACT.md §8).
std::optional<std::string> window_expires_at(Store& store, const std::string& tenant,
                                             const Peer& peer);
/// A conversation row as `unread --by-contact --json` and GET /api/whatsapp/unread show it.
nlohmann::json to_json(const UnreadConversation& c);

/// What mark-read should cover.
struct MarkTarget {
  std::vector<std::string> message_ids; ///< local ids or wamids
  std::optional<Peer> peer;             ///< a whole conversation
  bool all = false;                     ///< every conversation
};

/// One conversation a mark touched, with the message a read receipt should name.
struct MarkedConversation {
  std::string conversation;
  std::int64_t marked = 0;                  ///< messages newly marked read
  std::optional<std::string> receipt_wamid; ///< newest incoming message covered (wamid)
};

struct MarkResult {
  std::int64_t marked = 0;
  std::vector<MarkedConversation> conversations;
};

/// Sets read_at on the targeted incoming messages and every earlier incoming message of
/// their conversations, in one transaction, appending an unread.changed event per
/// conversation that changed. Unknown message ids (or another tenant's) throw
/// Error(not_found) before anything is marked.
MarkResult mark_read(Store& store, const std::string& tenant, const MarkTarget& target);

/// One row of a message's status history.
struct StatusEntry {
  std::string status;
  std::string at;
  std::optional<MessageError> error;
};

/// A message's current state and its status history, oldest first.
struct MessageStatus {
  Message message;
  std::vector<StatusEntry> history;
};

/// The status of a message of `tenant` (local id or wamid); Error(not_found) otherwise.
MessageStatus message_status(Store& store, const std::string& tenant, const std::string& id);

/// The JSON of a status answer: {"message_id", "status", "history": [{"status","at","error"}]}
/// plus "message" (the Message JSON).
nlohmann::json to_json(const MessageStatus& status);

} // namespace wabactl
