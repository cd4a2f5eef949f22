#include "store/contacts.hpp"

#include "store/sql.hpp"
#include "wabactl/store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

namespace wabactl {
namespace {

// Contacts are keyed by phone number when Meta shows one, else by the business-scoped user
// id (username users). A username contact that later shows its number is completed in place.
// The writer runs these for every message, so parameters are numbered (?1 tenant, ?2 phone,
// ?3 user id, ?4 name, ?5 now): binding by name searches the statement's parameter list.
void upsert_contact(Store& store, const std::string& tenant,
                    const std::optional<std::string>& phone, const std::optional<std::string>& user,
                    const std::optional<std::string>& name, const std::string& now) {
  if (phone) {
    if (user) {
      auto merge = prepare(store, "UPDATE contacts SET phone_number = ?2, updated_at = ?5 "
                                  "WHERE tenant_id = ?1 AND user_id = ?3 AND phone_number IS NULL "
                                  "AND NOT EXISTS (SELECT 1 FROM contacts WHERE tenant_id = ?1 "
                                  "AND phone_number = ?2)");
      merge->bindNoCopy(1, tenant);
      merge->bindNoCopy(2, *phone);
      merge->bindNoCopy(3, *user);
      merge->bindNoCopy(5, now);
      merge->exec();
    }
    auto q = prepare(
        store,
        "INSERT INTO contacts(tenant_id, phone_number, user_id, name, created_at, updated_at) "
        "VALUES(?1, ?2, CASE WHEN ?3 IS NULL OR EXISTS (SELECT 1 FROM contacts WHERE "
        "tenant_id = ?1 AND user_id = ?3) THEN NULL ELSE ?3 END, ?4, ?5, ?5) "
        "ON CONFLICT(tenant_id, phone_number) WHERE phone_number IS NOT NULL DO UPDATE SET "
        "name = coalesce(excluded.name, contacts.name), "
        "user_id = CASE WHEN contacts.user_id IS NULL AND ?3 IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM contacts c2 WHERE c2.tenant_id = ?1 AND c2.user_id = ?3) THEN ?3 "
        "ELSE contacts.user_id END, updated_at = ?5");
    q->bindNoCopy(1, tenant);
    q->bindNoCopy(2, *phone);
    bind_ref(*q, 3, user);
    bind_ref(*q, 4, name);
    q->bindNoCopy(5, now);
    q->exec();
  } else if (user) {
    auto q =
        prepare(store, "INSERT INTO contacts(tenant_id, user_id, name, created_at, updated_at) "
                       "VALUES(?1, ?3, ?4, ?5, ?5) "
                       "ON CONFLICT(tenant_id, user_id) WHERE user_id IS NOT NULL DO UPDATE "
                       "SET name = coalesce(excluded.name, contacts.name), updated_at = ?5");
    q->bindNoCopy(1, tenant);
    q->bindNoCopy(3, *user);
    bind_ref(*q, 4, name);
    q->bindNoCopy(5, now);
    q->exec();
  }
}

} // namespace

ContactRef note_contact(Store& store, const std::string& tenant, const ContactFacts& facts,
                        const std::string& now, std::vector<std::int64_t>& /*event_ids*/) {
  upsert_contact(store, tenant, facts.phone, facts.user_id, facts.name, now);
  auto q = prepare(store, facts.phone ? "SELECT id FROM contacts WHERE tenant_id = ? AND "
                                        "phone_number = ?"
                                      : "SELECT id FROM contacts WHERE tenant_id = ? AND "
                                        "user_id = ?");
  q->bindNoCopy(1, tenant);
  q->bindNoCopy(2, facts.phone ? *facts.phone : *facts.user_id);
  ContactRef ref;
  if (q->executeStep()) ref.id = q->getColumn(0).getInt64();
  ref.conversation = facts.phone ? *facts.phone : *facts.user_id;
  return ref;
}

void set_business_name(Store& store, const std::string& tenant, const std::string& phone,
                       const std::optional<std::string>& name, const std::string& now) {
  std::vector<std::int64_t> events;
  auto ref =
      note_contact(store, tenant, {phone, std::nullopt, std::nullopt, std::nullopt}, now, events);
  auto q = prepare(store, "UPDATE contacts SET business_name = ?, updated_at = ? WHERE id = ?");
  bind_ref(*q, 1, name);
  q->bindNoCopy(2, now);
  q->bind(3, ref.id);
  q->exec();
}

} // namespace wabactl
