// The hook tables: hooks (with sealed secrets and their cursors into the event log) and
// their deliveries (hooks.hpp, hook_queue.hpp).
#include "wabactl/hooks.hpp"
#include "store/sql.hpp"
#include "wabactl/error.hpp"
#include "wabactl/hook_queue.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/secrets.hpp"
#include "wabactl/store.hpp"
#include "wabactl/util.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <set>

namespace wabactl {
namespace {

using nlohmann::json;

constexpr const char* hook_columns =
    "id, tenant_id, url, events, state, allow_private, created_at, cursor";

Hook row_to_hook(SQLite::Statement& q) {
  Hook h;
  h.id = q.getColumn(0).getString();
  h.tenant_id = q.getColumn(1).getString();
  h.url = q.getColumn(2).getString();
  // Written by this module from a checked list; a damaged row takes no events.
  json events = json::parse(q.getColumn(3).getString(), nullptr, false);
  if (events.is_array()) {
    for (const auto& e : events) {
      if (e.is_string()) h.events.push_back(e.get<std::string>());
    }
  }
  h.state = q.getColumn(4).getString() == "disabled" ? HookState::disabled : HookState::active;
  h.allow_private = q.getColumn(5).getInt() != 0;
  h.created_at = q.getColumn(6).getString();
  return h;
}

std::string secret_field(const std::string& hook_id) {
  return "hook_secret:" + hook_id;
}

std::string new_hook_id() {
  unsigned char raw[6];
  randombytes_buf(raw, sizeof raw);
  return "hk_" + to_hex(raw, sizeof raw);
}

std::string new_secret() {
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  std::string b64(sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
  sodium_memzero(raw, sizeof raw);
  b64.resize(std::char_traits<char>::length(b64.c_str()));
  return "whsec_" + b64;
}

std::string iso_ms(std::int64_t ms) {
  return iso_from_unix(ms / 1000);
}

DeliveryState delivery_state(const std::string& s) {
  if (s == "acknowledged") return DeliveryState::acknowledged;
  if (s == "failed") return DeliveryState::failed;
  return DeliveryState::pending;
}

// Makes the oldest pending delivery of the lane due now, unless one of it is due already
// (a head that is scheduled).
void promote_lane(Store& store, const std::string& hook_id, const std::string& lane,
                  std::int64_t now_ms) {
  auto q = prepare(store, "UPDATE hook_deliveries SET next_attempt_at = ? "
                          "WHERE hook_id = ? AND event_id = (SELECT event_id FROM hook_deliveries "
                          "WHERE hook_id = ? AND lane = ? AND state = 'pending' "
                          "ORDER BY event_id LIMIT 1) AND next_attempt_at IS NULL");
  q->bind(1, static_cast<std::int64_t>(now_ms));
  q->bindNoCopy(2, hook_id);
  q->bindNoCopy(3, hook_id);
  q->bindNoCopy(4, lane);
  q->exec();
}

} // namespace

json to_json(const Hook& hook) {
  return {{"id", hook.id},
          {"url", hook.url},
          {"events", hook.events},
          {"state", hook.state == HookState::active ? "active" : "disabled"},
          {"allow_private", hook.allow_private},
          {"created_at", hook.created_at}};
}

const char* to_string(DeliveryState state) {
  switch (state) {
  case DeliveryState::pending:
    return "pending";
  case DeliveryState::acknowledged:
    return "acknowledged";
  case DeliveryState::failed:
    return "failed";
  }
  return "pending";
}

json to_json(const HookDelivery& d) {
  return {{"event_id", d.event_id},
          {"type", d.type},
          {"state", to_string(d.state)},
          {"attempts", d.attempts},
          {"last_status", d.last_status ? json(*d.last_status) : json(nullptr)},
          {"last_error", d.last_error ? json(*d.last_error) : json(nullptr)},
          {"next_attempt_at", d.next_attempt_at ? json(*d.next_attempt_at) : json(nullptr)}};
}

NewHook add_hook(Store& store, const MasterKey& key, const std::string& tenant,
                 const std::string& url, const std::vector<std::string>& events,
                 bool allow_private) {
  return translated([&] {
    NewHook out;
    out.secret = new_secret();
    store.transaction([&] {
      auto count = prepare(store, "SELECT count(*) FROM hooks WHERE tenant_id = ?");
      count->bind(1, tenant);
      count->executeStep();
      if (static_cast<std::size_t>(count->getColumn(0).getInt64()) >= max_hooks_per_tenant) {
        throw Error(Exit::exists,
                    fmt::format("tenant '{}' has {} hooks already, the most it may have", tenant,
                                max_hooks_per_tenant),
                    "remove one with 'wabactl hook remove'");
      }
      Hook& h = out.hook;
      h.id = new_hook_id();
      h.tenant_id = tenant;
      h.url = url;
      h.events = events;
      h.allow_private = allow_private;
      h.created_at = now_iso();
      auto sealed = seal(key, out.secret, tenant, secret_field(h.id));
      auto q = prepare(store, "INSERT INTO hooks(id, tenant_id, url, events, allow_private, "
                              "secret, cursor, created_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
      q->bind(1, h.id);
      q->bind(2, tenant);
      q->bind(3, url);
      q->bind(4, json(events).dump());
      q->bind(5, allow_private ? 1 : 0);
      q->bind(6, sealed.data(), static_cast<int>(sealed.size()));
      q->bind(7, static_cast<std::int64_t>(last_event_id(store)));
      q->bind(8, h.created_at);
      q->exec();
    });
    return out;
  });
}

std::vector<Hook> list_hooks(Store& store, const std::string& tenant) {
  return translated([&] {
    auto q = prepare(store, fmt::format("SELECT {} FROM hooks WHERE tenant_id = ? "
                                        "ORDER BY created_at, id",
                                        hook_columns));
    q->bind(1, tenant);
    std::vector<Hook> out;
    while (q->executeStep()) out.push_back(row_to_hook(*q));
    return out;
  });
}

std::optional<Hook> find_hook(Store& store, const std::string& tenant, const std::string& id) {
  return translated([&]() -> std::optional<Hook> {
    auto q = prepare(
        store, fmt::format("SELECT {} FROM hooks WHERE tenant_id = ? AND id = ?", hook_columns));
    q->bind(1, tenant);
    q->bind(2, id);
    if (!q->executeStep()) return std::nullopt;
    return row_to_hook(*q);
  });
}

bool remove_hook(Store& store, const std::string& tenant, const std::string& id) {
  return translated([&] {
    bool removed = false;
    store.transaction([&] {
      auto q = prepare(store, "DELETE FROM hooks WHERE tenant_id = ? AND id = ?");
      q->bind(1, tenant);
      q->bind(2, id);
      removed = q->exec() > 0;
    });
    return removed;
  });
}

std::string hook_secret(Store& store, const MasterKey& key, const Hook& hook) {
  return translated([&] {
    auto q = prepare(store, "SELECT secret FROM hooks WHERE id = ? AND tenant_id = ?");
    q->bind(1, hook.id);
    q->bind(2, hook.tenant_id);
    if (!q->executeStep()) {
      throw Error(Exit::not_found, fmt::format("hook '{}' is gone", hook.id));
    }
    return open_sealed(key, blob(q->getColumn(0)), hook.tenant_id, secret_field(hook.id));
  });
}

std::size_t reseal_hook_secrets(Store& store, const MasterKey& old_key, const MasterKey& new_key) {
  return translated([&] {
    std::vector<std::tuple<std::string, std::string, std::vector<unsigned char>>> rows;
    {
      SQLite::Statement q(sqlite(store), "SELECT id, tenant_id, secret FROM hooks");
      while (q.executeStep()) {
        rows.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getString(),
                          blob(q.getColumn(2)));
      }
    }
    SQLite::Statement u(sqlite(store), "UPDATE hooks SET secret = ? WHERE id = ?");
    for (const auto& [id, tenant, sealed] : rows) {
      std::string plain = open_sealed(old_key, sealed, tenant, secret_field(id));
      auto resealed = seal(new_key, plain, tenant, secret_field(id));
      sodium_memzero(plain.data(), plain.size());
      u.bind(1, resealed.data(), static_cast<int>(resealed.size()));
      u.bind(2, id);
      u.exec();
      u.reset();
    }
    return rows.size();
  });
}

void enable_hook(Store& store, const Hook& hook) {
  translated([&] {
    store.transaction([&] {
      auto q = prepare(store, "UPDATE hooks SET state = 'active', failing_since = NULL "
                              "WHERE id = ? AND tenant_id = ?");
      q->bind(1, hook.id);
      q->bind(2, hook.tenant_id);
      q->exec();
      auto due = prepare(store, "UPDATE hook_deliveries SET next_attempt_at = ? "
                                "WHERE hook_id = ? AND state = 'pending' "
                                "AND next_attempt_at IS NOT NULL");
      due->bind(1, static_cast<std::int64_t>(now_ms()));
      due->bind(2, hook.id);
      due->exec();
    });
  });
}

std::pair<std::int64_t, std::string> append_hook_test_event(Store& store, const Hook& hook) {
  return translated([&] {
    std::pair<std::int64_t, std::string> out;
    store.transaction([&] {
      out.first = append_hook_event(store, hook.tenant_id, event_hook_test, to_json(hook));
      auto q = prepare(store, "SELECT data FROM events WHERE id = ?");
      q->bind(1, static_cast<std::int64_t>(out.first));
      q->executeStep();
      out.second = q->getColumn(0).getString();
    });
    return out;
  });
}

std::vector<HookDelivery> list_hook_deliveries(Store& store, const Hook& hook, bool failed_only,
                                               std::size_t limit) {
  return translated([&] {
    auto q = prepare(
        store, failed_only ? "SELECT event_id, type, state, attempts, last_status, last_error, "
                             "next_attempt_at FROM hook_deliveries WHERE hook_id = ? AND "
                             "state = 'failed' ORDER BY event_id DESC LIMIT ?"
                           : "SELECT event_id, type, state, attempts, last_status, last_error, "
                             "next_attempt_at FROM hook_deliveries WHERE hook_id = ? "
                             "ORDER BY event_id DESC LIMIT ?");
    q->bind(1, hook.id);
    q->bind(2, static_cast<std::int64_t>(limit));
    std::vector<HookDelivery> out;
    while (q->executeStep()) {
      HookDelivery d;
      d.event_id = q->getColumn(0).getInt64();
      d.type = q->getColumn(1).getString();
      d.state = delivery_state(q->getColumn(2).getString());
      d.attempts = q->getColumn(3).getInt();
      if (!q->getColumn(4).isNull()) d.last_status = q->getColumn(4).getInt();
      d.last_error = opt_text(q->getColumn(5));
      if (!q->getColumn(6).isNull()) d.next_attempt_at = iso_ms(q->getColumn(6).getInt64());
      out.push_back(std::move(d));
    }
    return out;
  });
}

std::vector<HookBacklog> hook_backlogs(Store& store) {
  return translated([&] {
    std::int64_t now = now_ms();
    auto q = prepare(store, "SELECT h.id, h.tenant_id, "
                            "(SELECT count(*) FROM hook_deliveries d WHERE d.hook_id = h.id AND "
                            "d.state = 'pending'), "
                            "(SELECT created_at FROM hook_deliveries o WHERE o.hook_id = h.id AND "
                            "o.event_id = (SELECT min(event_id) FROM hook_deliveries p "
                            "INDEXED BY hook_deliveries_lane WHERE p.hook_id = h.id AND "
                            "p.state = 'pending')) FROM hooks h ORDER BY h.id");
    std::vector<HookBacklog> out;
    while (q->executeStep()) {
      HookBacklog b;
      b.hook_id = q->getColumn(0).getString();
      b.tenant_id = q->getColumn(1).getString();
      b.pending = q->getColumn(2).getInt64();
      if (!q->getColumn(3).isNull()) {
        b.oldest_seconds =
            static_cast<double>(std::max<std::int64_t>(0, now - q->getColumn(3).getInt64())) /
            1000.0;
      }
      out.push_back(std::move(b));
    }
    return out;
  });
}

// ---- the forwarder's queue -------------------------------------------------------------

std::chrono::milliseconds hook_retry_delay(int attempts) {
  using std::chrono::milliseconds;
  constexpr std::int64_t cap = 3600 * 1000;
  std::int64_t full = 1000;
  for (int i = 1; i < attempts && full < cap; ++i) full *= 2;
  full = std::min(full, cap);
  std::int64_t half = full / 2;
  return milliseconds(
      half + static_cast<std::int64_t>(randombytes_uniform(static_cast<std::uint32_t>(half + 1))));
}

std::vector<ForwardingHook> forwarding_hooks(Store& store) {
  return translated([&] {
    auto q = prepare(store, fmt::format("SELECT {} FROM hooks WHERE state = 'active' "
                                        "ORDER BY id",
                                        hook_columns));
    std::vector<ForwardingHook> out;
    while (q->executeStep()) {
      ForwardingHook f;
      f.hook = row_to_hook(*q);
      f.cursor = q->getColumn(7).getInt64();
      out.push_back(std::move(f));
    }
    return out;
  });
}

std::string hook_lane(const std::string& event_json) {
  json e = json::parse(event_json, nullptr, false);
  if (!e.is_object()) return {};
  if (auto m = e.find("message"); m != e.end() && m->is_object()) {
    if (auto p = m->find("phone_number"); p != m->end() && p->is_string()) {
      return "p:" + p->get<std::string>();
    }
  }
  if (auto c = e.find("contact"); c != e.end() && c->is_object()) {
    if (auto p = c->find("phone_number"); p != c->end() && p->is_string()) {
      return "p:" + p->get<std::string>();
    }
    if (auto id = c->find("id"); id != c->end() && id->is_string()) {
      return "c:" + id->get<std::string>();
    }
  }
  return {};
}

std::size_t expand_hook(Store& store, ForwardingHook& f, std::size_t limit, std::int64_t now) {
  return translated([&] {
    auto rows = event_rows_after(store, f.hook.tenant_id, f.cursor, limit);
    if (rows.empty()) return std::size_t{0};
    std::set<std::string> takes(f.hook.events.begin(), f.hook.events.end());
    // Lanes with something pending already: a new delivery there waits its turn.
    std::set<std::string> busy;
    for (const auto& r : rows) {
      if (r.type == event_hook_test || takes.count(r.type) == 0) continue;
      std::string lane = hook_lane(r.data);
      bool waits = busy.count(lane) > 0;
      if (!waits) {
        auto pending = prepare(store, "SELECT 1 FROM hook_deliveries WHERE hook_id = ? AND "
                                      "lane = ? AND state = 'pending' LIMIT 1");
        pending->bindNoCopy(1, f.hook.id);
        pending->bindNoCopy(2, lane);
        waits = pending->executeStep();
      }
      auto ins = prepare(store, "INSERT OR IGNORE INTO hook_deliveries(hook_id, event_id, type, "
                                "lane, next_attempt_at, created_at) VALUES(?, ?, ?, ?, ?, ?)");
      ins->bindNoCopy(1, f.hook.id);
      ins->bind(2, static_cast<std::int64_t>(r.id));
      ins->bindNoCopy(3, r.type);
      ins->bindNoCopy(4, lane);
      if (waits) {
        ins->bind(5);
      } else {
        ins->bind(5, static_cast<std::int64_t>(now));
      }
      ins->bind(6, static_cast<std::int64_t>(now));
      ins->exec();
      busy.insert(std::move(lane));
    }
    auto cur = prepare(store, "UPDATE hooks SET cursor = ? WHERE id = ? AND cursor < ?");
    cur->bind(1, static_cast<std::int64_t>(rows.back().id));
    cur->bindNoCopy(2, f.hook.id);
    cur->bind(3, static_cast<std::int64_t>(rows.back().id));
    cur->exec();
    f.cursor = rows.back().id;
    return rows.size();
  });
}

std::vector<DueDelivery> due_deliveries(Store& store, const std::string& hook_id, std::int64_t now,
                                        std::size_t limit) {
  return translated([&] {
    auto q = prepare(store, "SELECT event_id, type, lane, attempts FROM hook_deliveries "
                            "WHERE hook_id = ? AND state = 'pending' "
                            "AND next_attempt_at IS NOT NULL AND next_attempt_at <= ? "
                            "ORDER BY next_attempt_at, event_id LIMIT ?");
    q->bind(1, hook_id);
    q->bind(2, static_cast<std::int64_t>(now));
    q->bind(3, static_cast<std::int64_t>(limit));
    std::vector<DueDelivery> out;
    while (q->executeStep()) {
      DueDelivery d;
      d.hook_id = hook_id;
      d.event_id = q->getColumn(0).getInt64();
      d.type = q->getColumn(1).getString();
      d.lane = q->getColumn(2).getString();
      d.attempts = q->getColumn(3).getInt();
      out.push_back(std::move(d));
    }
    return out;
  });
}

std::optional<std::string> event_json(Store& store, std::int64_t event_id) {
  return translated([&]() -> std::optional<std::string> {
    auto q = prepare(store, "SELECT data FROM events WHERE id = ?");
    q->bind(1, static_cast<std::int64_t>(event_id));
    if (!q->executeStep()) return std::nullopt;
    return q->getColumn(0).getString();
  });
}

RecordedResults record_attempts(Store& store, const std::vector<AttemptResult>& results,
                                std::int64_t now) {
  return translated([&] {
    RecordedResults out;
    const std::int64_t retry_for_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(hook_retry_for).count();
    store.transaction(
        [&] {
          for (const auto& r : results) {
            std::optional<std::int64_t> first;
            {
              auto q = prepare(store, "SELECT first_attempt_at FROM hook_deliveries WHERE "
                                      "hook_id = ? AND event_id = ? AND state = 'pending'");
              q->bindNoCopy(1, r.hook_id);
              q->bind(2, static_cast<std::int64_t>(r.event_id));
              if (!q->executeStep()) continue; // removed, or recorded already
              if (!q->getColumn(0).isNull()) first = q->getColumn(0).getInt64();
            }
            std::int64_t started = first.value_or(r.attempted_ms);
            const char* state = "pending";
            std::optional<std::int64_t> next;
            if (r.acknowledged) {
              state = "acknowledged";
              ++out.acknowledged;
            } else if (now - started >= retry_for_ms) {
              state = "failed";
              ++out.failed;
            } else {
              next = now + hook_retry_delay(r.attempts + 1).count();
              ++out.retried;
            }
            auto u =
                prepare(store, "UPDATE hook_deliveries SET state = ?, attempts = attempts + 1, "
                               "last_status = ?, last_error = ?, next_attempt_at = ?, "
                               "first_attempt_at = ?, finished_at = ? "
                               "WHERE hook_id = ? AND event_id = ?");
            u->bind(1, state);
            bind_opt(*u, 2, r.status);
            bind_ref(*u, 3, r.error);
            bind_opt(*u, 4, next);
            u->bind(5, static_cast<std::int64_t>(started));
            if (next) {
              u->bind(6);
            } else {
              u->bind(6, static_cast<std::int64_t>(now));
            }
            u->bindNoCopy(7, r.hook_id);
            u->bind(8, static_cast<std::int64_t>(r.event_id));
            u->exec();
            if (r.acknowledged) {
              auto h = prepare(store, "UPDATE hooks SET failing_since = NULL WHERE id = ? AND "
                                      "failing_since IS NOT NULL");
              h->bindNoCopy(1, r.hook_id);
              h->exec();
            } else {
              auto h = prepare(store, "UPDATE hooks SET failing_since = ? WHERE id = ? AND "
                                      "failing_since IS NULL");
              h->bind(1, static_cast<std::int64_t>(r.attempted_ms));
              h->bindNoCopy(2, r.hook_id);
              h->exec();
            }
            if (next) continue;
            promote_lane(store, r.hook_id, r.lane, now);
            if (r.acknowledged) continue;
            // Given up: the hook goes when nothing it was sent has been taken for as long.
            auto h = prepare(store, "UPDATE hooks SET state = 'disabled' WHERE id = ? AND "
                                    "state = 'active' AND failing_since <= ? RETURNING tenant_id");
            h->bindNoCopy(1, r.hook_id);
            h->bind(2, static_cast<std::int64_t>(now - retry_for_ms));
            if (!h->executeStep()) continue;
            std::string tenant = h->getColumn(0).getString();
            h->reset();
            if (auto hook = find_hook(store, tenant, r.hook_id)) {
              append_hook_event(store, tenant, event_hook_disabled, to_json(*hook));
              out.disabled.push_back(r.hook_id);
            }
          }
        },
        Durability::normal);
    return out;
  });
}

std::size_t prune_hook_deliveries(Store& store, std::int64_t now, std::size_t limit) {
  return translated([&] {
    std::size_t n = 0;
    store.transaction(
        [&] {
          auto q = prepare(store, "DELETE FROM hook_deliveries WHERE (hook_id, event_id) IN "
                                  "(SELECT hook_id, event_id FROM hook_deliveries "
                                  "WHERE state <> 'pending' AND finished_at < ? LIMIT ?)");
          q->bind(
              1, static_cast<std::int64_t>(
                     now - std::chrono::duration_cast<std::chrono::milliseconds>(hook_delivery_kept)
                               .count()));
          q->bind(2, static_cast<std::int64_t>(limit));
          n = static_cast<std::size_t>(q->exec());
        },
        Durability::normal);
    return n;
  });
}

} // namespace wabactl
