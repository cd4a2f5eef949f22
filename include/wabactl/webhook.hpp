#pragma once
// Meta's webhook deliveries: signature checks on the raw bytes, and parsing a delivery into
// domain records (pure: bytes in, records out), and storing them (ingest).

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace wabactl {

class Store;
class MasterKey;
struct Config;

/// Whether `header` (the X-Hub-Signature-256 value, "sha256=<64 hex>", hex in either case,
/// surrounding spaces ignored) is the HMAC-SHA256 of `body` keyed with `app_secret`,
/// compared in constant time. When `body` holds non-ASCII bytes, also accepts the HMAC of
/// escape_non_ascii(body) (Meta signs that form; proxies sometimes re-encode). An empty
/// secret never verifies.
bool verify_signature(std::string_view body, std::string_view header, std::string_view app_secret);

/// The X-Hub-Signature-256 value Meta sends with `body`: "sha256=" and the lowercase hex
/// HMAC-SHA256 of the exact bytes keyed with `app_secret` (what verify_signature accepts).
/// Throws Error(internal) when libsodium cannot be initialised.
std::string signature_header(std::string_view body, std::string_view app_secret);

/// `body` with every non-ASCII UTF-8 character written as a JSON `\uXXXX` escape (lowercase
/// hex; characters above U+FFFF as a UTF-16 surrogate pair), the form Meta signs. nullopt
/// when `body` is not valid UTF-8.
std::optional<std::string> escape_non_ascii(std::string_view body);

/// One candidate secret and the tenants it vouches for.
struct SecretCandidate {
  std::string secret;
  /// The tenants this secret authenticates: for an App Secret, every tenant configured
  /// with it (an App Secret belongs to a Meta app, so tenants can share one); for the
  /// $WHATSAPP_WEBHOOK_SECRET fallback, the tenants that have no App Secret of their own.
  std::set<std::string> tenants;
  bool fallback = false; ///< the $WHATSAPP_WEBHOOK_SECRET candidate
};

/// The tenants a delivery is authenticated for: the union of `tenants` of every candidate
/// whose secret verifies `header` over `body` (verify_signature). Empty = reject (401).
/// Changes for numbers of tenants outside the result must only reach the raw archive, so
/// the caller passes ingest_delivery() only the numbers of these tenants.
std::set<std::string> authenticate(std::string_view body, std::string_view header,
                                   const std::vector<SecretCandidate>& candidates);

/// The candidates for authenticate() from the stored configs (inactive ones skipped): one
/// per distinct App Secret with the tenants sharing it, plus, when `fallback_secret` is
/// set, a fallback candidate for the active tenants without an App Secret. Opens the
/// sealed secrets with `key` (Error(credentials) when one does not open).
std::vector<SecretCandidate> secret_candidates(const std::vector<Config>& configs,
                                               const MasterKey& key,
                                               const std::optional<std::string>& fallback_secret);

/// One inbound message, parsed.
struct InboundMessage {
  std::string phone_number_id;             ///< metadata.phone_number_id of its change
  std::string message_id;                  ///< wamid
  std::optional<std::string> from;         ///< phone digits, absent for username users
  std::optional<std::string> from_user_id; ///< business-scoped user id
  std::optional<std::string> contact_name; ///< profile name from the change's contacts
  std::string type;                        ///< Meta's type, unknown ones kept as sent
  std::string text; ///< what a person would read (CONTRACT.md §3); may be empty
  std::optional<std::string> media_id;
  std::optional<std::string> media_type; ///< mime type
  std::optional<std::string> reply_to;   ///< context.id, or the reacted message
  bool forwarded = false;                ///< context.forwarded / frequently_forwarded
  std::int64_t timestamp = 0;            ///< unix seconds; 0 when absent or malformed
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
};

/// A whole delivery, parsed. Unknown fields and types are kept in payloads, never fatal.
struct ParsedDelivery {
  std::set<std::string> phone_number_ids; ///< every metadata.phone_number_id in it
  std::vector<InboundMessage> messages;
  std::vector<StatusUpdate> statuses;
  std::vector<ContactSeen> contacts;
  std::vector<nlohmann::json> errors; ///< top-level value.errors, with phone_number_id added
  std::size_t changes = 0;            ///< number of entry[].changes[] seen
  std::size_t other_fields = 0;       ///< changes whose field is not "messages" (archive only)
  std::size_t skipped = 0;            ///< malformed records (wrong types, missing ids) left out
};

/// Parses a delivery body. Throws Error(usage) when it is not a JSON object with an
/// `entry` array, or nests deeper than 64 levels (the server answers 400). Malformed
/// records inside are skipped and counted, the rest kept.
ParsedDelivery parse_delivery(std::string_view body);

/// What ingest did.
struct IngestStats {
  std::int64_t delivery_id = 0;    ///< the webhook_deliveries row (an earlier one for a retry)
  bool duplicate_delivery = false; ///< the same bytes were archived before
  std::set<std::string> tenants;   ///< tenants the delivery reached (delivery_tenants rows)
  std::size_t messages = 0;        ///< new inbound messages stored
  std::size_t statuses = 0;        ///< new status rows stored
  std::size_t duplicates = 0;      ///< messages/statuses already present
  std::size_t archived_only = 0;   ///< records whose number is not in tenant_of_number
  std::vector<std::int64_t> event_ids;
};

/// Stores one verified delivery, `parsed` being parse_delivery(raw_body). Must run inside a
/// transaction the caller holds
/// (Store::transaction; the daemon's writer groups many deliveries into one), else
/// Error(internal). Writes:
/// - the raw body once (webhook_deliveries, deduplicated on its SHA-256) and one
///   delivery_tenants row per tenant reached;
/// - for records whose phone_number_id is in `tenant_of_number` (phone_number_id → tenant
///   id; the caller lists only authenticated tenants' numbers): contacts (upserted by phone
///   number, else user id), inbound messages (deduplicated on the wamid) and status rows
///   (deduplicated on wamid + status; the outgoing message only moves to a higher
///   status_rank, `failed` keeps its error);
/// - events: `message.received` per new message, one `unread.changed` per tenant that got
///   new messages, and `message.status` per new status row (its message, or null when the
///   wamid is not one of ours). Duplicates write no rows and no events.
/// `route` and `verified_by` are recorded on the archive row.
IngestStats ingest_delivery(Store& store, std::string_view raw_body, const ParsedDelivery& parsed,
                            const std::map<std::string, std::string>& tenant_of_number,
                            std::string_view route, std::string_view verified_by = {});

} // namespace wabactl
