#include "store/contacts.hpp"

#include "store/sql.hpp"
#include "wabactl/contacts.hpp"
#include "wabactl/error.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

namespace wabactl {
namespace {

constexpr const char* contact_columns =
    "id, tenant_id, phone_number, user_id, username, name, business_name, external_id "
    "FROM contacts";

Contact row_to_contact(SQLite::Statement& q) {
  Contact c;
  c.id = q.getColumn(0).getInt64();
  c.tenant_id = q.getColumn(1).getString();
  c.phone_number = opt_text(q.getColumn(2));
  c.user_id = opt_text(q.getColumn(3));
  c.username = opt_text(q.getColumn(4));
  c.profile_name = opt_text(q.getColumn(5));
  c.business_name = opt_text(q.getColumn(6));
  c.external_id = opt_text(q.getColumn(7));
  return c;
}

// The contact with `value` in `column` (phone_number or user_id, both uniquely indexed).
std::optional<Contact> find_by(Store& store, const std::string& tenant, const char* column,
                               const std::optional<std::string>& value) {
  if (!value) return std::nullopt;
  static const std::string by_phone =
      fmt::format("SELECT {} WHERE tenant_id = ? AND phone_number = ?", contact_columns);
  static const std::string by_user =
      fmt::format("SELECT {} WHERE tenant_id = ? AND user_id = ?", contact_columns);
  auto q = prepare(store, std::string_view(column) == "phone_number" ? by_phone : by_user);
  q->bindNoCopy(1, tenant);
  q->bindNoCopy(2, *value);
  if (!q->executeStep()) return std::nullopt;
  return row_to_contact(*q);
}

void remember_name(Store& store, std::int64_t contact, const std::optional<std::string>& name,
                   const std::string& now) {
  if (!name) return;
  auto q = prepare(store, "INSERT INTO contact_names(contact_id, name, seen_at) VALUES(?, ?, ?) "
                          "ON CONFLICT DO UPDATE SET seen_at = excluded.seen_at");
  q->bind(1, contact);
  q->bindNoCopy(2, *name);
  q->bindNoCopy(3, now);
  q->exec();
}

// Writes every identifying field of `c` (the caller has checked that no other contact holds
// its phone or user id).
void save(Store& store, const Contact& c, const std::string& now) {
  auto q = prepare(store, "UPDATE contacts SET phone_number = ?, user_id = ?, username = ?, "
                          "name = ?, business_name = ?, external_id = ?, updated_at = ? "
                          "WHERE id = ?");
  bind_ref(*q, 1, c.phone_number);
  bind_ref(*q, 2, c.user_id);
  bind_ref(*q, 3, c.username);
  bind_ref(*q, 4, c.profile_name);
  bind_ref(*q, 5, c.business_name);
  bind_ref(*q, 6, c.external_id);
  q->bindNoCopy(7, now);
  q->bind(8, c.id);
  q->exec();
}

template <typename T> void take(std::optional<T>& field, const std::optional<T>& newer) {
  if (newer) field = newer;
}

// Two contacts that turn out to be one person become the older one: its id stays the
// conversation, the other's messages (unread ones too) and names join it, and where both
// know a field the younger contact's value wins (the caller then applies the delivery's own).
Contact merge(Store& store, Contact kept, Contact gone, const std::string& now,
              std::vector<std::int64_t>& event_ids) {
  if (gone.id < kept.id) std::swap(kept, gone);
  auto move = prepare(store, "UPDATE whatsapp_messages SET conversation = ? WHERE tenant_id = ? "
                             "AND conversation = ?");
  move->bind(1, std::to_string(kept.id));
  move->bindNoCopy(2, kept.tenant_id);
  move->bind(3, std::to_string(gone.id));
  move->exec();
  auto names = prepare(store, "INSERT INTO contact_names(contact_id, name, seen_at) "
                              "SELECT ?, name, seen_at FROM contact_names WHERE contact_id = ? "
                              "ON CONFLICT DO UPDATE SET seen_at = max(seen_at, excluded.seen_at)");
  names->bind(1, kept.id);
  names->bind(2, gone.id);
  names->exec();
  auto drop = prepare(store, "DELETE FROM contacts WHERE id = ?");
  drop->bind(1, gone.id);
  drop->exec();

  std::int64_t gone_id = gone.id;
  Contact merged = kept;
  if (!merged.phone_number) merged.phone_number = gone.phone_number;
  if (!merged.user_id) merged.user_id = gone.user_id;
  if (!merged.external_id) merged.external_id = gone.external_id;
  take(merged.username, gone.username);
  take(merged.profile_name, gone.profile_name);
  take(merged.business_name, gone.business_name);
  save(store, merged, now);
  remember_name(store, merged.id, kept.profile_name, now);
  remember_name(store, merged.id, gone.profile_name, now);

  nlohmann::json data = to_json(merged);
  data["merged_contact_id"] = std::to_string(gone_id);
  event_ids.push_back(append_contact_event(store, merged.tenant_id, event_contact_merged, data));
  return merged;
}

ContactRef ref_of(const Contact& c) {
  return {c.id, std::to_string(c.id)};
}

} // namespace

ContactRef note_contact(Store& store, const std::string& tenant, const ContactFacts& facts,
                        const std::string& now, std::vector<std::int64_t>& event_ids) {
  if (!facts.phone && !facts.user_id) {
    throw Error(Exit::internal, "a contact needs a phone number or a user id");
  }
  auto by_phone = find_by(store, tenant, "phone_number", facts.phone);
  auto by_user = find_by(store, tenant, "user_id", facts.user_id);
  if (!by_phone && !by_user) {
    auto q = prepare(store, "INSERT INTO contacts(tenant_id, phone_number, user_id, username, "
                            "name, created_at, updated_at) VALUES(?, ?, ?, ?, ?, ?, ?)");
    q->bindNoCopy(1, tenant);
    bind_ref(*q, 2, facts.phone);
    bind_ref(*q, 3, facts.user_id);
    bind_ref(*q, 4, facts.username);
    bind_ref(*q, 5, facts.name);
    q->bindNoCopy(6, now);
    q->bindNoCopy(7, now);
    q->exec();
    std::int64_t id = sqlite(store).getLastInsertRowid();
    remember_name(store, id, facts.name, now);
    return {id, std::to_string(id)};
  }
  Contact c;
  if (by_phone && by_user && by_phone->id != by_user->id) {
    c = merge(store, *by_phone, *by_user, now, event_ids);
  } else {
    c = by_phone ? *by_phone : *by_user;
  }
  // What the delivery says is the newest word on each field it brings.
  Contact updated = c;
  take(updated.phone_number, facts.phone);
  take(updated.user_id, facts.user_id);
  take(updated.username, facts.username);
  take(updated.profile_name, facts.name);
  bool changed = updated.phone_number != c.phone_number || updated.user_id != c.user_id ||
                 updated.username != c.username || updated.profile_name != c.profile_name;
  if (changed) {
    save(store, updated, now);
    if (updated.profile_name != c.profile_name) remember_name(store, c.id, facts.name, now);
  }
  return ref_of(updated);
}

ContactRef change_identity(Store& store, const std::string& tenant, const ContactRef& contact,
                           const std::optional<std::string>& new_phone,
                           const std::optional<std::string>& new_user_id, const std::string& now,
                           std::vector<std::int64_t>& event_ids) {
  static const std::string by_id =
      fmt::format("SELECT {} WHERE tenant_id = ? AND id = ?", contact_columns);
  Contact c;
  {
    auto q = prepare(store, by_id);
    q->bindNoCopy(1, tenant);
    q->bind(2, contact.id);
    if (!q->executeStep()) return contact;
    c = row_to_contact(*q);
  }
  // The new identifier may already name a contact (the user wrote from it before): then
  // the two are one person.
  auto other = new_phone ? find_by(store, tenant, "phone_number", new_phone)
                         : find_by(store, tenant, "user_id", new_user_id);
  if (other && other->id != c.id) {
    if (new_phone) c.phone_number.reset();
    if (new_user_id) c.user_id.reset();
    c = merge(store, c, *other, now, event_ids);
  }
  take(c.phone_number, new_phone);
  take(c.user_id, new_user_id);
  save(store, c, now);
  return ref_of(c);
}

void set_business_name(Store& store, const std::string& tenant, const std::string& phone,
                       const std::optional<std::string>& name, const std::string& now) {
  std::vector<std::int64_t> events;
  auto ref =
      note_contact(store, tenant, {phone, std::nullopt, std::nullopt, std::nullopt}, now, events);
  auto q = prepare(store, "UPDATE contacts SET business_name = ?, updated_at = ? WHERE id = ? AND "
                          "business_name IS NOT ?");
  bind_ref(*q, 1, name);
  q->bindNoCopy(2, now);
  q->bind(3, ref.id);
  bind_ref(*q, 4, name);
  q->exec();
  remember_name(store, ref.id, name, now);
}

void name_external_id(Store& store, const ContactRef& contact, const std::string& external_id) {
  auto q = prepare(store, "UPDATE contacts SET external_id = ? WHERE id = ? AND "
                          "external_id IS NOT ?");
  q->bindNoCopy(1, external_id);
  q->bind(2, contact.id);
  q->bindNoCopy(3, external_id);
  q->exec();
}

std::optional<Contact> find_contact(Store& store, const std::string& tenant, const Peer& peer) {
  return translated([&]() -> std::optional<Contact> {
    if (peer.phone_number) return find_by(store, tenant, "phone_number", peer.phone_number);
    return find_by(store, tenant, "user_id", peer.user_id);
  });
}

nlohmann::json to_json(const Contact& c) {
  auto opt = [](const std::optional<std::string>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  return {{"id", std::to_string(c.id)},
          {"contact_id", c.external_id ? *c.external_id : std::to_string(c.id)},
          {"phone_number", opt(c.phone_number)},
          {"user_id", opt(c.user_id)},
          {"username", opt(c.username)},
          {"contact_name", opt(c.name())}};
}

} // namespace wabactl
