#pragma once
// Who is who: the rules for tenant ids, customers' phone numbers and Meta's business-scoped
// user ids, shared by every door (CLI options, REST fields, batch rows) and the store.

#include <optional>
#include <string>
#include <string_view>

namespace wabactl {

/// Whether `id` matches `[a-z0-9][a-z0-9_-]{0,63}`.
bool valid_tenant_id(std::string_view id);
/// Throws Error(usage) with a clear message when `id` is not a valid tenant id.
void require_tenant_id(std::string_view id);

/// Normalises a phone number in international form to its digits: `+1 (555) 123-4567` →
/// `15551234567`. Returns nullopt when it cannot be a phone number (letters, too short or
/// long).
std::optional<std::string> normalize_phone(std::string_view input);

/// Whether `s` looks like a business-scoped user id (`US.1349...`, Meta's username ids).
bool is_business_scoped_user_id(std::string_view s);

/// A customer as a door names one: phone digits (sent as `to`) or a business-scoped user id
/// (sent as `recipient`; Meta withholds the number of users with usernames).
struct Peer {
  std::optional<std::string> phone_number;
  std::optional<std::string> user_id;
  /// The conversation key stored in whatsapp_messages.conversation: the phone digits when
  /// known, else the user id.
  const std::string& key() const { return phone_number ? *phone_number : *user_id; }
};

/// Parses a user-given phone number (`+1 555 …`) or business-scoped user id (`US.1349…`),
/// the same for every door. Throws Error(usage) when it is neither.
Peer parse_peer(std::string_view input);

} // namespace wabactl
