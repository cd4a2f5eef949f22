#pragma once
// Contacts: the people writing to a tenant's number (CONTRACT.md §6). A contact has a phone
// number (wa_id), a business-scoped user id, or both, and is the conversation: whichever of
// the two a door names finds the same one.

#include "wabactl/identity.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace wabactl {

class Store;

struct Contact {
  std::int64_t id = 0;
  std::string tenant_id;
  std::optional<std::string> phone_number;
  std::optional<std::string> user_id;
  std::optional<std::string> username;
  std::optional<std::string> profile_name;  ///< the WhatsApp profile name
  std::optional<std::string> business_name; ///< the business's own name (address book)
  std::optional<std::string> external_id;   ///< the host application's contact id
  /// What contact_name shows: the business's name, else the profile name.
  std::optional<std::string> name() const { return business_name ? business_name : profile_name; }
};

/// The contact `peer` names (by phone or by user id), within `tenant` only.
std::optional<Contact> find_contact(Store& store, const std::string& tenant, const Peer& peer);

/// The contact JSON of contact events: {"id", "phone_number", "user_id", "username",
/// "contact_name", "contact_id"} (contact_id: the host's id when one was given, else `id`).
nlohmann::json to_json(const Contact& c);

} // namespace wabactl
