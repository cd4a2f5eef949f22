#include "wabactl/conversations.hpp"

#include "wabactl/contacts.hpp"

#include "store/search.hpp"
#include "store/sql.hpp"
#include "wabactl/error.hpp"
#include "wabactl/identity.hpp"
#include "wabactl/store.hpp"
#include "wabactl/util.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>

namespace wabactl {
namespace {

// The position of a message in its conversation's order.
struct Position {
  std::string timestamp;
  std::int64_t id = 0;
  bool operator<(const Position& o) const {
    return timestamp != o.timestamp ? timestamp < o.timestamp : id < o.id;
  }
};

struct Located {
  std::string conversation;
  Position position;
};

std::optional<Located> locate(Store& store, const std::string& tenant, const std::string& id) {
  auto m = find_message(store, tenant, id);
  if (!m) return std::nullopt;
  SQLite::Statement q(sqlite(store), "SELECT conversation, timestamp FROM whatsapp_messages "
                                     "WHERE tenant_id = ? AND id = ?");
  q.bind(1, tenant);
  q.bind(2, static_cast<std::int64_t>(m->id));
  if (!q.executeStep()) return std::nullopt;
  return Located{q.getColumn(0).getString(), {q.getColumn(1).getString(), m->id}};
}

Error message_not_found(const std::string& tenant, const std::string& id) {
  std::string shown = id.size() > 80 ? id.substr(0, 80) + "…" : id;
  return Error(Exit::not_found, fmt::format("tenant {} has no message '{}'", tenant, shown),
               fmt::format("list its messages with 'wabactl history --tenant {}'", tenant));
}

} // namespace

namespace {

// history() and each_message(): one statement over the messages `query` selects, newest
// first, with `limit` rows at most when it has one.
std::unique_ptr<SQLite::Statement> history_statement(Store& store, const std::string& tenant,
                                                     const HistoryQuery& query,
                                                     std::optional<std::size_t> limit) {
  if (query.peer && query.contact_id) {
    throw Error(Exit::usage, "--phone and --contact exclude each other");
  }
  if (query.before && query.offset > 0) {
    throw Error(Exit::usage, "--before and --offset exclude each other");
  }
  if (query.since && query.until && *query.since > *query.until) {
    throw Error(Exit::usage, fmt::format("the range starts (since {}) after it ends (until {})",
                                         *query.since, *query.until));
  }
  std::optional<std::string> match;
  if (query.search) match = match_expression(store, *query.search);
  std::optional<Position> before;
  if (query.before) {
    auto where = locate(store, tenant, *query.before);
    if (!where) throw message_not_found(tenant, *query.before);
    before = where->position;
  }

  std::optional<std::string> conversation;
  if (query.peer) {
    auto contact = find_contact(store, tenant, *query.peer);
    // No such conversation: a statement that selects nothing keeps one code path.
    conversation = contact ? std::to_string(contact->id) : std::string();
  }
  // A search with few matches reads them from the index and sorts them: `+` keeps every
  // other term from being used as an index. One with many walks the time index in order
  // and keeps the rows whose id the search matched (`+` keeps that term a filter).
  bool by_match = match && few_matches(store, *match);
  const char* u = by_match ? "+" : "";
  std::string sql = fmt::format("SELECT {} WHERE {}m.tenant_id = ?", message_select(), u);
  if (conversation) sql += fmt::format(" AND {}m.conversation = ?", u);
  // The host application's contact id, or the contact id a conversation row shows.
  if (query.contact_id) {
    sql += fmt::format(" AND ({}m.contact_id = ? OR {}m.conversation IN (SELECT CAST(id AS TEXT) "
                       "FROM contacts WHERE tenant_id = m.tenant_id AND (external_id = ? OR "
                       "CAST(id AS TEXT) = ?)))",
                       u, u);
  }
  if (query.direction == Direction::incoming) sql += " AND m.direction = 'incoming'";
  if (query.direction == Direction::outgoing) sql += " AND m.direction = 'outgoing'";
  if (query.since) sql += fmt::format(" AND {}m.timestamp >= ?", u);
  if (query.until) sql += fmt::format(" AND {}m.timestamp <= ?", u);
  if (before) sql += fmt::format(" AND ({}m.timestamp, m.id) < (?, ?)", u);
  if (match) {
    sql += fmt::format(" AND {}m.id IN (SELECT rowid FROM message_search WHERE message_search "
                       "MATCH ?)",
                       by_match ? "" : "+");
  }
  sql += fmt::format(" ORDER BY {0}m.timestamp DESC, {0}m.id DESC LIMIT ? OFFSET ?", u);

  auto q = std::make_unique<SQLite::Statement>(sqlite(store), sql);
  int i = 1;
  q->bind(i++, tenant);
  if (conversation) q->bind(i++, *conversation);
  if (query.contact_id) {
    for (int k = 0; k < 3; ++k) q->bind(i++, *query.contact_id);
  }
  if (query.since) q->bind(i++, *query.since);
  if (query.until) q->bind(i++, *query.until);
  if (before) {
    q->bind(i++, before->timestamp);
    q->bind(i++, static_cast<std::int64_t>(before->id));
  }
  if (match) q->bind(i++, *match);
  q->bind(i++, limit ? static_cast<std::int64_t>(*limit) : std::int64_t{-1});
  q->bind(i++, static_cast<std::int64_t>(std::min<std::size_t>(query.offset, INT64_MAX)));
  return q;
}

} // namespace

std::vector<Message> history(Store& store, const std::string& tenant, const HistoryQuery& query) {
  return translated([&]() -> std::vector<Message> {
    if (query.limit < 1 || query.limit > max_history_limit) {
      throw Error(Exit::usage, fmt::format("--limit must be between 1 and {}", max_history_limit));
    }
    auto q = history_statement(store, tenant, query, query.limit);
    std::vector<Message> page;
    page.reserve(query.limit);
    while (q->executeStep()) page.push_back(row_to_message(*q));
    std::reverse(page.begin(), page.end()); // newest first from the index; printed oldest first
    return page;
  });
}

void each_message(Store& store, const std::string& tenant, const HistoryQuery& query,
                  const std::function<void(const Message&)>& each) {
  translated([&] {
    auto q = history_statement(store, tenant, query, std::nullopt);
    while (q->executeStep()) each(row_to_message(*q));
  });
}

std::optional<std::string> window_expires_at(Store& store, const std::string& tenant,
                                             const Peer& peer) {
  auto contact = find_contact(store, tenant, peer);
  if (!contact) return std::nullopt;
  return translated([&] {
    auto q = prepare(store, "SELECT " + window_closes_sql("?1", "?2"));
    q->bind(1, tenant);
    q->bind(2, std::to_string(contact->id));
    q->executeStep();
    return open_window(opt_text(q->getColumn(0)));
  });
}

namespace {

// A row of unread_by_conversation's or recent_conversations' query (the same columns).
UnreadConversation conversation_row(SQLite::Statement& q) {
  UnreadConversation c;
  c.conversation = q.getColumn(0).getString();
  c.unread = q.getColumn(1).getInt64();
  c.last_message_at = q.getColumn(2).getString();
  c.phone_number = opt_text(q.getColumn(3));
  c.user_id = opt_text(q.getColumn(4));
  c.last_text = opt_text(q.getColumn(5));
  c.contact_name = opt_text(q.getColumn(6));
  c.username = opt_text(q.getColumn(7));
  c.contact_id = q.getColumn(8).getString();
  c.window_expires_at = open_window(opt_text(q.getColumn(9)));
  return c;
}

} // namespace

std::vector<UnreadConversation> unread_by_conversation(Store& store, const std::string& tenant) {
  return translated([&]() -> std::vector<UnreadConversation> {
    // With a single max() aggregate, SQLite takes the bare columns from the row holding the
    // maximum: the newest unread message of each conversation.
    static const std::string sql =
        fmt::format("SELECT u.conversation, u.n, u.last_at, coalesce(c.phone_number, "
                    "u.phone_number), coalesce(c.user_id, u.user_id), u.text, "
                    "coalesce(c.business_name, c.name), c.username, "
                    "coalesce(c.external_id, u.conversation), {} "
                    "FROM (SELECT conversation, count(*) AS n, max(timestamp) AS last_at, "
                    "phone_number, user_id, message_text AS text FROM whatsapp_messages "
                    "WHERE tenant_id = ?1 AND direction = 'incoming' AND read_at IS NULL "
                    "GROUP BY conversation) u LEFT JOIN contacts c ON c.id = u.conversation "
                    "AND c.tenant_id = ?1 ORDER BY u.last_at DESC, u.conversation",
                    window_closes_sql("?1", "u.conversation"));
    SQLite::Statement q(sqlite(store), sql);
    q.bind(1, tenant);
    std::vector<UnreadConversation> out;
    while (q.executeStep()) out.push_back(conversation_row(q));
    return out;
  });
}

std::vector<UnreadConversation> recent_conversations(Store& store, const std::string& tenant,
                                                     std::size_t limit) {
  return translated([&]() -> std::vector<UnreadConversation> {
    if (limit < 1 || limit > max_conversations_limit) {
      throw Error(Exit::usage,
                  fmt::format("'limit' must be from 1 to {}", max_conversations_limit));
    }
    // As above, the bare columns come from each conversation's newest message; the unread
    // count is a probe of the unread index per row shown.
    static const std::string sql = fmt::format(
        "SELECT u.conversation, (SELECT count(*) FROM whatsapp_messages r WHERE r.tenant_id = ?1 "
        "AND r.conversation = u.conversation AND r.direction = 'incoming' AND r.read_at IS NULL), "
        "u.last_at, coalesce(c.phone_number, u.phone_number), coalesce(c.user_id, u.user_id), "
        "u.text, coalesce(c.business_name, c.name), c.username, "
        "coalesce(c.external_id, u.conversation), {} "
        "FROM (SELECT conversation, max(timestamp) AS last_at, phone_number, user_id, "
        "message_text AS text FROM whatsapp_messages WHERE tenant_id = ?1 GROUP BY conversation) u "
        "LEFT JOIN contacts c ON c.id = u.conversation AND c.tenant_id = ?1 "
        "ORDER BY u.last_at DESC, u.conversation LIMIT ?2",
        window_closes_sql("?1", "u.conversation"));
    SQLite::Statement q(sqlite(store), sql);
    q.bind(1, tenant);
    q.bind(2, static_cast<std::int64_t>(limit));
    std::vector<UnreadConversation> out;
    while (q.executeStep()) out.push_back(conversation_row(q));
    return out;
  });
}

nlohmann::json to_json(const UnreadConversation& c) {
  auto opt = [](const std::optional<std::string>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  return {{"contact_id", c.contact_id},
          {"phone_number", opt(c.phone_number)},
          {"user_id", opt(c.user_id)},
          {"username", opt(c.username)},
          {"contact_name", opt(c.contact_name)},
          {"unread", c.unread},
          {"last_message_at", c.last_message_at},
          {"last_text", opt(c.last_text)},
          {"window_expires_at", opt(c.window_expires_at)}};
}

MarkResult mark_read(Store& store, const std::string& tenant, const MarkTarget& target) {
  return translated([&]() -> MarkResult {
    int kinds = (target.message_ids.empty() ? 0 : 1) + (target.peer ? 1 : 0) + (target.all ? 1 : 0);
    if (kinds != 1) {
      throw Error(Exit::usage, "give message ids, --phone or --all (exactly one of them)");
    }
    MarkResult result;
    store.transaction([&] {
      // conversation → the newest position to mark up to (nullopt: the whole conversation).
      std::map<std::string, std::optional<Position>> bounds;
      bool explicit_target = !target.all;
      for (const auto& id : target.message_ids) {
        auto where = locate(store, tenant, id);
        if (!where) throw message_not_found(tenant, id);
        auto [it, inserted] = bounds.emplace(where->conversation, where->position);
        if (!inserted && it->second && *it->second < where->position) it->second = where->position;
      }
      if (target.peer) {
        if (auto contact = find_contact(store, tenant, *target.peer)) {
          bounds.emplace(std::to_string(contact->id), std::nullopt);
        }
      }
      if (target.all) {
        SQLite::Statement q(sqlite(store), "SELECT DISTINCT conversation FROM whatsapp_messages "
                                           "WHERE tenant_id = ? AND direction = 'incoming' AND "
                                           "read_at IS NULL");
        q.bind(1, tenant);
        while (q.executeStep()) bounds.emplace(q.getColumn(0).getString(), std::nullopt);
      }

      std::string now = now_iso();
      for (const auto& [conversation, bound] : bounds) {
        std::string range = bound ? " AND (timestamp, id) <= (?, ?)" : "";
        SQLite::Statement upd(sqlite(store),
                              "UPDATE whatsapp_messages SET read_at = ? WHERE tenant_id = ? AND "
                              "conversation = ? AND direction = 'incoming' AND read_at IS NULL" +
                                  range);
        upd.bind(1, now);
        upd.bind(2, tenant);
        upd.bind(3, conversation);
        if (bound) {
          upd.bind(4, bound->timestamp);
          upd.bind(5, static_cast<std::int64_t>(bound->id));
        }
        std::int64_t marked = upd.exec();

        SQLite::Statement newest(sqlite(store),
                                 "SELECT id, message_id FROM whatsapp_messages WHERE tenant_id = ? "
                                 "AND conversation = ? AND direction = 'incoming'" +
                                     range + " ORDER BY timestamp DESC, id DESC LIMIT 1");
        newest.bind(1, tenant);
        newest.bind(2, conversation);
        if (bound) {
          newest.bind(3, bound->timestamp);
          newest.bind(4, static_cast<std::int64_t>(bound->id));
        }
        MarkedConversation mc{conversation, marked, std::nullopt};
        std::optional<std::int64_t> newest_id;
        if (newest.executeStep()) {
          newest_id = newest.getColumn(0).getInt64();
          mc.receipt_wamid = opt_text(newest.getColumn(1));
        }
        if (marked > 0) {
          std::optional<Message> m;
          if (newest_id) m = find_message_by_local_id(store, tenant, *newest_id);
          append_event(store, tenant, event_unread_changed, m, unread_count(store, tenant));
        }
        result.marked += marked;
        if (marked > 0 || (explicit_target && mc.receipt_wamid)) {
          result.conversations.push_back(std::move(mc));
        }
      }
    });
    return result;
  });
}

MessageStatus message_status(Store& store, const std::string& tenant, const std::string& id) {
  return translated([&]() -> MessageStatus {
    auto m = find_message(store, tenant, id);
    if (!m) throw message_not_found(tenant, id);
    MessageStatus s{*m, {}};
    if (m->message_id) {
      SQLite::Statement q(sqlite(store),
                          "SELECT status, timestamp, error_code, error_title, error_details FROM "
                          "message_statuses WHERE tenant_id = ? AND message_id = ? "
                          "ORDER BY timestamp, id");
      q.bind(1, tenant);
      q.bind(2, *m->message_id);
      while (q.executeStep()) {
        StatusEntry e{q.getColumn(0).getString(), q.getColumn(1).getString(), std::nullopt};
        if (!q.getColumn(2).isNull()) {
          e.error = MessageError{q.getColumn(2).getInt(), q.getColumn(3).getString(),
                                 q.getColumn(4).getString()};
        }
        s.history.push_back(std::move(e));
      }
    }
    return s;
  });
}

nlohmann::json to_json(const MessageStatus& s) {
  nlohmann::json history = nlohmann::json::array();
  for (const auto& e : s.history) {
    nlohmann::json error = nullptr;
    if (e.error) {
      error = {{"code", e.error->code}, {"title", e.error->title}, {"details", e.error->details}};
    }
    history.push_back({{"status", e.status}, {"at", e.at}, {"error", error}});
  }
  return {{"message_id", s.message.message_id ? nlohmann::json(*s.message.message_id)
                                              : nlohmann::json(std::to_string(s.message.id))},
          {"status", s.message.status},
          {"history", history},
          {"message", to_json(s.message)}};
}

} // namespace wabactl
