#include "store/revisions.hpp"

#include "store/contacts.hpp"
#include "store/sql.hpp"
#include "wabactl/delivery.hpp"
#include "wabactl/media_queue.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/store.hpp"
#include "wabactl/util.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include <optional>

namespace wabactl {
namespace {

// A row of message_revisions: the change, who sent it and, for an edit, the new content.
struct Revision {
  std::int64_t id = 0;
  std::string original_id;
  std::string kind; ///< edit|revoke
  std::optional<std::string> phone;
  std::optional<std::string> user_id;
  std::string timestamp;
  std::int64_t sent = 0; ///< timestamp in unix seconds
  std::optional<std::string> type;
  std::optional<std::string> text;
  std::optional<std::string> media_type;
  std::optional<std::string> media_id;
};

// What applying a change needs to know of the message it changes.
struct Original {
  std::int64_t id = 0;
  std::string type;
  bool revoked = false;
  std::optional<std::string> edited_at;
  std::optional<std::string> media_id;
  std::optional<std::string> media_type;
};

// The payload a change replaces joins the end of payload_history (oldest first); the
// change's own payload becomes the message's. ?1 is the new payload in both statements.
constexpr const char* keep_payload =
    "payload_history = json_insert(coalesce(payload_history, '[]'), '$[#]', "
    "CASE WHEN json_valid(payload) THEN json(payload) ELSE payload END), payload = ?1";

// The incoming message `r` changes, looked for in its sender's own conversation of `tenant`
// only: a customer never changes another's message, a tenant never another tenant's.
std::optional<Original> find_original(Store& store, const std::string& tenant, const Revision& r,
                                      const std::string& now,
                                      std::vector<std::int64_t>& event_ids) {
  auto sender =
      note_contact(store, tenant, {r.phone, r.user_id, std::nullopt, std::nullopt}, now, event_ids);
  auto q = prepare(store, "SELECT id, type, revoked_at IS NOT NULL, edited_at, media_id, "
                          "media_type FROM whatsapp_messages WHERE tenant_id = ? AND "
                          "message_id = ? AND direction = 'incoming' AND conversation = ?");
  q->bindNoCopy(1, tenant);
  q->bindNoCopy(2, r.original_id);
  q->bindNoCopy(3, sender.conversation);
  if (!q->executeStep()) return std::nullopt;
  Original o;
  o.id = q->getColumn(0).getInt64();
  o.type = q->getColumn(1).getString();
  o.revoked = q->getColumn(2).getInt() != 0;
  o.edited_at = opt_text(q->getColumn(3));
  o.media_id = opt_text(q->getColumn(4));
  o.media_type = opt_text(q->getColumn(5));
  return o;
}

// The edit's text and media replace the original's. An edit of the same type that names no
// media (a new caption) keeps the media; other media leave what was known of the old bytes
// behind, so the new ones are fetched.
void apply_edit(Store& store, const std::string& tenant, const Original& o, const Revision& r,
                const std::string& payload) {
  bool keeps_media = !r.media_id && r.type == o.type;
  const auto& media_id = keeps_media ? o.media_id : r.media_id;
  const auto& media_type = keeps_media ? o.media_type : r.media_type;
  static const std::string sql =
      fmt::format("UPDATE whatsapp_messages SET type = coalesce(?2, type), message_text = ?3, "
                  "media_id = ?4, media_type = ?5, edited_at = ?6, {} WHERE id = ?7",
                  keep_payload);
  auto q = prepare(store, sql);
  q->bindNoCopy(1, payload);
  bind_ref(*q, 2, r.type);
  bind_ref(*q, 3, r.text);
  bind_ref(*q, 4, media_id);
  bind_ref(*q, 5, media_type);
  q->bindNoCopy(6, r.timestamp);
  q->bind(7, o.id);
  q->exec();
  if (media_id != o.media_id) queue_edited_media(store, tenant, o.id, r.sent, now_ms() / 1000);
}

// A revoke clears what a person would read and the media; the earlier payloads stay.
void apply_revoke(Store& store, const Original& o, const Revision& r, const std::string& payload) {
  static const std::string sql = fmt::format(
      "UPDATE whatsapp_messages SET revoked_at = ?2, message_text = NULL, media_id = NULL, "
      "media_type = NULL, media_url = NULL, media_state = NULL, media_sha256 = NULL, "
      "media_size = NULL, media_filename = NULL, media_error = NULL, {} WHERE id = ?3",
      keep_payload);
  auto q = prepare(store, sql);
  q->bindNoCopy(1, payload);
  q->bindNoCopy(2, r.timestamp);
  q->bind(3, o.id);
  q->exec();
  drop_media_job(store, o.id);
}

void set_state(Store& store, std::int64_t revision, const char* state) {
  auto q = prepare(store, "UPDATE message_revisions SET state = ? WHERE id = ?");
  q->bind(1, state);
  q->bind(2, revision);
  q->exec();
}

// Applies `r` to its original when that is stored; else it stays pending. A revoked message
// stays revoked, and an edit older than the one applied does not win.
void apply(Store& store, const std::string& tenant, const Revision& r, const std::string& payload,
           const std::string& now, std::vector<std::int64_t>& event_ids) {
  auto original = find_original(store, tenant, r, now, event_ids);
  if (!original) return;
  bool is_edit = r.kind == "edit";
  if (original->revoked || (is_edit && original->edited_at && *original->edited_at > r.timestamp)) {
    set_state(store, r.id, "ignored");
    return;
  }
  if (is_edit) {
    apply_edit(store, tenant, *original, r, payload);
  } else {
    apply_revoke(store, *original, r, payload);
  }
  set_state(store, r.id, "applied");
  event_ids.push_back(
      append_event(store, tenant, is_edit ? event_message_edited : event_message_revoked,
                   find_message_by_local_id(store, tenant, original->id), std::nullopt));
}

} // namespace

bool is_revision(const InboundMessage& m) {
  return m.type == "edit" || m.type == "revoke";
}

bool record_revision(Store& store, const std::string& tenant, const InboundMessage& m,
                     const std::string& now, std::int64_t delivery,
                     std::vector<std::int64_t>& event_ids) {
  Revision r;
  r.original_id = m.original_id.value_or("");
  r.kind = m.type;
  r.phone = m.from;
  r.user_id = m.from_user_id;
  r.sent = m.timestamp > 0 ? m.timestamp : now_ms() / 1000;
  r.timestamp = iso_from_unix(r.sent);
  if (r.kind == "edit") {
    r.type = m.edited_type;
    if (!m.text.empty()) r.text = m.text;
    r.media_type = m.media_type;
    r.media_id = m.media_id;
  }
  auto q = prepare(store, "INSERT INTO message_revisions(tenant_id, message_id, original_id, kind, "
                          "phone_number, user_id, timestamp, type, message_text, media_type, "
                          "media_id, payload, delivery_id) "
                          "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
  q->bindNoCopy(1, tenant);
  q->bindNoCopy(2, m.message_id);
  q->bindNoCopy(3, r.original_id);
  q->bindNoCopy(4, r.kind);
  bind_ref(*q, 5, r.phone);
  bind_ref(*q, 6, r.user_id);
  q->bindNoCopy(7, r.timestamp);
  bind_ref(*q, 8, r.type);
  bind_ref(*q, 9, r.text);
  bind_ref(*q, 10, r.media_type);
  bind_ref(*q, 11, r.media_id);
  q->bindNoCopy(12, m.payload);
  q->bind(13, delivery);
  if (q->exec() == 0) return false;
  r.id = sqlite(store).getLastInsertRowid();
  apply(store, tenant, r, m.payload, now, event_ids);
  return true;
}

void apply_pending_revisions(Store& store, const std::string& tenant, const std::string& wamid,
                             const std::string& now, std::vector<std::int64_t>& event_ids) {
  std::vector<std::pair<Revision, std::string>> pending;
  {
    auto q = prepare(store, "SELECT id, kind, phone_number, user_id, timestamp, type, "
                            "message_text, media_type, media_id, payload, "
                            "CAST(strftime('%s', timestamp) AS INTEGER) FROM message_revisions "
                            "WHERE tenant_id = ? AND original_id = ? AND state = 'pending' "
                            "ORDER BY timestamp, id");
    q->bindNoCopy(1, tenant);
    q->bindNoCopy(2, wamid);
    while (q->executeStep()) {
      Revision r;
      r.id = q->getColumn(0).getInt64();
      r.original_id = wamid;
      r.kind = q->getColumn(1).getString();
      r.phone = opt_text(q->getColumn(2));
      r.user_id = opt_text(q->getColumn(3));
      r.timestamp = q->getColumn(4).getString();
      r.type = opt_text(q->getColumn(5));
      r.text = opt_text(q->getColumn(6));
      r.media_type = opt_text(q->getColumn(7));
      r.media_id = opt_text(q->getColumn(8));
      r.sent = q->getColumn(10).getInt64();
      pending.emplace_back(std::move(r), q->getColumn(9).getString());
    }
  }
  for (const auto& [r, payload] : pending) apply(store, tenant, r, payload, now, event_ids);
}

} // namespace wabactl
