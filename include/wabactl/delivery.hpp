#pragma once
// What a webhook delivery holds once parsed (webhook.hpp parses, inbox.hpp stores): the
// inbound messages, status updates and contacts of its changes, each with Meta's object.

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace wabactl {

/// One inbound message, parsed.
struct InboundMessage {
  std::string phone_number_id;             ///< metadata.phone_number_id of its change
  std::string message_id;                  ///< wamid
  std::optional<std::string> from;         ///< phone digits, absent for username users
  std::optional<std::string> from_user_id; ///< business-scoped user id
  std::optional<std::string> contact_name; ///< profile name from the change's contacts
  std::optional<std::string> username;     ///< contacts[].profile.username
  /// A `system` message's new identity: system.wa_id for user_changed_number, system.user_id
  /// for user_changed_user_id.
  std::optional<std::string> changed_to_phone;
  std::optional<std::string> changed_to_user_id;
  std::string type; ///< Meta's type, unknown ones kept as sent
  std::string text; ///< what a person would read (CONTRACT.md §3); may be empty
  std::optional<std::string> media_id;
  std::optional<std::string> media_type;     ///< mime type
  std::optional<std::string> media_sha256;   ///< as Meta announced it, in lowercase hex
  std::optional<std::int64_t> media_size;    ///< file_size, when the webhook carries one
  std::optional<std::string> media_filename; ///< documents' filename
  std::optional<std::string> reply_to;       ///< context.id, or the reacted message
  bool forwarded = false;                    ///< context.forwarded / frequently_forwarded
  std::int64_t timestamp = 0;                ///< unix seconds; 0 when absent or malformed
  /// An edit or a revoke (type "edit" / "revoke") changes an earlier message instead of being
  /// one: the wamid of that message (edit.original_message_id, revoke.original_message_id).
  /// For an edit, `text`, `media_id` and `media_type` describe its new content
  /// (edit.message) and `edited_type` is that content's type.
  std::optional<std::string> original_id;
  std::optional<std::string> edited_type;
  /// Meta's object, whole, as JSON text: serialised while parsing, on the request's thread,
  /// so the single writer thread only stores it.
  std::string payload;
};

/// One status update, parsed.
struct StatusUpdate {
  std::string phone_number_id;
  std::string message_id; ///< wamid of our outgoing message
  std::string status;     ///< sent|delivered|read|failed|played|...
  std::optional<std::string> recipient_id;
  std::optional<std::string> recipient_user_id;
  std::optional<std::string> callback_data; ///< biz_opaque_callback_data
  std::int64_t timestamp = 0;               ///< unix seconds; 0 when absent or malformed
  std::optional<int> error_code;            ///< errors[0]
  std::optional<std::string> error_title;
  std::optional<std::string> error_details;
  std::string payload; ///< Meta's object, whole, as JSON text (like InboundMessage::payload)
};

/// A contact seen in a change (profile name, wa_id, user_id).
struct ContactSeen {
  std::string phone_number_id;
  std::optional<std::string> wa_id;
  std::optional<std::string> user_id;
  std::optional<std::string> name;
  std::optional<std::string> username; ///< profile.username, where Meta shows it
};

/// A message the business sent from the WhatsApp Business app or a linked device
/// (`smb_message_echoes`): `message.from` is the business's number, `to` the customer.
struct EchoMessage {
  InboundMessage message; ///< its content, parsed by the rules of inbound messages
  std::string to;         ///< the customer's phone digits
};

/// One `history[]` element of a `history` change (coexistence): a chunk of the app's past
/// chats, kept whole for the background import, or a declined share (`errors[]`).
struct HistoryChunk {
  std::string phone_number_id;
  std::optional<std::string> business_number; ///< metadata.display_phone_number, digits
  std::optional<int> phase;                   ///< 0, 1 or 2
  std::optional<int> chunk_order;
  std::optional<int> progress;   ///< percent; 100 = the share is complete
  std::optional<int> error_code; ///< errors[0], e.g. 2593109 (the share was declined)
  std::optional<std::string> error_title;
  std::size_t messages = 0; ///< messages in its threads
  std::string payload;      ///< the element as JSON text
};

/// A message of a history chunk, parsed by parse_history_messages().
struct HistoryMessage {
  std::string thread;    ///< threads[].id: the customer's phone digits
  bool outgoing = false; ///< `from` is the business's number
  InboundMessage message;
  std::string status;       ///< history_context.status as Meta wrote it (SENT, READ, ...); or empty
  bool placeholder = false; ///< media announced without the media itself (filled in later)
};

/// A contact of the business's address book (`smb_app_state_sync`, type "contact").
struct ContactSync {
  std::string phone_number_id;
  std::string phone;               ///< contact.phone_number, digits
  std::optional<std::string> name; ///< full_name, else first_name (add only)
  bool remove = false;             ///< action "remove" (else "add", which also edits)
  std::int64_t timestamp = 0;      ///< metadata.timestamp; 0 when absent
};

/// A template's new status or quality (`message_template_status_update`,
/// `message_template_quality_update`), for the business account `waba_id` (entry.id).
struct TemplateUpdate {
  std::string waba_id;
  std::optional<std::string> template_id; ///< message_template_id
  std::optional<std::string> name;        ///< message_template_name
  std::optional<std::string> language;    ///< message_template_language
  std::optional<std::string> status;      ///< event: APPROVED, PAUSED, ...
  std::optional<std::string> quality;     ///< new_quality_score: GREEN, YELLOW, RED, ...
  std::optional<std::string> reason;      ///< Meta's reason for a rejection or a pause
  /// The tenants the update is for: those whose config names waba_id and whose App Secret
  /// signed the delivery (set by the webhook route; empty: archive only).
  std::set<std::string> tenants;
};

/// A whole delivery, parsed. Unknown fields and types are kept in payloads, never fatal.
struct ParsedDelivery {
  std::set<std::string> phone_number_ids; ///< every metadata.phone_number_id in it
  std::vector<InboundMessage> messages;
  std::vector<StatusUpdate> statuses;
  std::vector<ContactSeen> contacts;
  std::vector<nlohmann::json> errors;     ///< top-level value.errors, with phone_number_id added
  std::vector<EchoMessage> echoes;        ///< smb_message_echoes
  std::vector<HistoryChunk> history;      ///< history
  std::vector<ContactSync> contact_syncs; ///< smb_app_state_sync
  std::vector<TemplateUpdate> templates;  ///< template status and quality updates
  std::size_t changes = 0;                ///< number of entry[].changes[] seen
  std::size_t other_fields = 0; ///< changes of fields this build does not read (archive only)
  std::size_t skipped = 0;      ///< malformed records (wrong types, missing ids) left out
};

} // namespace wabactl
