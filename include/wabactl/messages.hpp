#pragma once
// Messages (incoming and outgoing) and the append-only event log, as the contract's JSON
// shapes (CONTRACT.md §3). Inserts live with their writers (webhook ingest, the send
// pipeline); this module reads rows back and records events.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wabactl {

class Store;

struct MessageError {
  int code = 0;
  std::string title;
  std::string details;
};

/// A message's media and what became of its bytes (CONTRACT.md §7).
struct MessageMedia {
  std::optional<std::string> id; ///< Meta's media id
  std::optional<std::string> mime_type;
  std::optional<std::string> sha256; ///< hex, as Meta announced it or as stored
  std::optional<std::int64_t> size;  ///< bytes
  std::optional<std::string> filename;
  std::string state;                ///< pending|stored|failed
  std::optional<std::string> error; ///< why it failed
};

/// A row of whatsapp_messages as the contract shows it.
struct Message {
  std::int64_t id = 0;
  std::string tenant_id;
  std::optional<std::string> message_id; ///< wamid; absent while queued
  std::string direction;                 ///< incoming|outgoing
  std::string status;                    ///< queued|sent|delivered|read|failed|received
  std::optional<std::string> phone_number;
  std::optional<std::string> user_id;
  std::optional<std::string> contact_id;
  std::optional<std::string> contact_name; ///< the business's name for them, else the profile's
  std::optional<std::string> username;
  std::string type;
  std::optional<std::string> text;
  std::optional<std::string> media_url;
  std::optional<std::string> media_type;
  std::optional<std::string> media_id;
  std::optional<std::string> template_name;
  std::optional<std::string> reply_to;
  std::string timestamp;
  std::optional<std::string> read_at;
  std::optional<MessageError> error;
  std::optional<std::string> source; ///< api|business_app|history; nullopt for incoming
  std::optional<std::string> edited_at;
  std::optional<std::string> revoked_at;
  std::optional<MessageMedia> media; ///< nullopt when the message has no media to keep
  std::string payload; ///< Meta's object (or the request we sent) as JSON text; or empty
  /// The payloads an edit replaced, oldest first, as a JSON array text; empty when none.
  std::string payload_history;
  /// When the conversation's customer-service window closes (CONTRACT.md §8): 24 h after
  /// the customer's latest message, by Meta's timestamp; nullopt once closed (or never open).
  std::optional<std::string> window_expires_at;
};

/// The Message JSON of CONTRACT.md §3. A payload that is not valid JSON shows as null.
nlohmann::json to_json(const Message& m);
/// The same Message JSON as compact text, byte for byte what to_json(m).dump() gives for a
/// payload stored as dump() wrote it, without building the tree: the webhook writer makes
/// one for every stored change, and `history --json` one per line.
std::string to_json_text(const Message& m);

/// The ordering rank of a status: queued 0, sent 1, delivered 2, read 3, played 4;
/// failed and received are terminal (5). Status updates only move to a higher rank.
int status_rank(const std::string& status);

/// The SELECT list and FROM clause that row_to_message() reads (messages joined with
/// their contact's name), for queries elsewhere: `SELECT <message_columns> WHERE ...`.
const char* message_select();

/// A message by local id (digits) or WhatsApp id (`wamid.…`), within `tenant` only.
std::optional<Message> find_message(Store& store, const std::string& tenant,
                                    const std::string& id_or_wamid);
/// A message by its local id, within `tenant` only.
std::optional<Message> find_message_by_local_id(Store& store, const std::string& tenant,
                                                std::int64_t id);

/// Incoming messages of `tenant` not yet read.
std::int64_t unread_count(Store& store, const std::string& tenant);

/// Event types (CONTRACT.md §3).
inline constexpr const char* event_message_received = "message.received";
inline constexpr const char* event_message_sent = "message.sent";
inline constexpr const char* event_message_status = "message.status";
/// An incoming message changed by the customer (CONTRACT.md §6), with the updated message.
inline constexpr const char* event_message_edited = "message.edited";
inline constexpr const char* event_message_revoked = "message.revoked";
/// A message the business sent from the WhatsApp Business app (coexistence).
inline constexpr const char* event_message_echoed = "message.echoed";
inline constexpr const char* event_unread_changed = "unread.changed";
inline constexpr const char* event_config_changed = "config.changed";
inline constexpr const char* event_contact_merged = "contact.merged";
inline constexpr const char* event_media_stored = "media.stored";
inline constexpr const char* event_template_changed = "template.changed";

/// Appends an event (call inside the transaction that made the change). `message` and
/// `unread` fill the Event JSON's fields (null when absent). Returns the event id.
std::int64_t append_event(Store& store, const std::string& tenant, const std::string& type,
                          const std::optional<Message>& message,
                          const std::optional<std::int64_t>& unread);

/// Appends an event about a contact: the Event JSON's `contact` field holds `contact`
/// (contacts.hpp's to_json), `message` and `unread` are null.
std::int64_t append_contact_event(Store& store, const std::string& tenant, const std::string& type,
                                  const nlohmann::json& contact);

/// Appends a `template.changed` event: the Event JSON's `template` field holds `tmpl`
/// (templates.hpp's to_json), `message` and `unread` are null.
std::int64_t append_template_event(Store& store, const std::string& tenant,
                                   const nlohmann::json& tmpl);

/// Appends an event about a forwarding hook (`hook.disabled`, `hook.test`): the Event
/// JSON's `hook` field holds `hook` (hooks.hpp's to_json), `message` and `unread` are null.
std::int64_t append_hook_event(Store& store, const std::string& tenant, const std::string& type,
                               const nlohmann::json& hook);

/// One row of the event log as stored: `data` is the Event JSON text, unparsed (streams
/// send it as it is).
struct EventRow {
  std::int64_t id = 0;
  std::string type;
  std::string tenant_id;
  std::string at;
  std::string data;
};

/// Rows of the event log with id > `after`, oldest first, at most `limit`: of `tenant`
/// only, or of every tenant when `tenant` is nullopt (the event hub's fan-out to all
/// subscribers; everything tenant-facing passes a tenant).
std::vector<EventRow> event_rows_after(Store& store, const std::optional<std::string>& tenant,
                                       std::int64_t after, std::size_t limit);

/// The highest event id ever given (0 when none): new events get higher ones.
std::int64_t last_event_id(Store& store);

} // namespace wabactl
