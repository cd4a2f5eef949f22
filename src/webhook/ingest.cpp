#include "store/sql.hpp"
#include "wabactl/error.hpp"
#include "wabactl/log.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/store.hpp"
#include "wabactl/util.hpp"
#include "wabactl/webhook.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include <array>
#include <limits>
#include <set>
#include <tuple>

namespace wabactl {
namespace {

std::optional<std::string> non_empty(std::string_view s) {
  if (s.empty()) return std::nullopt;
  return std::string(s);
}

std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string iso_or_now(std::int64_t seconds, const std::string& now) {
  return seconds > 0 ? iso_from_unix(seconds) : now;
}

// Statuses that move an outgoing message; others (Meta adds new ones) only go to history.
bool moves_message(const std::string& status) {
  return status == "sent" || status == "delivered" || status == "read" || status == "played" ||
         status == "failed";
}

std::int64_t archive(Store& store, std::string_view body, const std::array<unsigned char, 32>& hash,
                     std::string_view route, std::string_view verified_by, const std::string& now,
                     bool& duplicate) {
  if (body.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw Error(Exit::usage, "webhook body is too large to archive");
  }
  auto ins = store.prepare("INSERT INTO webhook_deliveries(received_at, route, verified_by, "
                           "body, body_hash) VALUES(:at, :route, :by, :body, :hash) "
                           "ON CONFLICT DO NOTHING");
  ins->bind(":at", now);
  bind_opt(*ins, ":route", non_empty(route));
  bind_opt(*ins, ":by", non_empty(verified_by));
  ins->bind(":body", body.data(), static_cast<int>(body.size()));
  ins->bind(":hash", hash.data(), static_cast<int>(hash.size()));
  duplicate = ins->exec() == 0;
  if (!duplicate) return store.db().getLastInsertRowid();
  auto q = store.prepare("SELECT id FROM webhook_deliveries WHERE body_hash = ?");
  q->bind(1, hash.data(), static_cast<int>(hash.size()));
  q->executeStep();
  return q->getColumn(0).getInt64();
}

// Contacts are keyed by phone number when Meta shows one, else by the business-scoped user
// id (username users). A username contact that later shows its number is completed in place.
void upsert_contact(Store& store, const std::string& tenant,
                    const std::optional<std::string>& phone, const std::optional<std::string>& user,
                    const std::optional<std::string>& name, const std::string& now) {
  if (phone) {
    if (user) {
      auto merge = store.prepare("UPDATE contacts SET phone_number = :phone, updated_at = :now "
                                 "WHERE tenant_id = :t AND user_id = :u AND phone_number IS NULL "
                                 "AND NOT EXISTS (SELECT 1 FROM contacts WHERE tenant_id = :t "
                                 "AND phone_number = :phone)");
      merge->bind(":phone", *phone);
      merge->bind(":now", now);
      merge->bind(":t", tenant);
      merge->bind(":u", *user);
      merge->exec();
    }
    auto q = store.prepare(
        "INSERT INTO contacts(tenant_id, phone_number, user_id, name, created_at, updated_at) "
        "VALUES(:t, :phone, CASE WHEN :u IS NULL OR EXISTS (SELECT 1 FROM contacts WHERE "
        "tenant_id = :t AND user_id = :u) THEN NULL ELSE :u END, :name, :now, :now) "
        "ON CONFLICT(tenant_id, phone_number) WHERE phone_number IS NOT NULL DO UPDATE SET "
        "name = coalesce(excluded.name, contacts.name), "
        "user_id = CASE WHEN contacts.user_id IS NULL AND :u IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM contacts c2 WHERE c2.tenant_id = :t AND c2.user_id = :u) THEN :u "
        "ELSE contacts.user_id END, updated_at = :now");
    q->bind(":t", tenant);
    q->bind(":phone", *phone);
    bind_opt(*q, ":u", user);
    bind_opt(*q, ":name", name);
    q->bind(":now", now);
    q->exec();
  } else if (user) {
    auto q =
        store.prepare("INSERT INTO contacts(tenant_id, user_id, name, created_at, updated_at) "
                      "VALUES(:t, :u, :name, :now, :now) "
                      "ON CONFLICT(tenant_id, user_id) WHERE user_id IS NOT NULL DO UPDATE SET "
                      "name = coalesce(excluded.name, contacts.name), updated_at = :now");
    q->bind(":t", tenant);
    q->bind(":u", *user);
    bind_opt(*q, ":name", name);
    q->bind(":now", now);
    q->exec();
  }
}

// Returns the new row's local id, or nullopt for a duplicate.
std::optional<std::int64_t> insert_message(Store& store, const std::string& tenant,
                                           const InboundMessage& m, const std::string& now) {
  auto q = store.prepare(
      "INSERT INTO whatsapp_messages(tenant_id, contact_id, phone_number, user_id, "
      "conversation, message_id, direction, status, status_rank, type, message_text, "
      "media_type, media_id, reply_to, timestamp, created_at, payload) VALUES(:t, "
      "(SELECT external_id FROM contacts WHERE tenant_id = :t AND ((:phone IS NOT NULL AND "
      "phone_number = :phone) OR (:phone IS NULL AND user_id = :u)) LIMIT 1), "
      ":phone, :u, :conversation, :id, 'incoming', 'received', :rank, :type, :text, "
      ":media_type, :media_id, :reply_to, :ts, :now, :payload) ON CONFLICT DO NOTHING");
  q->bind(":t", tenant);
  bind_opt(*q, ":phone", m.from);
  bind_opt(*q, ":u", m.from_user_id);
  q->bind(":conversation", m.from ? *m.from : *m.from_user_id);
  q->bind(":id", m.message_id);
  q->bind(":rank", status_rank("received"));
  q->bind(":type", m.type);
  // An empty reaction means "removed" and is worth keeping; other empty texts are none.
  if (m.text.empty() && m.type != "reaction") {
    q->bind(":text");
  } else {
    q->bind(":text", m.text);
  }
  bind_opt(*q, ":media_type", m.media_type);
  bind_opt(*q, ":media_id", m.media_id);
  bind_opt(*q, ":reply_to", m.reply_to);
  q->bind(":ts", iso_or_now(m.timestamp, now));
  q->bind(":now", now);
  q->bind(":payload", m.payload);
  if (q->exec() == 0) return std::nullopt;
  return store.db().getLastInsertRowid();
}

bool insert_status(Store& store, const std::string& tenant, const StatusUpdate& s,
                   const std::string& now) {
  auto q = store.prepare("INSERT INTO message_statuses(tenant_id, message_id, status, timestamp, "
                         "error_code, error_title, error_details, payload) VALUES(:t, :id, "
                         ":status, :ts, :code, :title, :details, :payload) "
                         "ON CONFLICT DO NOTHING");
  q->bind(":t", tenant);
  q->bind(":id", s.message_id);
  q->bind(":status", s.status);
  q->bind(":ts", iso_or_now(s.timestamp, now));
  bind_opt(*q, ":code", s.error_code);
  bind_opt(*q, ":title", s.error_title);
  bind_opt(*q, ":details", s.error_details);
  q->bind(":payload", s.payload);
  return q->exec() > 0;
}

// The rank comparison in the WHERE clause is what keeps late statuses from downgrading.
void advance_message(Store& store, const std::string& tenant, const StatusUpdate& s) {
  if (!moves_message(s.status)) return;
  bool failed = s.status == "failed";
  auto q = store.prepare("UPDATE whatsapp_messages SET status = :status, status_rank = :rank, "
                         "error_code = CASE WHEN :failed THEN :code ELSE error_code END, "
                         "error_title = CASE WHEN :failed THEN :title ELSE error_title END, "
                         "error_details = CASE WHEN :failed THEN :details ELSE error_details END "
                         "WHERE tenant_id = :t AND message_id = :id AND direction = 'outgoing' "
                         "AND status_rank < :rank");
  q->bind(":status", s.status);
  q->bind(":rank", status_rank(s.status));
  q->bind(":failed", failed ? 1 : 0);
  // A failure without an error object still reads as failed, with code 0.
  q->bind(":code", s.error_code.value_or(0));
  q->bind(":title", s.error_title.value_or(""));
  q->bind(":details", s.error_details.value_or(""));
  q->bind(":t", tenant);
  q->bind(":id", s.message_id);
  q->exec();
}

std::optional<Message> outgoing_message(Store& store, const std::string& tenant,
                                        const std::string& wamid) {
  static const std::string sql = fmt::format(
      "SELECT {} WHERE m.tenant_id = ? AND m.message_id = ? AND m.direction = 'outgoing'",
      message_select());
  auto q = store.prepare(sql);
  q->bind(1, tenant);
  q->bind(2, wamid);
  if (!q->executeStep()) return std::nullopt;
  return row_to_message(*q);
}

} // namespace

IngestStats ingest_delivery(Store& store, std::string_view raw_body, const ParsedDelivery& parsed,
                            const std::map<std::string, std::string>& tenant_of_number,
                            std::string_view route, std::string_view verified_by) {
  auto& db = store.db();
  if (sqlite3_get_autocommit(db.getHandle()) != 0) {
    throw Error(Exit::internal, "webhook ingest must run inside a transaction");
  }
  const std::string now = now_iso();
  IngestStats stats;
  auto tenant_of = [&](const std::string& number) -> const std::string* {
    auto it = tenant_of_number.find(number);
    return it == tenant_of_number.end() ? nullptr : &it->second;
  };

  stats.delivery_id = archive(store, raw_body, parsed.body_sha256, route, verified_by, now,
                              stats.duplicate_delivery);
  for (const auto& number : parsed.phone_number_ids) {
    if (const auto* tenant = tenant_of(number)) stats.tenants.insert(*tenant);
  }
  for (const auto& tenant : stats.tenants) {
    auto q = store.prepare("INSERT INTO delivery_tenants(delivery_id, tenant_id) VALUES(?, ?) "
                           "ON CONFLICT DO NOTHING");
    q->bind(1, static_cast<std::int64_t>(stats.delivery_id));
    q->bind(2, tenant);
    q->exec();
  }

  // Who contacts[] already upserted: a sender among them needs no second statement.
  std::set<std::tuple<std::string, std::optional<std::string>, std::optional<std::string>>>
      upserted;
  for (const auto& c : parsed.contacts) {
    if (const auto* tenant = tenant_of(c.phone_number_id)) {
      upsert_contact(store, *tenant, c.wa_id, c.user_id, c.name, now);
      upserted.emplace(*tenant, c.wa_id, c.user_id);
    }
  }

  std::set<std::string> unread_changed;
  for (const auto& m : parsed.messages) {
    const auto* tenant = tenant_of(m.phone_number_id);
    if (tenant == nullptr) {
      ++stats.archived_only;
      continue;
    }
    // Senders without a contacts[] entry (system messages) still get a contact row.
    if (upserted.count({*tenant, m.from, m.from_user_id}) == 0) {
      upsert_contact(store, *tenant, m.from, m.from_user_id, std::nullopt, now);
    }
    auto id = insert_message(store, *tenant, m, now);
    if (!id) {
      ++stats.duplicates;
      continue;
    }
    ++stats.messages;
    unread_changed.insert(*tenant);
    stats.event_ids.push_back(append_event(store, *tenant, event_message_received,
                                           find_message_by_local_id(store, *tenant, *id),
                                           std::nullopt));
  }

  for (const auto& s : parsed.statuses) {
    const auto* tenant = tenant_of(s.phone_number_id);
    if (tenant == nullptr) {
      ++stats.archived_only;
      continue;
    }
    if (!insert_status(store, *tenant, s, now)) {
      ++stats.duplicates;
      continue;
    }
    ++stats.statuses;
    advance_message(store, *tenant, s);
    stats.event_ids.push_back(append_event(store, *tenant, event_message_status,
                                           outgoing_message(store, *tenant, s.message_id),
                                           std::nullopt));
  }

  // Value-level errors have no table of their own: the archive keeps them, operators see them.
  if (!stats.duplicate_delivery) {
    for (const auto& e : parsed.errors) {
      const auto* tenant = tenant_of(e.value("phone_number_id", ""));
      if (tenant == nullptr) continue;
      const nlohmann::json* code = e.contains("code") ? &e["code"] : nullptr;
      const nlohmann::json* title = e.contains("title") ? &e["title"] : nullptr;
      LOG_WARN("webhook delivery {} for tenant '{}': Meta reported error {} {}", stats.delivery_id,
               *tenant, code != nullptr ? dump(*code) : "?",
               title != nullptr ? dump(*title).substr(0, 200) : "");
    }
  }

  for (const auto& tenant : unread_changed) {
    stats.event_ids.push_back(append_event(store, tenant, event_unread_changed, std::nullopt,
                                           unread_count(store, tenant)));
  }
  return stats;
}

} // namespace wabactl
