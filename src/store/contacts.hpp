#pragma once
// Contacts inside the store: the one place that finds (or creates) the contact a record
// names, so every writer (webhook ingest, echoes, history import, sends) puts a message in
// the same conversation. Private to src/store, like sql.hpp.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wabactl {

class Store;

/// What a record says about the customer it concerns; phone or user id (or both) is set.
struct ContactFacts {
  std::optional<std::string> phone;    ///< wa_id digits
  std::optional<std::string> user_id;  ///< business-scoped user id
  std::optional<std::string> username; ///< contacts[].profile.username
  std::optional<std::string> name;     ///< the WhatsApp profile name
};

/// A contact and the conversation key its messages carry (whatsapp_messages.conversation).
struct ContactRef {
  std::int64_t id = 0;
  std::string conversation;
};

/// Finds the contact `facts` names, creating it or completing it with what is new. Runs
/// inside the caller's transaction; events it appends (a merge) go to `event_ids`.
ContactRef note_contact(Store& store, const std::string& tenant, const ContactFacts& facts,
                        const std::string& now, std::vector<std::int64_t>& event_ids);

/// A `system` message's identity change (user_changed_number: `new_phone`;
/// user_changed_user_id: `new_user_id`) applied to `contact`; when another contact already
/// has the new identifier the two are merged. Returns the contact the conversation goes on in.
ContactRef change_identity(Store& store, const std::string& tenant, const ContactRef& contact,
                           const std::optional<std::string>& new_phone,
                           const std::optional<std::string>& new_user_id, const std::string& now,
                           std::vector<std::int64_t>& event_ids);

/// Records the host application's id for the contact (a send's contactId).
void name_external_id(Store& store, const ContactRef& contact, const std::string& external_id);

/// Sets (or with nullopt clears) the business's own name for the contact with `phone`,
/// creating the contact when it is new (smb_app_state_sync).
void set_business_name(Store& store, const std::string& tenant, const std::string& phone,
                       const std::optional<std::string>& name, const std::string& now);

} // namespace wabactl
