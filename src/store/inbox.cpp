#include "wabactl/inbox.hpp"

#include "store/coexistence.hpp"
#include "store/contacts.hpp"
#include "store/revisions.hpp"
#include "store/sql.hpp"
#include "wabactl/error.hpp"
#include "wabactl/identity.hpp"
#include "wabactl/log.hpp"
#include "wabactl/media_queue.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/store.hpp"
#include "wabactl/templates.hpp"
#include "wabactl/util.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <sodium.h>

#include <array>
#include <limits>
#include <set>

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

// Archives the raw body and returns its row. The hash stays unset: record_delivery() sets it
// only for a delivery that brings nothing new (see archived_before()).
std::int64_t archive(Store& store, std::string_view body, std::string_view route,
                     std::string_view verified_by, const std::string& now) {
  if (body.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw Error(Exit::usage, "webhook body is too large to archive");
  }
  auto ins = prepare(store, "INSERT INTO webhook_deliveries(received_at, route, verified_by, body) "
                            "VALUES(?, ?, ?, ?)");
  ins->bindNoCopy(1, now);
  bind_opt(*ins, 2, non_empty(route));
  bind_opt(*ins, 3, non_empty(verified_by));
  ins->bindNoCopy(4, body.data(), static_cast<int>(body.size()));
  ins->exec();
  return sqlite(store).getLastInsertRowid();
}

// Returns the new row's local id, or nullopt for a duplicate. Parameters are numbered (?1
// tenant, …): binding by name searches the statement's parameter list, once per message.
std::optional<std::int64_t> insert_message(Store& store, const std::string& tenant,
                                           const InboundMessage& m, const ContactRef& contact,
                                           const std::string& now, std::int64_t delivery) {
  const std::string timestamp = iso_or_now(m.timestamp, now);
  auto q = prepare(
      store,
      "INSERT INTO whatsapp_messages(tenant_id, contact_id, phone_number, user_id, "
      "conversation, message_id, direction, status, status_rank, type, message_text, "
      "media_type, media_id, reply_to, timestamp, created_at, payload, delivery_id) VALUES(?1, "
      "(SELECT external_id FROM contacts WHERE id = ?16), ?2, ?3, ?4, ?5, 'incoming', "
      "'received', ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) ON CONFLICT DO NOTHING");
  q->bindNoCopy(1, tenant);
  bind_ref(*q, 2, m.from);
  bind_ref(*q, 3, m.from_user_id);
  q->bindNoCopy(4, contact.conversation);
  q->bindNoCopy(5, m.message_id);
  q->bind(6, status_rank("received"));
  q->bindNoCopy(7, m.type);
  // An empty reaction means "removed" and is worth keeping; other empty texts are none.
  if (m.text.empty() && m.type != "reaction") {
    q->bind(8);
  } else {
    q->bindNoCopy(8, m.text);
  }
  bind_ref(*q, 9, m.media_type);
  bind_ref(*q, 10, m.media_id);
  bind_ref(*q, 11, m.reply_to);
  q->bindNoCopy(12, timestamp);
  q->bindNoCopy(13, now);
  q->bindNoCopy(14, m.payload);
  q->bind(15, delivery);
  q->bind(16, contact.id);
  if (q->exec() == 0) return std::nullopt;
  return sqlite(store).getLastInsertRowid();
}

bool insert_status(Store& store, const std::string& tenant, const StatusUpdate& s,
                   const std::string& now, std::int64_t delivery) {
  const std::string timestamp = iso_or_now(s.timestamp, now);
  auto q = prepare(store, "INSERT INTO message_statuses(tenant_id, message_id, status, timestamp, "
                          "error_code, error_title, error_details, payload, delivery_id) "
                          "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
  q->bindNoCopy(1, tenant);
  q->bindNoCopy(2, s.message_id);
  q->bindNoCopy(3, s.status);
  q->bindNoCopy(4, timestamp);
  bind_opt(*q, 5, s.error_code);
  bind_ref(*q, 6, s.error_title);
  bind_ref(*q, 7, s.error_details);
  q->bindNoCopy(8, s.payload);
  q->bind(9, delivery);
  return q->exec() > 0;
}

// The rank comparison in the WHERE clause is what keeps late statuses from downgrading.
// Parameters: ?1 status, ?2 its rank, ?3 whether it is a failure, ?4-?6 the error's code,
// title and details, ?7 tenant, ?8 message id.
void advance_message(Store& store, const std::string& tenant, const StatusUpdate& s) {
  if (!moves_message(s.status)) return;
  bool failed = s.status == "failed";
  auto q = prepare(store, "UPDATE whatsapp_messages SET status = ?1, status_rank = ?2, "
                          "error_code = CASE WHEN ?3 THEN ?4 ELSE error_code END, "
                          "error_title = CASE WHEN ?3 THEN ?5 ELSE error_title END, "
                          "error_details = CASE WHEN ?3 THEN ?6 ELSE error_details END "
                          "WHERE tenant_id = ?7 AND message_id = ?8 AND direction = 'outgoing' "
                          "AND status_rank < ?2");
  q->bindNoCopy(1, s.status);
  q->bind(2, status_rank(s.status));
  q->bind(3, failed ? 1 : 0);
  // A failure without an error object still reads as failed, with code 0.
  q->bind(4, s.error_code.value_or(0));
  q->bind(5, s.error_title.value_or(""));
  q->bind(6, s.error_details.value_or(""));
  q->bindNoCopy(7, tenant);
  q->bindNoCopy(8, s.message_id);
  q->exec();
}

std::optional<Message> outgoing_message(Store& store, const std::string& tenant,
                                        const std::string& wamid) {
  static const std::string sql = fmt::format(
      "SELECT {} WHERE m.tenant_id = ? AND m.message_id = ? AND m.direction = 'outgoing'",
      message_select());
  auto q = prepare(store, sql);
  q->bindNoCopy(1, tenant);
  q->bindNoCopy(2, wamid);
  if (!q->executeStep()) return std::nullopt;
  return row_to_message(*q);
}

// The tenant a verified phone number id belongs to, or nullptr.
const std::string* tenant_of(const std::map<std::string, std::string>& tenant_of_number,
                             const std::string& number) {
  auto it = tenant_of_number.find(number);
  return it == tenant_of_number.end() ? nullptr : &it->second;
}

// For a delivery that brought nothing new: the row of an earlier delivery with the same bytes,
// if there is one. A delivery that brought a record is named by that record, and this body
// carries the same records; one that brought nothing has its hash in the unique index, which
// `delivery` (this body's new row) now joins unless the hash is taken.
std::optional<std::int64_t>
archived_before(Store& store, std::string_view body, const ParsedDelivery& parsed,
                const std::map<std::string, std::string>& tenant_of_number, std::int64_t delivery) {
  // Each delivery the records name is compared once, by length first, so that a body of
  // another size is never read.
  std::set<std::int64_t> compared;
  auto named_same = [&](SQLite::Statement& origin) -> std::optional<std::int64_t> {
    if (!origin.executeStep() || origin.getColumn(0).isNull()) return std::nullopt;
    std::int64_t id = origin.getColumn(0).getInt64();
    if (!compared.insert(id).second) return std::nullopt;
    auto same = prepare(
        store, "SELECT 1 FROM webhook_deliveries WHERE id = ? AND length(body) = ? AND body = ?");
    same->bind(1, id);
    same->bind(2, static_cast<std::int64_t>(body.size()));
    same->bindNoCopy(3, body.data(), static_cast<int>(body.size()));
    if (!same->executeStep()) return std::nullopt;
    return id;
  };
  for (const auto& m : parsed.messages) {
    if (const auto* tenant = tenant_of(tenant_of_number, m.phone_number_id)) {
      auto q = prepare(
          store,
          is_revision(m)
              ? "SELECT delivery_id FROM message_revisions WHERE tenant_id = ? AND message_id = ?"
              : "SELECT delivery_id FROM whatsapp_messages WHERE tenant_id = ? AND message_id = ?");
      q->bindNoCopy(1, *tenant);
      q->bindNoCopy(2, m.message_id);
      if (auto id = named_same(*q)) return id;
    }
  }
  for (const auto& st : parsed.statuses) {
    if (const auto* tenant = tenant_of(tenant_of_number, st.phone_number_id)) {
      auto q = prepare(store, "SELECT delivery_id FROM message_statuses WHERE tenant_id = ? AND "
                              "message_id = ? AND status = ?");
      q->bindNoCopy(1, *tenant);
      q->bindNoCopy(2, st.message_id);
      q->bindNoCopy(3, st.status);
      if (auto id = named_same(*q)) return id;
    }
  }

  if (sodium_init() < 0) throw Error(Exit::internal, "libsodium failed to initialise");
  std::array<unsigned char, crypto_hash_sha256_BYTES> hash{};
  crypto_hash_sha256(hash.data(), reinterpret_cast<const unsigned char*>(body.data()), body.size());
  auto claim = prepare(store, "UPDATE OR IGNORE webhook_deliveries SET body_hash = ? WHERE id = ?");
  claim->bindNoCopy(1, hash.data(), static_cast<int>(hash.size()));
  claim->bind(2, delivery);
  if (claim->exec() > 0) return std::nullopt;
  auto q = prepare(store, "SELECT id FROM webhook_deliveries WHERE body_hash = ?");
  q->bindNoCopy(1, hash.data(), static_cast<int>(hash.size()));
  if (!q->executeStep()) throw Error(Exit::internal, "a delivery's hash is taken by no row");
  return q->getColumn(0).getInt64();
}

} // namespace

IngestStats record_delivery(Store& store, std::string_view raw_body, const ParsedDelivery& parsed,
                            const std::map<std::string, std::string>& tenant_of_number,
                            std::string_view route, std::string_view verified_by) {
  return translated([&]() -> IngestStats {
    if (!in_transaction(store)) {
      throw Error(Exit::internal, "webhook ingest must run inside a transaction");
    }
    const std::string now = now_iso();
    const std::int64_t unix_now = now_ms() / 1000;
    IngestStats stats;
    auto tenant_for = [&](const std::string& number) {
      return tenant_of(tenant_of_number, number);
    };

    stats.delivery_id = archive(store, raw_body, route, verified_by, now);
    for (const auto& number : parsed.phone_number_ids) {
      if (const auto* tenant = tenant_for(number)) stats.tenants.insert(*tenant);
    }

    for (const auto& c : parsed.contacts) {
      if (const auto* tenant = tenant_for(c.phone_number_id)) {
        note_contact(store, *tenant, {c.wa_id, c.user_id, c.username, c.name}, now,
                     stats.event_ids);
      }
    }

    std::set<std::string> unread_changed;
    for (const auto& m : parsed.messages) {
      const auto* tenant = tenant_for(m.phone_number_id);
      if (tenant == nullptr) {
        ++stats.archived_only;
        continue;
      }
      // contacts[] named the sender already (then this finds it); system messages have none.
      auto contact = note_contact(
          store, *tenant, {m.from, m.from_user_id, m.username, std::nullopt}, now, stats.event_ids);
      if (is_revision(m)) {
        if (record_revision(store, *tenant, m, now, stats.delivery_id, stats.event_ids)) {
          ++stats.revisions;
        } else {
          ++stats.duplicates;
        }
        continue;
      }
      auto id = insert_message(store, *tenant, m, contact, now, stats.delivery_id);
      if (!id) {
        ++stats.duplicates;
        continue;
      }
      if (m.changed_to_phone || m.changed_to_user_id) {
        change_identity(store, *tenant, contact, m.changed_to_phone, m.changed_to_user_id, now,
                        stats.event_ids);
      }
      queue_inbound_media(store, *tenant, *id, m, m.timestamp, unix_now);
      ++stats.messages;
      unread_changed.insert(*tenant);
      stats.event_ids.push_back(append_event(store, *tenant, event_message_received,
                                             find_message_by_local_id(store, *tenant, *id),
                                             std::nullopt));
      apply_pending_revisions(store, *tenant, m.message_id, now, stats.event_ids);
    }

    for (const auto& s : parsed.statuses) {
      const auto* tenant = tenant_for(s.phone_number_id);
      if (tenant == nullptr) {
        ++stats.archived_only;
        continue;
      }
      if (!insert_status(store, *tenant, s, now, stats.delivery_id)) {
        ++stats.duplicates;
        continue;
      }
      ++stats.statuses;
      // A status names its recipient by both ids where Meta shows both: the contact learns
      // the user id (or number) it lacked.
      if (auto phone = s.recipient_id ? normalize_phone(*s.recipient_id) : std::nullopt;
          phone && s.recipient_user_id) {
        note_contact(store, *tenant, {phone, s.recipient_user_id, {}, {}}, now, stats.event_ids);
      }
      advance_message(store, *tenant, s);
      stats.event_ids.push_back(append_event(store, *tenant, event_message_status,
                                             outgoing_message(store, *tenant, s.message_id),
                                             std::nullopt));
    }

    record_coexistence(store, parsed, tenant_of_number, stats.delivery_id, now, stats);
    for (const auto& u : parsed.templates) {
      if (u.tenants.empty()) ++stats.archived_only;
      for (const auto& tenant : u.tenants) {
        TemplateChange change{u.template_id, u.name, u.language, u.status, u.quality, u.reason};
        if (apply_template_change(store, tenant, change, now, &stats.event_ids)) {
          ++stats.template_changes;
          stats.tenants.insert(tenant);
        }
      }
    }

    // Only a body that brought nothing new can be one archived before: then this copy goes.
    // Coexistence records do not count: a body of them alone is recognised by its hash.
    if (stats.messages == 0 && stats.statuses == 0 && stats.revisions == 0) {
      if (auto earlier =
              archived_before(store, raw_body, parsed, tenant_of_number, stats.delivery_id)) {
        auto drop = prepare(store, "DELETE FROM webhook_deliveries WHERE id = ?");
        drop->bind(1, stats.delivery_id);
        drop->exec();
        stats.delivery_id = *earlier;
        stats.duplicate_delivery = true;
      }
    }
    if (!stats.duplicate_delivery) {
      for (const auto& tenant : stats.tenants) {
        auto q = prepare(store, "INSERT INTO delivery_tenants(delivery_id, tenant_id) VALUES(?, ?) "
                                "ON CONFLICT DO NOTHING");
        q->bind(1, stats.delivery_id);
        q->bindNoCopy(2, tenant);
        q->exec();
      }
    }

    // Value-level errors have no table of their own: the archive keeps them, operators see them.
    if (!stats.duplicate_delivery) {
      for (const auto& e : parsed.errors) {
        const auto* tenant = tenant_for(e.value("phone_number_id", ""));
        if (tenant == nullptr) continue;
        const nlohmann::json* code = e.contains("code") ? &e["code"] : nullptr;
        const nlohmann::json* title = e.contains("title") ? &e["title"] : nullptr;
        LOG_WARN("webhook delivery {} for tenant '{}': Meta reported error {} {}",
                 stats.delivery_id, *tenant, code != nullptr ? dump(*code) : "?",
                 title != nullptr ? dump(*title).substr(0, 200) : "");
      }
    }

    for (const auto& tenant : unread_changed) {
      stats.event_ids.push_back(append_event(store, tenant, event_unread_changed, std::nullopt,
                                             unread_count(store, tenant)));
    }
    return stats;
  });
}

} // namespace wabactl
