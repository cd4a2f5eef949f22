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

/// Sets (or with nullopt clears) the business's own name for the contact with `phone`,
/// creating the contact when it is new (smb_app_state_sync).
void set_business_name(Store& store, const std::string& tenant, const std::string& phone,
                       const std::optional<std::string>& name, const std::string& now);

} // namespace wabactl
