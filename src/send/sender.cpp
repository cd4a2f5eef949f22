// The outbox and the send itself: claim the row (idempotency), upload, call Meta with
// retries by error class, record the answer.
#include "wabactl/claimant.hpp"
#include "wabactl/config_service.hpp"
#include "wabactl/log.hpp"
#include "wabactl/media.hpp"
#include "wabactl/media_index.hpp"
#include "wabactl/send.hpp"

#include "wabactl/contacts.hpp"
#include "wabactl/store.hpp"
#include "wabactl/tenants.hpp"
#include "wabactl/util.hpp"

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

  Impl(SharedStore& s, SendTarget t, SendPolicy p, Clock& c, RateLimiter* l, RecipientSpacer* sp,
       UploadCache* u)
      : shared(s), target(std::move(t)), policy(std::move(p)), clock(c), limiter(l), spacer(sp),
        uploads(u), client(target.graph, policy.timeouts) {}

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

  // The body addressed as CONTRACT.md §6 says: to the phone when the contact has one (a
  // request may name a username user whose number a webhook has shown since), else to the
  // user id.
  json addressed(const PreparedSend& p, json body) {
    if (p.recipient.phone_number) return body;
    std::lock_guard lock(shared.mu);
    auto contact = find_contact(store(), p.request.tenant, p.recipient);
    if (contact && contact->phone_number) {
      body.erase("recipient");
      body["to"] = *contact->phone_number;
    }
    return body;
  }

  OutboxEntry entry(const PreparedSend& p, const json& body,
                    const std::optional<std::string>& reply_to) {
    const SendRequest& r = p.request;
    OutboxEntry e;
    e.tenant = r.tenant;
    e.contact_id = r.contact_id;
    e.phone_number = p.recipient.phone_number;
    if (!e.phone_number && body.contains("to")) e.phone_number = body["to"].get<std::string>();
    e.user_id = p.recipient.user_id;
    e.type = p.type;
    e.text = p.display_text;
    e.media_url = p.media_link;
    if (p.upload) e.media_type = p.upload->mime_type;
    if (r.content.kind == ContentKind::templated) e.template_name = r.content.template_name;
    e.reply_to = reply_to;
    e.callback_data = r.callback_data;
    e.request = dump(body);
    e.idempotency_key = r.idempotency_key;
    return e;
  }

  std::vector<OutboxClaim> claim_many(const std::vector<const PreparedSend*>& sends) {
    std::vector<OutboxEntry> entries;
    entries.reserve(sends.size());
    for (const PreparedSend* p : sends) {
      if (p->request.tenant != target.config.tenant_id) {
        throw Error(Exit::internal, "a sender was used for another tenant");
      }
      entries.push_back(entry(*p, addressed(*p, p->body), std::nullopt));
    }
    std::lock_guard lock(shared.mu);
    return claim_sends(store(), entries);
  }

  OutboxClaim claim(const PreparedSend& p, const json& body,
                    const std::optional<std::string>& reply_to) {
    std::lock_guard lock(shared.mu);
    return claim_sends(store(), {entry(p, body, reply_to)}).front();
  }

  void mark_sending(const std::string& tenant, std::int64_t id) {
    std::lock_guard lock(shared.mu);
    wabactl::mark_sending(store(), tenant, id);
  }

  Message load(const std::string& tenant, std::int64_t id) {
    auto m = find_message_by_local_id(store(), tenant, id);
    if (!m) throw Error(Exit::internal, fmt::format("outbox message {} vanished", id));
    return *m;
  }

  // A local file's bytes, kept like received media so the chat shows what was sent: the
  // bytes uploaded when there are any, else the file (an upload the cache made for the same
  // unchanged file). Keeping them never fails the send; the message then has no media kept.
  void keep_sent_media(const PreparedSend& p, std::int64_t id, const std::string* uploaded) {
    const std::string& tenant = p.request.tenant;
    try {
      StoredMedia kept;
      if (uploaded != nullptr) {
        IncomingMedia incoming(store());
        incoming.write(uploaded->data(), uploaded->size());
        kept = incoming.keep();
      } else {
        kept = keep_media_copy(store(), p.upload->path);
      }
      std::lock_guard lock(shared.mu);
      record_kept_media(store(), tenant, id, kept,
                        p.request.content.filename.value_or(p.upload->path.filename().string()));
    } catch (const Error& e) {
      LOG_WARN("tenant {}: the bytes of message {} were sent but not kept: {}", tenant, id,
               e.what());
    }
  }

  Message record_sent(const std::string& tenant, std::int64_t id, const std::string& wamid,
                      const json& body, const std::optional<std::string>& media_id) {
    std::lock_guard lock(shared.mu);
    Message m = record_answer(store(), tenant, id, wamid, dump(body), media_id);
    if (target.config.needs_reauth && !reauth_cleared) {
      set_needs_reauth(store(), tenant, false);
      reauth_cleared = true;
    }
    return m;
  }

  Message record_failure(const std::string& tenant, std::int64_t id, bool retryable,
                         const std::optional<MetaError>& e, const std::string& fallback_title) {
    SendFailure why;
    if (e) {
      why.code = e->code;
      why.title = e->title;
      why.details = e->details;
      if (!e->fbtrace_id.empty()) why.fbtrace_id = e->fbtrace_id;
    } else {
      why.title = fallback_title;
    }
    std::lock_guard lock(shared.mu);
    return wabactl::record_failure(store(), tenant, id, retryable, why);
  }

  Message record_unknown(const std::string& tenant, std::int64_t id, const std::string& why) {
    std::lock_guard lock(shared.mu);
    return wabactl::record_unknown(store(), tenant, id, why);
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
      std::string cutoff = iso_from_unix(now_ms() / 1000 - unknowable_claim_seconds);
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
    o.message = record_failure(tenant, id, true, std::nullopt, o.error);
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
      o.message = record_failure(tenant, id, true, std::nullopt, "network error: " + why);
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
      o.message = record_failure(tenant, id, true, e, {});
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
      o.message = record_failure(tenant, id, true, e, {});
      o.error = fmt::format("{} was refused for now: {}", what, describe(e));
      o.hint = advice;
      return o;
    case ErrorClass::retry:
      o.exit = Exit::tempfail;
      o.message = record_failure(tenant, id, true, e, {});
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
    o.message = record_failure(tenant, id, false, e, {});
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
        o.message = record_failure(tenant, id, true, std::nullopt, e.what());
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
        o.message =
            record_failure(tenant, id, true, std::nullopt, "the media upload answer has no id");
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
      keep_sent_media(p, id, &parts.back().value);
    } else if (p.upload) {
      keep_sent_media(p, id, nullptr);
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
  json body = impl_->addressed(p, p.body);
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
  json body = impl_->addressed(p, p.body);
  if (!claim.owned) return impl_->wait_for_owner(p, body, std::nullopt, claim);
  return impl_->owned_send(p, body, claim.id);
}

void Sender::release(const PreparedSend& p, const OutboxClaim& claim, const std::string& why) {
  if (claim.owned) impl_->record_failure(p.request.tenant, claim.id, true, std::nullopt, why);
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
