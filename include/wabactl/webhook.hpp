#pragma once
// Meta's webhook deliveries: signature checks on the raw bytes, and parsing a delivery into
// domain records (pure: bytes in, records out). Storing them is the store's (inbox.hpp).

#include "wabactl/delivery.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace wabactl {

class MasterKey;
struct Config;

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
/// whose secret verifies `header` over `body`. Empty = reject (401). `header` is the
/// X-Hub-Signature-256 value, "sha256=<64 hex>" (hex in either case, surrounding spaces
/// ignored): the HMAC-SHA256 of `body` keyed with the secret, compared in constant time.
/// When `body` holds non-ASCII bytes, the HMAC of escape_non_ascii(body) is accepted too
/// (Meta signs that form; proxies sometimes re-encode). An empty secret never verifies.
/// Changes for numbers of tenants outside the result must only reach the raw archive, so
/// the caller passes record_delivery() only the numbers of these tenants.
std::set<std::string> authenticate(std::string_view body, std::string_view header,
                                   const std::vector<SecretCandidate>& candidates);

/// The candidates for authenticate() from the stored configs (inactive ones skipped): one
/// per distinct App Secret with the tenants sharing it, plus, when `fallback_secret` is
/// set, a fallback candidate for the active tenants without an App Secret. Opens the
/// sealed secrets with `key` (Error(credentials) when one does not open).
std::vector<SecretCandidate> secret_candidates(const std::vector<Config>& configs,
                                               const MasterKey& key,
                                               const std::optional<std::string>& fallback_secret);

/// Parses a delivery body. Throws Error(usage) when it is not a JSON object with an
/// `entry` array, or nests deeper than 64 levels (the server answers 400). Malformed
/// records inside are skipped and counted, the rest kept.
ParsedDelivery parse_delivery(std::string_view body);

/// The messages of a stored history chunk (HistoryChunk::payload), in the chunk's order
/// (thread by thread), and how many malformed ones were left out. A message is outgoing
/// when its `from` is `business_number` (or, that number unknown, when it is not the
/// thread's customer). Text, media and replies follow the rules of inbound messages.
struct ParsedHistory {
  std::vector<HistoryMessage> messages;
  std::size_t skipped = 0;
};
ParsedHistory parse_history_messages(std::string_view chunk,
                                     const std::optional<std::string>& business_number);

} // namespace wabactl
