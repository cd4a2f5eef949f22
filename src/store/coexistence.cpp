#include "wabactl/coexistence.hpp"

#include "store/coexistence.hpp"
#include "store/contacts.hpp"
#include "store/revisions.hpp"
#include "store/sql.hpp"
#include "wabactl/error.hpp"
#include "wabactl/log.hpp"
#include "wabactl/media_queue.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/store.hpp"
#include "wabactl/util.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>

namespace wabactl {
namespace {

const std::string* tenant_of(const std::map<std::string, std::string>& tenant_of_number,
                             const std::string& number) {
  auto it = tenant_of_number.find(number);
  return it == tenant_of_number.end() ? nullptr : &it->second;
}

// A message the business or its customer wrote outside this program (echo or history).
struct ForeignMessage {
  const InboundMessage* content = nullptr;
  const ContactRef* contact = nullptr;
  std::string phone;
  bool outgoing = false;
  std::string status;
  std::optional<std::string> read_at;
  const char* source = nullptr;
  std::optional<std::int64_t> delivery_id;
};

// Returns the new row's local id, or nullopt when the wamid is stored already. Parameters
// are numbered, as the importer runs this for thousands of messages.
std::optional<std::int64_t> insert_foreign(Store& store, const std::string& tenant,
                                           const ForeignMessage& f, const std::string& now) {
  const InboundMessage& m = *f.content;
  auto q = prepare(store, "INSERT INTO whatsapp_messages(tenant_id, contact_id, phone_number, "
                          "conversation, message_id, direction, status, status_rank, type, "
                          "message_text, media_type, media_id, reply_to, timestamp, created_at, "
                          "read_at, payload, source, delivery_id) VALUES(?1, (SELECT external_id "
                          "FROM contacts WHERE id = ?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                          "?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19) ON CONFLICT DO NOTHING");
  const std::string timestamp = m.timestamp > 0 ? iso_from_unix(m.timestamp) : now;
  q->bindNoCopy(1, tenant);
  q->bind(2, f.contact->id);
  q->bindNoCopy(3, f.phone);
  q->bindNoCopy(4, f.contact->conversation);
  q->bindNoCopy(5, m.message_id);
  q->bind(6, f.outgoing ? "outgoing" : "incoming");
  q->bindNoCopy(7, f.status);
  q->bind(8, status_rank(f.status));
  q->bindNoCopy(9, m.type);
  // An empty reaction means "removed" and is worth keeping; other empty texts are none.
  if (m.text.empty() && m.type != "reaction") {
    q->bind(10);
  } else {
    q->bindNoCopy(10, m.text);
  }
  bind_ref(*q, 11, m.media_type);
  bind_ref(*q, 12, m.media_id);
  bind_ref(*q, 13, m.reply_to);
  q->bind(14, timestamp);
  q->bindNoCopy(15, now);
  bind_ref(*q, 16, f.read_at);
  q->bindNoCopy(17, m.payload);
  q->bind(18, f.source);
  bind_opt(*q, 19, f.delivery_id);
  if (q->exec() == 0) return std::nullopt;
  return sqlite(store).getLastInsertRowid();
}

// Meta sends history media as placeholders first and the media in a later chunk: the later
// one completes the stored row (only a row still without its media). Returns that row's id.
std::optional<std::int64_t> fill_placeholder(Store& store, const std::string& tenant,
                                             const InboundMessage& m) {
  auto q = prepare(store, "UPDATE whatsapp_messages SET type = ?1, message_text = ?2, "
                          "media_type = ?3, media_id = ?4, payload = ?5 WHERE tenant_id = ?6 AND "
                          "message_id = ?7 AND media_id IS NULL AND type IN ('media_placeholder', "
                          "'image', 'video', 'audio', 'document', 'sticker') RETURNING id");
  q->bindNoCopy(1, m.type);
  if (m.text.empty()) {
    q->bind(2);
  } else {
    q->bindNoCopy(2, m.text);
  }
  bind_ref(*q, 3, m.media_type);
  bind_ref(*q, 4, m.media_id);
  q->bindNoCopy(5, m.payload);
  q->bindNoCopy(6, tenant);
  q->bindNoCopy(7, m.message_id);
  if (!q->executeStep()) return std::nullopt;
  return q->getColumn(0).getInt64();
}

void record_echoes(Store& store, const ParsedDelivery& parsed,
                   const std::map<std::string, std::string>& tenant_of_number,
                   std::int64_t delivery_id, const std::string& now, IngestStats& stats) {
  for (const auto& echo : parsed.echoes) {
    const auto* tenant = tenant_of(tenant_of_number, echo.message.phone_number_id);
    if (tenant == nullptr) {
      ++stats.archived_only;
      continue;
    }
    ContactRef contact = note_contact(
        store, *tenant, {echo.to, std::nullopt, std::nullopt, std::nullopt}, now, stats.event_ids);
    ForeignMessage f;
    f.content = &echo.message;
    f.contact = &contact;
    f.phone = echo.to;
    f.outgoing = true;
    f.status = "sent";
    f.source = "business_app";
    f.delivery_id = delivery_id;
    auto id = insert_foreign(store, *tenant, f, now);
    if (!id) {
      ++stats.duplicates;
      continue;
    }
    ++stats.echoes;
    // What the business sent from its phone is kept like what its customers send.
    queue_inbound_media(store, *tenant, *id, echo.message, echo.message.timestamp, now_ms() / 1000);
    stats.event_ids.push_back(append_event(store, *tenant, event_message_echoed,
                                           find_message_by_local_id(store, *tenant, *id),
                                           std::nullopt));
  }
}

void record_history_chunks(Store& store, const ParsedDelivery& parsed,
                           const std::map<std::string, std::string>& tenant_of_number,
                           std::int64_t delivery_id, const std::string& now, IngestStats& stats) {
  if (parsed.history.empty()) return;
  if (sodium_init() < 0) throw Error(Exit::internal, "libsodium failed to initialise");
  for (const auto& chunk : parsed.history) {
    const auto* tenant = tenant_of(tenant_of_number, chunk.phone_number_id);
    if (tenant == nullptr) {
      ++stats.archived_only;
      continue;
    }
    std::array<unsigned char, crypto_hash_sha256_BYTES> hash{};
    crypto_hash_sha256(hash.data(), reinterpret_cast<const unsigned char*>(chunk.payload.data()),
                       chunk.payload.size());
    bool declined = chunk.error_code.has_value();
    auto q = prepare(store, "INSERT INTO history_chunks(tenant_id, phone_number_id, "
                            "business_number, phase, chunk_order, progress, error_code, "
                            "error_title, messages, chunk_hash, body, state, received_at, "
                            "delivery_id) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                            "ON CONFLICT DO NOTHING");
    q->bindNoCopy(1, *tenant);
    q->bindNoCopy(2, chunk.phone_number_id);
    bind_ref(*q, 3, chunk.business_number);
    bind_opt(*q, 4, chunk.phase);
    bind_opt(*q, 5, chunk.chunk_order);
    bind_opt(*q, 6, chunk.progress);
    bind_opt(*q, 7, chunk.error_code);
    bind_ref(*q, 8, chunk.error_title);
    q->bind(9, static_cast<std::int64_t>(chunk.messages));
    q->bindNoCopy(10, hash.data(), static_cast<int>(hash.size()));
    q->bindNoCopy(11, chunk.payload);
    q->bind(12, declined ? "declined" : "pending");
    q->bindNoCopy(13, now);
    q->bind(14, delivery_id);
    if (q->exec() == 0) {
      ++stats.duplicates;
      continue;
    }
    ++stats.history_chunks;
    if (declined) {
      LOG_WARN("tenant '{}': the WhatsApp Business app's history was not shared (Meta error {} "
               "{}): nothing to import",
               *tenant, *chunk.error_code, chunk.error_title.value_or("").substr(0, 200));
    }
  }
}

// An older sync must not undo a newer one, whatever order Meta sends them in: the last
// applied timestamp is kept per phone, and a sync applies only when it is not older.
void record_contact_syncs(Store& store, const ParsedDelivery& parsed,
                          const std::map<std::string, std::string>& tenant_of_number,
                          const std::string& now, IngestStats& stats) {
  for (const auto& s : parsed.contact_syncs) {
    const auto* tenant = tenant_of(tenant_of_number, s.phone_number_id);
    if (tenant == nullptr) {
      ++stats.archived_only;
      continue;
    }
    auto q = prepare(store, "INSERT INTO address_book_syncs(tenant_id, phone_number, synced_at) "
                            "VALUES(?1, ?2, ?3) ON CONFLICT(tenant_id, phone_number) DO UPDATE "
                            "SET synced_at = excluded.synced_at "
                            "WHERE excluded.synced_at >= address_book_syncs.synced_at");
    q->bindNoCopy(1, *tenant);
    q->bindNoCopy(2, s.phone);
    q->bind(3, s.timestamp);
    if (q->exec() == 0) {
      ++stats.duplicates;
      continue;
    }
    set_business_name(store, *tenant, s.phone, s.remove ? std::nullopt : s.name, now);
    ++stats.contact_syncs;
  }
}

} // namespace

void record_coexistence(Store& store, const ParsedDelivery& parsed,
                        const std::map<std::string, std::string>& tenant_of_number,
                        std::int64_t delivery_id, const std::string& now, IngestStats& stats) {
  record_echoes(store, parsed, tenant_of_number, delivery_id, now, stats);
  record_history_chunks(store, parsed, tenant_of_number, delivery_id, now, stats);
  record_contact_syncs(store, parsed, tenant_of_number, now, stats);
}

std::string history_status(const std::string& meta_status, bool outgoing) {
  if (!outgoing) return "received";
  std::string s;
  for (char c : meta_status)
    s.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (s == "sent" || s == "pending") return "sent";
  if (s == "read" || s == "played") return s;
  if (s == "error" || s == "failed") return "failed";
  return "delivered";
}

std::optional<PendingHistoryChunk> next_history_chunk(Store& store) {
  return translated([&]() -> std::optional<PendingHistoryChunk> {
    auto q = prepare(store, "SELECT id, tenant_id, business_number, body, imported FROM "
                            "history_chunks WHERE state = 'pending' ORDER BY id LIMIT 1");
    if (!q->executeStep()) return std::nullopt;
    PendingHistoryChunk c;
    c.id = q->getColumn(0).getInt64();
    c.tenant = q->getColumn(1).getString();
    c.business_number = opt_text(q->getColumn(2));
    c.body = q->getColumn(3).getString();
    c.imported = q->getColumn(4).getInt64();
    return c;
  });
}

std::size_t import_history_batch(Store& store, const PendingHistoryChunk& chunk,
                                 const std::vector<HistoryMessage>& messages, std::size_t from,
                                 std::size_t count) {
  return translated([&]() -> std::size_t {
    std::size_t done = 0;
    store.transaction([&] {
      done = 0;
      const std::string now = now_iso();
      const std::int64_t unix_now = now_ms() / 1000;
      std::vector<std::int64_t> event_ids;
      std::map<std::string, ContactRef> contacts;
      std::size_t end = std::min(messages.size(), from + std::min(count, messages.size()));
      for (std::size_t i = std::min(from, end); i < end; ++i) {
        const HistoryMessage& h = messages[i];
        auto it = contacts.find(h.thread);
        if (it == contacts.end()) {
          it = contacts
                   .emplace(h.thread,
                            note_contact(store, chunk.tenant,
                                         {h.thread, std::nullopt, std::nullopt, std::nullopt}, now,
                                         event_ids))
                   .first;
        }
        ForeignMessage f;
        f.content = &h.message;
        f.contact = &it->second;
        f.phone = h.thread;
        f.outgoing = h.outgoing;
        f.status = history_status(h.status, h.outgoing);
        if (!h.outgoing) f.read_at = now;
        f.source = "history";
        auto id = insert_foreign(store, chunk.tenant, f, now);
        if (id && !h.outgoing) {
          // An edit or revoke that came live before the import was waiting for this one.
          apply_pending_revisions(store, chunk.tenant, h.message.message_id, now, event_ids);
        } else if (!id && !h.placeholder && h.message.media_id) {
          id = fill_placeholder(store, chunk.tenant, h.message);
        }
        if (!id) continue;
        ++done;
        // History's media ids are issued with the chunk, not when the message was written.
        queue_inbound_media(store, chunk.tenant, *id, h.message, unix_now, unix_now);
      }
      bool finished = end >= messages.size();
      auto q = prepare(store, "UPDATE history_chunks SET imported = ?1, state = CASE WHEN ?2 "
                              "THEN 'imported' ELSE state END, finished_at = CASE WHEN ?2 THEN "
                              "?3 ELSE finished_at END WHERE id = ?4 AND state = 'pending'");
      q->bind(1, static_cast<std::int64_t>(end));
      q->bind(2, finished ? 1 : 0);
      q->bindNoCopy(3, now);
      q->bind(4, chunk.id);
      q->exec();
    });
    return done;
  });
}

} // namespace wabactl
