#include "support/temp_store.hpp"

#include "wabactl/messages.hpp"
#include "wabactl/tenants.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

namespace testsupport {

TempStore::TempStore(std::initializer_list<std::string> tenants, wabactl::Durability durability)
    : wabactl::Store(folder / "wabactl.db", durability) {
  for (const auto& t : tenants) wabactl::add_tenant(*this, t, std::nullopt);
}

SQLite::Database raw_db(const std::filesystem::path& db) {
  SQLite::Database raw(db.string(), SQLite::OPEN_READWRITE, 10000);
  raw.exec("PRAGMA foreign_keys = ON");
  return raw;
}

SQLite::Database raw_db(const wabactl::Store& store) {
  return raw_db(store.path());
}

void insert_outgoing(const wabactl::Store& store, const OutgoingRow& row) {
  auto db = raw_db(store);
  // The conversation is the recipient's contact, as a send leaves it.
  SQLite::Statement contact(db, "INSERT INTO contacts(tenant_id, phone_number, created_at, "
                                "updated_at) VALUES(?1, ?2, ?3, ?3) ON CONFLICT DO NOTHING");
  contact.bind(1, row.tenant);
  contact.bind(2, row.phone);
  contact.bind(3, row.timestamp);
  contact.exec();
  SQLite::Statement q(db, "INSERT INTO whatsapp_messages(tenant_id, phone_number, conversation, "
                          "message_id, direction, status, status_rank, type, message_text, "
                          "timestamp, created_at, source) VALUES(?1, ?2, (SELECT CAST(id AS TEXT) "
                          "FROM contacts WHERE tenant_id = ?1 AND phone_number = ?2), ?3, "
                          "'outgoing', ?4, ?5, 'text', ?6, ?7, ?7, 'api')");
  q.bind(1, row.tenant);
  q.bind(2, row.phone);
  q.bind(3, row.wamid);
  q.bind(4, row.status);
  q.bind(5, wabactl::status_rank(row.status));
  q.bind(6, row.text);
  q.bind(7, row.timestamp);
  q.exec();
}

std::int64_t query_int(const wabactl::Store& store, const std::string& sql) {
  return raw_db(store).execAndGet(sql).getInt64();
}

std::vector<Event> events_after(wabactl::Store& store, const std::string& tenant,
                                std::int64_t after, std::size_t limit) {
  std::vector<Event> out;
  for (auto& r : wabactl::event_rows_after(store, tenant, after, limit)) {
    out.push_back({r.id, r.type, r.tenant_id, r.at, nlohmann::json::parse(r.data)});
  }
  return out;
}

} // namespace testsupport
