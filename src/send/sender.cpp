// The outbox and the send itself: claim the row (idempotency), upload, call Meta with
// retries by error class, record the answer.
#include "store/sql.hpp"
#include "wabactl/config_service.hpp"
#include "wabactl/send.hpp"
#include "wabactl/store.hpp"
#include "wabactl/tenants.hpp"
#include "wabactl/util.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <unistd.h>

namespace wabactl {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

// A pending row without a claimant (written before claims named their process) and older
// than this belongs to a process that died mid-send: no send lives that long.
constexpr std::int64_t stale_pending_seconds = 15 * 60;

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

const std::string& boot_id() {
  static const std::string id = first_line("/proc/sys/kernel/random/boot_id");
  return id;
}

// Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. The
// fields after the command name (which may hold spaces and parentheses) start at field 3.
std::string start_time(long pid) {
  std::string stat = first_line(fmt::format("/proc/{}/stat", pid));
  auto close = stat.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) return field;
  }
  return {};
}

// The PID namespace (a container has its own): a pid means something only within it.
const std::string& pid_namespace() {
  static const std::string ns = [] {
    std::error_code ec;
    auto target = std::filesystem::read_symlink("/proc/self/ns/pid", ec);
    return ec ? std::string() : target.string();
  }();
  return ns;
}

struct Claimant {
  std::string boot;
  long pid = 0;
  std::string started;
  std::string pid_namespace;
};

std::optional<Claimant> parse_claimant(const std::string& text) {
  std::istringstream in(text);
  Claimant c;
  if (!(in >> c.boot >> c.pid >> c.started >> c.pid_namespace) || c.pid <= 0) return std::nullopt;
  return c;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The result of one Graph exchange after retries.
struct Exchange {
  // stopped: SendPolicy::stop was set before this attempt left (earlier ones were answered)
  enum class Kind { ok, meta_error, unknown, unreachable, stopped } kind = Kind::ok;
  HttpResult result;
  std::optional<MetaError> error;
  int attempts = 0;
  std::string gave_up; // why retrying stopped early (Retry-After too long)
};

enum class Call { message, upload };

} // namespace

struct Sender::Impl {
  SharedStore& shared;
  SendTarget target;
  SendPolicy policy;
  Clock& clock;
  RateLimiter* limiter;
  RecipientSpacer* spacer;
  UploadCache* uploads;
  GraphClient client;
  std::optional<GraphClient> uploader;
  std::mt19937_64 rng{std::random_device{}()};
  bool reauth_cleared = false;
  bool full_sync = false;

  Impl(SharedStore& s, SendTarget t, SendPolicy p, Clock& c, RateLimiter* l, RecipientSpacer* sp,
       UploadCache* u)
      : shared(s), target(std::move(t)), policy(std::move(p)), clock(c), limiter(l), spacer(sp),
        uploads(u), client(target.graph, policy.timeouts) {
    std::lock_guard lock(shared.mu);
    full_sync = store().db().execAndGet("PRAGMA synchronous").getInt() >= 2;
  }

  Store& store() { return shared.store; }

  // --- outbox -------------------------------------------------------------------------

  std::string resolve_reply_to(const std::string& tenant, const std::string& value) {
    bool local =
        std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!local) return value;
    std::lock_guard lock(shared.mu);
    auto m = find_message(store(), tenant, value);
    if (!m) {
      throw Error(Exit::not_found, fmt::format("no message {} for tenant '{}'", value, tenant),
                  "--reply-to takes a wamid or a local id from 'wabactl history'");
    }
    if (!m->message_id) {
      throw Error(Exit::not_found, fmt::format("message {} has no WhatsApp id yet", value),
                  "reply to a message Meta has accepted");
    }
    return *m->message_id;
  }

  void write_columns(SQLite::Statement& q, int first, const PreparedSend& p, const json& body,
                     const std::optional<std::string>& reply_to, const std::string& now) {
    const SendRequest& r = p.request;
    int i = first;
    bind_opt(q, i++, r.contact_id);
    bind_opt(q, i++, p.recipient.phone);
    bind_opt(q, i++, p.recipient.user_id);
    q.bind(i++, p.recipient.key());
    q.bind(i++, p.type);
    bind_opt(q, i++, p.display_text);
    bind_opt(q, i++, p.media_link);
    bind_opt(q, i++, p.upload ? std::optional<std::string>(p.upload->mime_type) : std::nullopt);
    bind_opt(q, i++,
             r.content.kind == ContentKind::templated
                 ? std::optional<std::string>(r.content.template_name)
                 : std::nullopt);
    bind_opt(q, i++, reply_to);
    q.bind(i++, now);
    bind_opt(q, i++, r.callback_data);
    std::string text = dump(body);
    q.bind(i++, text);
    q.bind(i++, text);
  }

  // Inserts the outbox row, or finds the earlier row with the same idempotency key (the
  // UNIQUE index decides between racing processes). Runs inside a transaction.
  OutboxClaim claim_in_transaction(const PreparedSend& p, const json& body,
                                   const std::optional<std::string>& reply_to,
                                   const std::string& now) {
    OutboxClaim c;
    const SendRequest& r = p.request;
    SQLite::Statement ins(
        store().db(),
        "INSERT INTO whatsapp_messages(contact_id, phone_number, user_id, conversation, type, "
        "message_text, media_url, media_type, template_name, reply_to, timestamp, "
        "callback_data, request, payload, tenant_id, direction, status, status_rank, "
        "created_at, idempotency_key, send_state, claimed_by) "
        "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,'outgoing','queued',0,?,?,'pending',?) "
        "ON CONFLICT DO NOTHING");
    write_columns(ins, 1, p, body, reply_to, now);
    ins.bind(15, r.tenant);
    ins.bind(16, now);
    bind_opt(ins, 17, r.idempotency_key);
    ins.bind(18, outbox_claimant());
    if (ins.exec() == 1) {
      c.id = store().db().getLastInsertRowid();
      c.owned = true;
      return c;
    }
    SQLite::Statement q(store().db(),
                        "SELECT id, send_state, timestamp, claimed_by FROM whatsapp_messages "
                        "WHERE tenant_id = ? AND idempotency_key = ?");
    q.bind(1, r.tenant);
    q.bind(2, *r.idempotency_key);
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
      SQLite::Statement unk(store().db(),
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
        store().db(),
        "UPDATE whatsapp_messages SET contact_id=?, phone_number=?, user_id=?, conversation=?, "
        "type=?, message_text=?, media_url=?, media_type=?, template_name=?, reply_to=?, "
        "timestamp=?, callback_data=?, request=?, payload=?, status='queued', status_rank=0, "
        "send_state='pending', error_code=NULL, error_title=NULL, error_details=NULL, "
        "fbtrace_id=NULL, claimed_by=? WHERE id=? AND tenant_id=? AND send_state=? AND "
        "claimed_by IS ?");
    write_columns(upd, 1, p, body, reply_to, now);
    upd.bind(15, outbox_claimant());
    upd.bind(16, c.id);
    upd.bind(17, r.tenant);
    upd.bind(18, c.state);
    if (c.holder.empty()) {
      upd.bind(19);
    } else {
      upd.bind(19, c.holder);
    }
    c.owned = upd.exec() == 1;
    return c;
  }

  // Claims are committed with the store's own durability (FULL for the CLI): a claim that
  // a power loss could undo would let a re-run send the message twice.
  std::vector<OutboxClaim> claim_many(const std::vector<const PreparedSend*>& sends) {
    std::vector<OutboxClaim> out;
    out.reserve(sends.size());
    std::lock_guard lock(shared.mu);
    store().transaction([&] {
      out.clear();
      std::string now = now_iso();
      for (const PreparedSend* p : sends) {
        if (p->request.tenant != target.config.tenant_id) {
          throw Error(Exit::internal, "a sender was used for another tenant");
        }
        out.push_back(claim_in_transaction(*p, p->body, std::nullopt, now));
      }
    });
    return out;
  }

  OutboxClaim claim(const PreparedSend& p, const json& body,
                    const std::optional<std::string>& reply_to) {
    OutboxClaim c;
    std::lock_guard lock(shared.mu);
    store().transaction([&] { c = claim_in_transaction(p, body, reply_to, now_iso()); });
    return c;
  }

  // Meta's answer may be committed without a sync: if a power loss undoes it, the row stays
  // 'pending' (never re-sent) rather than 'sent'. Saves one fsync per message.
  void relaxed_transaction(const std::function<void()>& fn) {
    if (full_sync) store().db().exec("PRAGMA synchronous = NORMAL");
    try {
      store().transaction(fn);
    } catch (...) {
      if (full_sync) store().db().exec("PRAGMA synchronous = FULL");
      throw;
    }
    if (full_sync) store().db().exec("PRAGMA synchronous = FULL");
  }

  // The request is about to leave: from now on a death of this process leaves its outcome
  // unknown. Unsynced: it must survive this process, not the machine (claims made before a
  // reboot are treated as possibly sent).
  void mark_sending(const std::string& tenant, std::int64_t id) {
    std::lock_guard lock(shared.mu);
    if (full_sync) store().db().exec("PRAGMA synchronous = NORMAL");
    try {
      // One statement: its own transaction, from the store's statement cache.
      auto upd = store().prepare("UPDATE whatsapp_messages SET send_state='sending' WHERE id=? "
                                 "AND tenant_id=? AND send_state='pending'");
      upd->bind(1, id);
      upd->bindNoCopy(2, tenant);
      upd->exec();
    } catch (...) {
      if (full_sync) store().db().exec("PRAGMA synchronous = FULL");
      throw;
    }
    if (full_sync) store().db().exec("PRAGMA synchronous = FULL");
  }

  Message load(const std::string& tenant, std::int64_t id) {
    auto m = find_message_by_local_id(store(), tenant, id);
    if (!m) throw Error(Exit::internal, fmt::format("outbox message {} vanished", id));
    return *m;
  }

  Message record_sent(const std::string& tenant, std::int64_t id, const std::string& wamid,
                      const json& body, const std::optional<std::string>& media_id) {
    std::lock_guard lock(shared.mu);
    Message m;
    relaxed_transaction([&] {
      SQLite::Statement upd(store().db(),
                            "UPDATE whatsapp_messages SET message_id=?, status='sent', "
                            "status_rank=1, send_state='sent', request=?, payload=?, "
                            "media_id=coalesce(?, media_id), error_code=NULL, error_title=NULL, "
                            "error_details=NULL, fbtrace_id=NULL WHERE id=? AND tenant_id=?");
      std::string text = dump(body);
      upd.bind(1, wamid);
      upd.bind(2, text);
      upd.bind(3, text);
      bind_opt(upd, 4, media_id);
      upd.bind(5, id);
      upd.bind(6, tenant);
      upd.exec();
      // A status webhook can beat Meta's answer to us; the daemon keeps such statuses in
      // message_statuses, so the most advanced one is applied now.
      SQLite::Statement early(store().db(),
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
      if (!best.empty()) {
        SQLite::Statement st(store().db(),
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
      m = load(tenant, id);
      append_event(store(), tenant, event_message_sent, m, std::nullopt);
    });
    if (target.config.needs_reauth && !reauth_cleared) {
      set_needs_reauth(store(), tenant, false);
      reauth_cleared = true;
    }
    return m;
  }

  Message record_failure(const std::string& tenant, std::int64_t id, const char* state,
                         const std::optional<MetaError>& e, const std::string& fallback_title) {
    std::lock_guard lock(shared.mu);
    Message m;
    relaxed_transaction([&] {
      SQLite::Statement upd(store().db(),
                            "UPDATE whatsapp_messages SET status='failed', status_rank=5, "
                            "send_state=?, error_code=?, error_title=?, error_details=?, "
                            "fbtrace_id=? WHERE id=? AND tenant_id=?");
      upd.bind(1, state);
      if (e) {
        upd.bind(2, e->code);
        upd.bind(3, e->title);
        upd.bind(4, e->details);
        if (e->fbtrace_id.empty()) {
          upd.bind(5);
        } else {
          upd.bind(5, e->fbtrace_id);
        }
      } else {
        upd.bind(2);
        upd.bind(3, fallback_title);
        upd.bind(4);
        upd.bind(5);
      }
      upd.bind(6, id);
      upd.bind(7, tenant);
      upd.exec();
      m = load(tenant, id);
    });
    return m;
  }

  Message record_unknown(const std::string& tenant, std::int64_t id, const std::string& why) {
    std::lock_guard lock(shared.mu);
    SQLite::Statement upd(store().db(), "UPDATE whatsapp_messages SET send_state='unknown', "
                                        "error_title=? WHERE id=? AND tenant_id=?");
    upd.bind(1, why);
    upd.bind(2, id);
    upd.bind(3, tenant);
    upd.exec();
    return load(tenant, id);
  }

  // --- Graph with retries ---------------------------------------------------------------

  nanoseconds backoff(int retry) {
    auto ceiling = std::min<std::int64_t>(policy.backoff_cap.count(),
                                          policy.backoff_base.count() << std::min(retry - 1, 20));
    // Equal jitter: at least half the step, so no retry goes out at once after a failure.
    ceiling = std::max<std::int64_t>(ceiling, 0);
    std::uniform_int_distribution<std::int64_t> pick((ceiling + 1) / 2, ceiling);
    return milliseconds(pick(rng));
  }

  bool stopping() const { return policy.stop != nullptr && policy.stop->load() != 0; }

  // Sleeps until `t`; with a stop flag, in steps that end early once it is set.
  void pause_until(nanoseconds t) {
    if (policy.stop == nullptr) {
      clock.sleep_until(t);
      return;
    }
    while (!stopping() && clock.now() < t) {
      clock.sleep_until(std::min<nanoseconds>(t, clock.now() + milliseconds(50)));
    }
  }

  Exchange exchange(Call call, const std::string& recipient,
                    const std::function<HttpResult()>& perform) {
    Exchange x;
    for (int attempt = 1; attempt <= policy.max_attempts; ++attempt) {
      RateLimiter::Grant grant;
      if (call == Call::message && limiter != nullptr) grant = limiter->acquire();
      if (stopping()) {
        x.kind = Exchange::Kind::stopped;
        return x;
      }
      x.attempts = attempt;
      x.result = perform();
      grant.finish();
      if (x.result.ok()) {
        x.kind = Exchange::Kind::ok;
        return x;
      }
      nanoseconds delay = backoff(attempt);
      if (x.result.status == 0) {
        // The request may have reached Meta: sending it again could deliver it twice.
        if (call == Call::message && x.result.request_sent) {
          x.kind = Exchange::Kind::unknown;
          return x;
        }
        x.kind = Exchange::Kind::unreachable;
        x.error.reset();
      } else {
        x.kind = Exchange::Kind::meta_error;
        x.error = parse_meta_error(x.result);
        if (classify(*x.error) != ErrorClass::retry) return x;
        if (x.error->code == 131056 && !policy.pair_backoff.empty()) {
          auto idx = std::min<std::size_t>(static_cast<std::size_t>(attempt - 1),
                                           policy.pair_backoff.size() - 1);
          delay = policy.pair_backoff[idx];
          if (spacer != nullptr) spacer->defer(recipient, delay);
        }
      }
      if (attempt == policy.max_attempts) break;
      if (x.result.retry_after_seconds) {
        auto asked = std::chrono::seconds(*x.result.retry_after_seconds);
        if (asked > policy.backoff_cap * 4) {
          x.gave_up = fmt::format("Meta asked to wait {} s before retrying", asked.count());
          return x;
        }
        delay = std::max<nanoseconds>(delay, asked);
      }
      pause_until(clock.now() + delay);
    }
    return x;
  }

  // --- outcomes -------------------------------------------------------------------------

  SendOutcome stored_outcome(const std::string& tenant, const OutboxClaim& c,
                             const std::string& key) {
    SendOutcome o;
    o.duplicate = true;
    {
      std::lock_guard lock(shared.mu);
      o.message = load(tenant, c.id);
    }
    const Message& m = *o.message;
    if (c.state == "sent") return o;
    o.exit = Exit::tempfail;
    o.unknown = true;
    o.error = fmt::format("the outcome of the send with idempotency key '{}' (message {}) is "
                          "unknown: it was not sent again",
                          key, m.id);
    o.hint = resolve_hint(tenant, m.id, key);
    return o;
  }

  static std::string resolve_hint(const std::string& tenant, std::int64_t id,
                                  const std::string& key) {
    return fmt::format("see whether it arrived ('wabactl status --tenant {0} {1}'), then settle "
                       "it: 'wabactl send --tenant {0} --resolve {2} sent' if it did, '... "
                       "--resolve {2} failed' to send it again on the next run",
                       tenant, id, key);
  }

  SendOutcome wait_for_owner(const PreparedSend& p, const json& body,
                             const std::optional<std::string>& reply_to, OutboxClaim c) {
    const std::string& key = *p.request.idempotency_key;
    auto deadline = clock.now() + nanoseconds(policy.owner_wait);
    for (;;) {
      std::string cutoff = iso_from_unix(now_ms() / 1000 - stale_pending_seconds);
      bool in_progress = c.state == "pending" || c.state == "sending";
      if (in_progress && !claimant_checkable(c.holder) && c.timestamp < cutoff) {
        c.state = "unknown";
        return stored_outcome(p.request.tenant, c, key);
      }
      // (A 'retryable' or 'failed' row not owned was just taken over by a racing process.)
      if (c.state == "sent" || c.state == "unknown")
        return stored_outcome(p.request.tenant, c, key);
      if (clock.now() >= deadline || stopping()) {
        SendOutcome o;
        o.exit = Exit::tempfail;
        o.duplicate = true;
        {
          std::lock_guard lock(shared.mu);
          o.message = load(p.request.tenant, c.id);
        }
        o.error = fmt::format("another wabactl process is still sending with idempotency key "
                              "'{}' (message {})",
                              key, c.id);
        o.hint = "run the command again later: it prints that send's result";
        return o;
      }
      pause_until(clock.now() + nanoseconds(policy.owner_poll));
      c = claim(p, body, reply_to);
      if (c.owned) return owned_send(p, body, c.id);
    }
  }

  // Stopped (SendPolicy::stop) before the request left: the next run sends it.
  SendOutcome not_sent(const std::string& tenant, std::int64_t id) {
    SendOutcome o;
    o.exit = Exit::tempfail;
    o.not_sent = true;
    o.error =
        fmt::format("not sent: stopped by signal {} before the request left", policy.stop->load());
    o.message = record_failure(tenant, id, "retryable", std::nullopt, o.error);
    o.hint = "run the same command again to send it";
    return o;
  }

  SendOutcome failure(const std::string& tenant, std::int64_t id, const Exchange& x,
                      const std::string& what) {
    SendOutcome o;
    o.meta_error = x.error;
    if (x.kind == Exchange::Kind::stopped) return not_sent(tenant, id);
    if (x.kind == Exchange::Kind::unreachable) {
      std::string why = x.result.transport_error;
      o.message = record_failure(tenant, id, "retryable", std::nullopt, "network error: " + why);
      o.exit = Exit::tempfail;
      o.error = fmt::format("{} failed after {} attempts: {}", what, x.attempts, why);
      o.hint = "nothing was delivered; it is safe to run the same command again later";
      return o;
    }
    const MetaError& e = *x.error;
    std::string advice = advice_for(e);
    switch (classify(e)) {
    case ErrorClass::credentials:
      o.exit = Exit::credentials;
      o.message = record_failure(tenant, id, "retryable", e, {});
      {
        std::lock_guard lock(shared.mu);
        set_needs_reauth(store(), tenant, true);
      }
      o.error =
          fmt::format("Meta rejected the access token of tenant '{}': {}", tenant, describe(e));
      o.hint = advice.empty() ? "set a new token with 'wabactl config set --access-token-file FILE'"
                              : advice;
      return o;
    case ErrorClass::wait_day:
      o.exit = Exit::tempfail;
      o.message = record_failure(tenant, id, "retryable", e, {});
      o.error = fmt::format("{} was refused for now: {}", what, describe(e));
      o.hint = advice;
      return o;
    case ErrorClass::retry:
      o.exit = Exit::tempfail;
      o.message = record_failure(tenant, id, "retryable", e, {});
      o.error = x.gave_up.empty() ? fmt::format("{} still failed after {} attempts: {}", what,
                                                x.attempts, describe(e))
                                  : fmt::format("{} failed: {}: {}", what, x.gave_up, describe(e));
      o.hint = (advice.empty() ? std::string() : advice + "; ") +
               "nothing was delivered; it is safe to run the same command again later";
      return o;
    case ErrorClass::permanent:
      break;
    }
    o.exit = Exit::rejected;
    o.message = record_failure(tenant, id, "failed", e, {});
    o.error = fmt::format("Meta refused {}: {}", what, describe(e));
    o.hint = advice.empty() ? fmt::format("the error is stored on message {}", id) : advice;
    return o;
  }

  SendOutcome owned_send(const PreparedSend& p, json body, std::int64_t id) {
    const std::string& tenant = p.request.tenant;
    const std::string& who = p.recipient.key();
    if (stopping()) return not_sent(tenant, id);
    std::optional<std::string> media_id;
    // The upload this send makes for the cache's other users: forgotten unless it succeeds.
    struct CacheClaim {
      UploadCache* cache = nullptr;
      std::optional<UploadCache::Key> key;
      ~CacheClaim() {
        if (cache != nullptr && key) cache->forget(*key);
      }
    } cache_claim;
    if (p.upload && uploads != nullptr) {
      // Known before the file is read: a change after this point uploads it again next time.
      auto key = UploadCache::key_of(*p.upload);
      if (key) media_id = uploads->find_or_claim(*key);
      if (key && !media_id) {
        cache_claim.cache = uploads;
        cache_claim.key = key;
      }
      if (media_id) body[p.upload_at]["id"] = *media_id;
    }
    if (p.upload && !media_id) {
      if (stopping()) return not_sent(tenant, id);
      std::string content;
      try {
        content = read_file_limited(p.upload->path, p.upload->size + 1, "the media file");
      } catch (const Error& e) {
        SendOutcome o;
        o.exit = Exit::usage;
        o.message = record_failure(tenant, id, "retryable", std::nullopt, e.what());
        o.error = e.what();
        return o;
      }
      if (!uploader) uploader.emplace(target.graph, policy.upload_timeouts);
      std::vector<FormPart> parts{
          {"messaging_product", "whatsapp", {}, {}},
          {"type", p.upload->mime_type, {}, {}},
          {"file", std::move(content), p.upload->path.filename().string(), p.upload->mime_type}};
      std::string path = target.config.phone_number_id + "/media";
      Exchange up = exchange(Call::upload, who, [&] { return uploader->post_form(path, parts); });
      if (up.kind != Exchange::Kind::ok) {
        return failure(tenant, id, up, fmt::format("the upload of '{}'", p.upload->path.string()));
      }
      auto doc = json::parse(up.result.body, nullptr, false);
      if (!doc.is_object() || !doc.contains("id") || !doc["id"].is_string()) {
        SendOutcome o;
        o.exit = Exit::tempfail;
        o.message = record_failure(tenant, id, "retryable", std::nullopt,
                                   "the media upload answer has no id");
        o.error = "Meta's answer to the media upload has no media id";
        o.hint = "nothing was delivered; try again later";
        return o;
      }
      media_id = doc["id"].get<std::string>();
      body[p.upload_at]["id"] = *media_id;
      if (cache_claim.key) {
        uploads->remember(*cache_claim.key, *media_id);
        cache_claim.key.reset();
      }
    }
    if (spacer != nullptr) pause_until(spacer->reserve(who));
    if (stopping()) return not_sent(tenant, id);
    mark_sending(tenant, id);
    std::string path = target.config.phone_number_id + "/messages";
    Exchange x = exchange(Call::message, who, [&] { return client.post_json(path, body); });
    std::string what = fmt::format("the message to {}", who);
    if (x.kind == Exchange::Kind::unknown) {
      SendOutcome o;
      o.exit = Exit::tempfail;
      o.unknown = true;
      o.message = record_unknown(tenant, id, "outcome unknown: " + x.result.transport_error);
      o.error = fmt::format("the outcome of {} is unknown (message {}): the request left but no "
                            "answer came ({}); it was not retried, to avoid sending it twice",
                            what, id, x.result.transport_error);
      o.hint = p.request.idempotency_key
                   ? resolve_hint(tenant, id, *p.request.idempotency_key)
                   : fmt::format("check whether it arrived ('wabactl status --tenant {} {}') "
                                 "before you send it again",
                                 tenant, id);
      return o;
    }
    if (x.kind != Exchange::Kind::ok) return failure(tenant, id, x, what);
    auto doc = json::parse(x.result.body, nullptr, false);
    std::string wamid;
    if (doc.is_object() && doc.contains("messages") && doc["messages"].is_array() &&
        !doc["messages"].empty() && doc["messages"][0].is_object() &&
        doc["messages"][0].contains("id") && doc["messages"][0]["id"].is_string()) {
      wamid = doc["messages"][0]["id"].get<std::string>();
    }
    if (wamid.empty() || wamid.size() > 512) {
      SendOutcome o;
      o.exit = Exit::tempfail;
      o.unknown = true;
      o.message = record_unknown(tenant, id, "outcome unknown: Meta's answer has no message id");
      o.error = fmt::format("Meta answered HTTP {} for {} without a message id (message {}): its "
                            "outcome is unknown",
                            x.result.status, what, id);
      o.hint =
          fmt::format("check whether it arrived ('wabactl status --tenant {} {}')", tenant, id);
      return o;
    }
    SendOutcome o;
    try {
      o.message = record_sent(tenant, id, wamid, body, media_id);
    } catch (const std::exception& e) {
      // Meta accepted it: the row must not stay 'pending' (it would block every re-run with
      // this key) nor become retryable (that would send it twice).
      o.exit = Exit::internal;
      o.unknown = true;
      o.message = record_unknown(
          tenant, id, fmt::format("accepted by Meta as {} but not recorded: {}", wamid, e.what()));
      o.error = fmt::format("Meta accepted {} as {}, but it could not be recorded: {}", what, wamid,
                            e.what());
      o.hint = "the message was sent: do not send it again; this is a bug, please report it";
    }
    return o;
  }
};

Sender::Sender(SharedStore& store, SendTarget target, SendPolicy policy, Clock& clock,
               RateLimiter* limiter, RecipientSpacer* spacer, UploadCache* uploads)
    : impl_(std::make_unique<Impl>(store, std::move(target), std::move(policy), clock, limiter,
                                   spacer, uploads)) {}
Sender::Sender(Sender&&) noexcept = default;
Sender::~Sender() = default;

SendOutcome Sender::send(const PreparedSend& p) {
  if (p.request.tenant != impl_->target.config.tenant_id) {
    throw Error(Exit::internal, "a sender was used for another tenant");
  }
  json body = p.body;
  std::optional<std::string> reply_to;
  if (p.request.reply_to) {
    reply_to = impl_->resolve_reply_to(p.request.tenant, *p.request.reply_to);
    if (p.request.content.kind == ContentKind::reaction) {
      body["reaction"]["message_id"] = *reply_to;
    } else {
      body["context"]["message_id"] = *reply_to;
    }
  }
  OutboxClaim c = impl_->claim(p, body, reply_to);
  if (!c.owned) return impl_->wait_for_owner(p, body, reply_to, c);
  return impl_->owned_send(p, body, c.id);
}

std::vector<OutboxClaim> Sender::claim(const std::vector<const PreparedSend*>& sends) {
  for (const PreparedSend* p : sends) {
    if (p->request.reply_to) throw Error(Exit::internal, "claim() cannot resolve --reply-to");
  }
  return impl_->claim_many(sends);
}

SendOutcome Sender::send_claimed(const PreparedSend& p, const OutboxClaim& claim) {
  if (!claim.owned) return impl_->wait_for_owner(p, p.body, std::nullopt, claim);
  return impl_->owned_send(p, p.body, claim.id);
}

void Sender::release(const PreparedSend& p, const OutboxClaim& claim, const std::string& why) {
  if (claim.owned)
    impl_->record_failure(p.request.tenant, claim.id, "retryable", std::nullopt, why);
}

const std::string& outbox_claimant() {
  static const std::string me =
      fmt::format("{} {} {} {}", boot_id(), static_cast<long>(::getpid()), start_time(::getpid()),
                  pid_namespace().empty() ? "-" : pid_namespace());
  return me;
}

bool claimant_this_boot(const std::string& claimant) {
  auto c = parse_claimant(claimant);
  return c && !boot_id().empty() && c->boot == boot_id();
}

bool claimant_checkable(const std::string& claimant) {
  auto c = parse_claimant(claimant);
  return c && (!claimant_this_boot(claimant) || c->pid_namespace == pid_namespace());
}

bool claimant_alive(const std::string& claimant) {
  auto c = parse_claimant(claimant);
  if (!c || !claimant_this_boot(claimant)) return false;
  // A process of another PID namespace (container) cannot be looked up from here.
  if (c->pid_namespace != pid_namespace()) return true;
  return start_time(c->pid) == c->started;
}

Message resolve_send(Store& store, const std::string& tenant, const std::string& key,
                     bool delivered) {
  require_tenant(store, tenant);
  Message m;
  store.transaction([&] {
    SQLite::Statement q(store.db(),
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
    std::string cutoff = iso_from_unix(now_ms() / 1000 - stale_pending_seconds);
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
        store.db(),
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
}

std::optional<SendTarget> send_target(Store& store, const std::function<const MasterKey&()>& key,
                                      const std::string& tenant) {
  return send_target(
      store, [&](const Config& config) { return open_secrets(config, key()); }, tenant);
}

std::optional<SendTarget> send_target(Store& store,
                                      const std::function<ConfigSecrets(const Config&)>& open,
                                      const std::string& tenant) {
  require_tenant(store, tenant);
  auto config = find_config(store, tenant);
  if (!config || !config->is_active) return std::nullopt;
  ConfigSecrets secrets = open(*config);
  if (!secrets.access_token) {
    throw Error(Exit::credentials, fmt::format("tenant '{}' has no access token", tenant),
                "set one with 'wabactl config set --access-token-file FILE'");
  }
  return SendTarget{*config, graph_target(*config, secrets)};
}

} // namespace wabactl
