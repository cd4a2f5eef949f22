#pragma once
// Meta's webhook deliveries: signature checks on the raw bytes, and parsing a delivery into
// domain records (pure: bytes in, records out), and storing them (ingest).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace wabactl {

class Store;

/// Whether `header` (the X-Hub-Signature-256 value, "sha256=<64 hex>") is the HMAC-SHA256
/// of `body` keyed with `app_secret`, compared in constant time. Also accepts the HMAC of
/// the body with non-ASCII characters escaped as \uXXXX (Meta signs that form; proxies
/// sometimes re-encode).
bool verify_signature(std::string_view body, std::string_view header, std::string_view app_secret);

/// One candidate secret and the tenants it belongs to (an App Secret can be shared).
struct SecretCandidate {
  std::string secret;
  std::set<std::string> tenants; ///< empty for the $WHATSAPP_WEBHOOK_SECRET fallback
  bool fallback = false;
};

/// One inbound message, parsed.
struct InboundMessage {
  std::string phone_number_id; ///< metadata.phone_number_id of its change
  std::string message_id;      ///< wamid
  std::optional<std::string> from;         ///< phone digits, absent for username users
  std::optional<std::string> from_user_id; ///< business-scoped user id
  std::optional<std::string> contact_name;
  std::string type;
  std::string text; ///< what a person would read (CONTRACT.md §3)
  std::optional<std::string> media_id;
  std::optional<std::string> media_type; ///< mime type
  std::optional<std::string> reply_to;   ///< context.id
  std::int64_t timestamp = 0;            ///< unix seconds
  nlohmann::json payload;                ///< Meta's object, whole
};

/// One status update, parsed.
struct StatusUpdate {
  std::string phone_number_id;
  std::string message_id; ///< wamid of our outgoing message
  std::string status;     ///< sent|delivered|read|failed|played|...
  std::optional<std::string> recipient_id;
  std::optional<std::string> recipient_user_id;
  std::optional<std::string> callback_data;
  std::int64_t timestamp = 0;
  std::optional<int> error_code;
  std::optional<std::string> error_title;
  std::optional<std::string> error_details;
  nlohmann::json payload;
};

/// A contact seen in a change (profile name, wa_id, user_id).
struct ContactSeen {
  std::string phone_number_id;
  std::optional<std::string> wa_id;
  std::optional<std::string> user_id;
  std::optional<std::string> name;
};

/// A whole delivery, parsed. Unknown fields and types are kept in payloads, never fatal.
struct ParsedDelivery {
  std::set<std::string> phone_number_ids; ///< every metadata.phone_number_id in it
  std::vector<InboundMessage> messages;
  std::vector<StatusUpdate> statuses;
  std::vector<ContactSeen> contacts;
  std::vector<nlohmann::json> errors; ///< top-level value.errors, with phone_number_id added
  std::size_t changes = 0;            ///< number of entry[].changes[] seen
};

/// Parses a delivery body. Throws Error(usage) when it is not a JSON object with an
/// `entry` array (the server answers 400).
ParsedDelivery parse_delivery(std::string_view body);

/// What ingest did.
struct IngestStats {
  std::size_t messages = 0;   ///< new inbound messages stored
  std::size_t statuses = 0;   ///< new status rows stored
  std::size_t duplicates = 0; ///< messages/statuses already present
  std::vector<std::int64_t> event_ids;
};

/// Stores one verified delivery: the raw body (linked to `tenants`), and for every change
/// whose phone_number_id belongs to one of `tenants` (map phone_number_id → tenant id), its
/// contacts, messages, statuses and one event row per change. Must run inside a transaction
/// the caller holds (the daemon's writer groups many deliveries into one). Duplicates are
/// absorbed by UNIQUE constraints.
IngestStats ingest_delivery(Store& store, std::string_view raw_body, const ParsedDelivery& parsed,
                            const std::map<std::string, std::string>& tenant_of_number,
                            std::string_view route);

} // namespace wabactl
