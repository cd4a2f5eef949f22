#include "wabactl/outbox.hpp"

#include "store/contacts.hpp"
#include "store/sql.hpp"
#include "wabactl/claimant.hpp"
#include "wabactl/error.hpp"
#include "wabactl/store.hpp"
#include "wabactl/tenants.hpp"
#include "wabactl/util.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

namespace wabactl {
namespace {

// Binds the columns an entry sets, from parameter `first` on, in the order of the INSERT
// and the UPDATE below; returns the next parameter's number.
int bind_entry(SQLite::Statement& q, int first, const OutboxEntry& e, const ContactRef& contact,
               const std::string& now) {
  int i = first;
  bind_opt(q, i++, e.contact_id);
  bind_opt(q, i++, e.phone_number);
  bind_opt(q, i++, e.user_id);
  q.bind(i++, contact.conversation);
  q.bind(i++, e.type);
  bind_opt(q, i++, e.text);
  bind_opt(q, i++, e.media_url);
  bind_opt(q, i++, e.media_type);
  bind_opt(q, i++, e.template_name);
  bind_opt(q, i++, e.reply_to);
  q.bind(i++, now);
  bind_opt(q, i++, e.callback_data);
  q.bind(i++, e.request);
  q.bind(i++, e.request);
  return i;
}

// Inserts the outbox row, or finds the earlier row with the same idempotency key (the
// UNIQUE index decides between racing processes). Runs inside a transaction.
OutboxClaim claim_one(Store& store, const OutboxEntry& e, const std::string& now) {
  OutboxClaim c;
  // The recipient's conversation: the contact a webhook from them finds too.
  std::vector<std::int64_t> events;
  ContactRef contact = note_contact(
      store, e.tenant, {e.phone_number, e.user_id, std::nullopt, std::nullopt}, now, events);
  if (e.contact_id) name_external_id(store, contact, *e.contact_id);
  SQLite::Statement ins(
      sqlite(store),
      "INSERT INTO whatsapp_messages(contact_id, phone_number, user_id, conversation, type, "
      "message_text, media_url, media_type, template_name, reply_to, timestamp, "
      "callback_data, request, payload, tenant_id, direction, status, status_rank, "
      "created_at, idempotency_key, send_state, claimed_by, source) "
      "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,'outgoing','queued',0,?,?,'pending',?,'api') "
      "ON CONFLICT DO NOTHING");
  int i = bind_entry(ins, 1, e, contact, now);
  ins.bind(i++, e.tenant);
  ins.bind(i++, now);
  bind_opt(ins, i++, e.idempotency_key);
  ins.bind(i, outbox_claimant());
  if (ins.exec() == 1) {
    c.id = sqlite(store).getLastInsertRowid();
    c.owned = true;
    return c;
  }
  SQLite::Statement q(sqlite(store),
                      "SELECT id, send_state, timestamp, claimed_by FROM whatsapp_messages "
                      "WHERE tenant_id = ? AND idempotency_key = ?");
  q.bind(1, e.tenant);
  q.bind(2, *e.idempotency_key);
  if (!q.executeStep()) throw Error(Exit::internal, "the outbox row vanished during its claim");
  c.id = q.getColumn(0).getInt64();
  c.state = q.getColumn(1).isNull() ? "sent" : q.getColumn(1).getString();
  c.timestamp = q.getColumn(2).getString();
  c.holder = q.getColumn(3).isNull() ? "" : q.getColumn(3).getString();
  bool in_progress = c.state == "pending" || c.state == "sending";
  bool dead = in_progress && !c.holder.empty() && !claimant_alive(c.holder);
  if (dead && (c.state == "sending" || !claimant_this_boot(c.holder))) {
    // Its process ended while the request was out, or before a reboot (which may have
    // undone the unsynced mark 'sending'): whether Meta has it, nobody knows.
    SQLite::Statement unk(sqlite(store),
                          "UPDATE whatsapp_messages SET send_state='unknown', error_title=? "
                          "WHERE id=? AND send_state=? AND claimed_by=?");
    unk.bind(1, "outcome unknown: the process sending it ended before Meta answered");
    unk.bind(2, c.id);
    unk.bind(3, c.state);
    unk.bind(4, c.holder);
    unk.exec();
    c.state = "unknown";
    return c;
  }
  // Nothing was delivered (Meta refused it, it failed on the way, or its process ended
  // before the request left): this run sends it, with the content it was asked for now.
  if (!(c.state == "retryable" || c.state == "failed" || dead)) return c;
  SQLite::Statement upd(
      sqlite(store),
      "UPDATE whatsapp_messages SET contact_id=?, phone_number=?, user_id=?, conversation=?, "
      "type=?, message_text=?, media_url=?, media_type=?, template_name=?, reply_to=?, "
      "timestamp=?, callback_data=?, request=?, payload=?, status='queued', status_rank=0, "
      "send_state='pending', error_code=NULL, error_title=NULL, error_details=NULL, "
      "fbtrace_id=NULL, claimed_by=? WHERE id=? AND tenant_id=? AND send_state=? AND "
      "claimed_by IS ?");
  i = bind_entry(upd, 1, e, contact, now);
  upd.bind(i++, outbox_claimant());
  upd.bind(i++, c.id);
  upd.bind(i++, e.tenant);
  upd.bind(i++, c.state);
  bind_opt(upd, i, c.holder.empty() ? std::nullopt : std::optional<std::string>(c.holder));
  c.owned = upd.exec() == 1;
  return c;
}

Message load(Store& store, const std::string& tenant, std::int64_t id) {
  auto m = find_message_by_local_id(store, tenant, id);
  if (!m) throw Error(Exit::internal, fmt::format("outbox message {} vanished", id));
  return *m;
}

// The most advanced status a webhook recorded for `wamid` before Meta's answer to the send
// came, applied to the message when it is beyond 'sent'.
void apply_early_status(Store& store, const std::string& tenant, std::int64_t id,
                        const std::string& wamid) {
  SQLite::Statement early(sqlite(store),
                          "SELECT status, error_code, error_title, error_details FROM "
                          "message_statuses WHERE tenant_id=? AND message_id=?");
  early.bind(1, tenant);
  early.bind(2, wamid);
  std::string best;
  std::optional<int> code;
  std::string title, details;
  while (early.executeStep()) {
    std::string s = early.getColumn(0).getString();
    if (status_rank(s) > status_rank(best.empty() ? "sent" : best)) {
      best = s;
      code = early.getColumn(1).isNull() ? std::nullopt
                                         : std::optional<int>(early.getColumn(1).getInt());
      title = early.getColumn(2).isNull() ? "" : early.getColumn(2).getString();
      details = early.getColumn(3).isNull() ? "" : early.getColumn(3).getString();
    }
  }
  if (best.empty()) return;
  SQLite::Statement st(sqlite(store),
                       "UPDATE whatsapp_messages SET status=?, status_rank=?, error_code=?, "
                       "error_title=?, error_details=? WHERE id=? AND status_rank < ?");
  st.bind(1, best);
  st.bind(2, status_rank(best));
  if (code) {
    st.bind(3, *code);
    st.bind(4, title);
    st.bind(5, details);
  } else {
    st.bind(3);
    st.bind(4);
    st.bind(5);
  }
  st.bind(6, id);
  st.bind(7, status_rank(best));
  st.exec();
}

} // namespace

std::vector<OutboxClaim> claim_sends(Store& store, const std::vector<OutboxEntry>& entries) {
  return translated([&] {
    std::vector<OutboxClaim> out;
    out.reserve(entries.size());
    store.transaction([&] {
      out.clear();
      std::string now = now_iso();
      for (const OutboxEntry& e : entries) out.push_back(claim_one(store, e, now));
    });
    return out;
  });
}

void mark_sending(Store& store, const std::string& tenant, std::int64_t id) {
  store.transaction(
      [&] {
        auto upd = prepare(store, "UPDATE whatsapp_messages SET send_state='sending' WHERE id=? "
                                  "AND tenant_id=? AND send_state='pending'");
        upd->bind(1, id);
        upd->bindNoCopy(2, tenant);
        upd->exec();
      },
      Durability::normal);
}

Message record_answer(Store& store, const std::string& tenant, std::int64_t id,
                      const std::string& wamid, const std::string& request,
                      const std::optional<std::string>& media_id) {
  Message m;
  store.transaction(
      [&] {
        SQLite::Statement upd(sqlite(store),
                              "UPDATE whatsapp_messages SET message_id=?, status='sent', "
                              "status_rank=1, send_state='sent', request=?, payload=?, "
                              "media_id=coalesce(?, media_id), error_code=NULL, error_title=NULL, "
                              "error_details=NULL, fbtrace_id=NULL WHERE id=? AND tenant_id=?");
        upd.bind(1, wamid);
        upd.bind(2, request);
        upd.bind(3, request);
        bind_opt(upd, 4, media_id);
        upd.bind(5, id);
        upd.bind(6, tenant);
        upd.exec();
        // A status webhook can beat Meta's answer to us; the daemon keeps such statuses in
        // message_statuses, so the most advanced one is applied now.
        apply_early_status(store, tenant, id, wamid);
        m = load(store, tenant, id);
        append_event(store, tenant, event_message_sent, m, std::nullopt);
      },
      Durability::normal);
  return m;
}

Message record_failure(Store& store, const std::string& tenant, std::int64_t id, bool retryable,
                       const SendFailure& why) {
  Message m;
  store.transaction(
      [&] {
        SQLite::Statement upd(sqlite(store),
                              "UPDATE whatsapp_messages SET status='failed', status_rank=5, "
                              "send_state=?, error_code=?, error_title=?, error_details=?, "
                              "fbtrace_id=? WHERE id=? AND tenant_id=?");
        upd.bind(1, retryable ? "retryable" : "failed");
        bind_opt(upd, 2, why.code);
        upd.bind(3, why.title);
        bind_opt(upd, 4, why.details);
        bind_opt(upd, 5, why.fbtrace_id);
        upd.bind(6, id);
        upd.bind(7, tenant);
        upd.exec();
        m = load(store, tenant, id);
      },
      Durability::normal);
  return m;
}

Message record_unknown(Store& store, const std::string& tenant, std::int64_t id,
                       const std::string& why) {
  return translated([&] {
    SQLite::Statement upd(sqlite(store), "UPDATE whatsapp_messages SET send_state='unknown', "
                                         "error_title=? WHERE id=? AND tenant_id=?");
    upd.bind(1, why);
    upd.bind(2, id);
    upd.bind(3, tenant);
    upd.exec();
    return load(store, tenant, id);
  });
}

Message resolve_send(Store& store, const std::string& tenant, const std::string& key,
                     bool delivered) {
  return translated([&]() -> Message {
    require_tenant(store, tenant);
    Message m;
    store.transaction([&] {
      SQLite::Statement q(sqlite(store),
                          "SELECT id, send_state, claimed_by, timestamp FROM whatsapp_messages "
                          "WHERE tenant_id = ? AND idempotency_key = ?");
      q.bind(1, tenant);
      q.bind(2, key);
      if (!q.executeStep()) {
        throw Error(Exit::not_found,
                    fmt::format("no send with idempotency key '{}' for tenant '{}'", key, tenant));
      }
      std::int64_t id = q.getColumn(0).getInt64();
      std::string state = q.getColumn(1).isNull() ? "sent" : q.getColumn(1).getString();
      std::string holder = q.getColumn(2).isNull() ? "" : q.getColumn(2).getString();
      std::string cutoff = iso_from_unix(now_ms() / 1000 - unknowable_claim_seconds);
      bool stale = !claimant_checkable(holder) && q.getColumn(3).getString() < cutoff;
      bool orphaned = (state == "pending" || state == "sending") &&
                      ((!holder.empty() && !claimant_alive(holder)) || stale);
      if (state != "unknown" && !orphaned) {
        bool live = state == "pending" || state == "sending";
        throw Error(Exit::usage,
                    fmt::format("the send with idempotency key '{}' (message {}) {}: there is "
                                "nothing to resolve",
                                key, id,
                                state == "sent" ? "was accepted by Meta"
                                : live          ? "is being sent by a running process"
                                                : "failed, and is sent again by the next run"),
                    "--resolve settles only a send whose outcome is unknown");
      }
      SQLite::Statement upd(
          sqlite(store),
          delivered ? "UPDATE whatsapp_messages SET send_state='sent', claimed_by=NULL, "
                      "status=CASE WHEN status_rank < 1 THEN 'sent' ELSE status END, "
                      "status_rank=max(status_rank, 1), error_code=NULL, error_title=NULL, "
                      "error_details=NULL WHERE id=?"
                    : "UPDATE whatsapp_messages SET send_state='failed', claimed_by=NULL, "
                      "status='failed', status_rank=5, error_code=NULL, error_title='resolved by "
                      "hand: not delivered', error_details=NULL WHERE id=?");
      upd.bind(1, id);
      upd.exec();
      m = *find_message_by_local_id(store, tenant, id);
    });
    return m;
  });
}

} // namespace wabactl
