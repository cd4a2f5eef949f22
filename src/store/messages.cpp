#include "wabactl/messages.hpp"

#include "store/sql.hpp"
#include "wabactl/error.hpp"
#include "wabactl/store.hpp"
#include "wabactl/util.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <sqlite3.h>

namespace wabactl {
namespace {

// The highest event id ever given: the log's newest, or the mark remove_tenant() leaves when
// the newest went with a tenant (a running daemon's event hub may have passed it already).
constexpr const char* highest_event_id_sql =
    "SELECT max(coalesce((SELECT max(id) FROM events), 0), coalesce((SELECT CAST(value AS "
    "INTEGER) FROM settings WHERE name = 'events.high_water'), 0))";

nlohmann::json opt_json(const std::optional<std::string>& v) {
  if (!v) return nullptr;
  return *v;
}

// `,"key":` then the value: a JSON string, or null when absent.
void append_field(std::string& out, std::string_view key, const std::optional<std::string>& v) {
  out.append(",\"").append(key).append("\":");
  if (v) {
    append_json_string(out, *v);
  } else {
    out.append("null");
  }
}

void append_field(std::string& out, std::string_view key, const std::string& v) {
  out.append(",\"").append(key).append("\":");
  append_json_string(out, v);
}

nlohmann::json media_json(const std::optional<MessageMedia>& media) {
  if (!media) return nullptr;
  nlohmann::json size = nullptr;
  if (media->size) size = *media->size;
  return {{"id", opt_json(media->id)},
          {"mime_type", opt_json(media->mime_type)},
          {"sha256", opt_json(media->sha256)},
          {"size", size},
          {"filename", opt_json(media->filename)},
          {"state", media->state},
          {"error", opt_json(media->error)}};
}

// Stored JSON text as it is once it is known to parse, else null.
void append_json_text(std::string& out, std::string_view key, const std::string& text) {
  out.append(",\"").append(key).append("\":");
  if (!text.empty() && nlohmann::json::accept(text)) {
    out.append(text);
  } else {
    out.append("null");
  }
}

// What to_json() builds, written directly. nlohmann::json keeps object keys sorted, so the
// fields go in that order; the stored payload is already compact JSON (dump() wrote it) and
// goes in as it is once it is known to parse.
void append_message_json(std::string& out, const Message& m) {
  out.append("{\"contact_id\":");
  if (m.contact_id) {
    append_json_string(out, *m.contact_id);
  } else {
    out.append("null");
  }
  append_field(out, "contact_name", m.contact_name);
  append_field(out, "direction", m.direction);
  append_field(out, "edited_at", m.edited_at);
  out.append(",\"error\":");
  if (m.error) {
    out.append("{\"code\":").append(std::to_string(m.error->code)).append(",\"details\":");
    append_json_string(out, m.error->details);
    out.append(",\"title\":");
    append_json_string(out, m.error->title);
    out.push_back('}');
  } else {
    out.append("null");
  }
  append_field(out, "id", std::to_string(m.id));
  out.append(",\"media\":");
  if (m.media) {
    out.append("{\"error\":");
    if (m.media->error) {
      append_json_string(out, *m.media->error);
    } else {
      out.append("null");
    }
    append_field(out, "filename", m.media->filename);
    append_field(out, "id", m.media->id);
    append_field(out, "mime_type", m.media->mime_type);
    append_field(out, "sha256", m.media->sha256);
    out.append(",\"size\":").append(m.media->size ? std::to_string(*m.media->size) : "null");
    append_field(out, "state", m.media->state);
    out.push_back('}');
  } else {
    out.append("null");
  }
  append_field(out, "media_id", m.media_id);
  append_field(out, "media_type", m.media_type);
  append_field(out, "media_url", m.media_url);
  append_field(out, "message_id", m.message_id);
  append_json_text(out, "payload", m.payload);
  append_json_text(out, "payload_history", m.payload_history);
  append_field(out, "phone_number", m.phone_number);
  append_field(out, "read_at", m.read_at);
  append_field(out, "reply_to", m.reply_to);
  append_field(out, "revoked_at", m.revoked_at);
  append_field(out, "source", m.source);
  append_field(out, "status", m.status);
  append_field(out, "template_name", m.template_name);
  append_field(out, "tenant_id", m.tenant_id);
  append_field(out, "text", m.text);
  append_field(out, "timestamp", m.timestamp);
  append_field(out, "type", m.type);
  append_field(out, "user_id", m.user_id);
  append_field(out, "username", m.username);
  append_field(out, "window_expires_at", m.window_expires_at);
  out.push_back('}');
}

} // namespace

Message row_to_message(SQLite::Statement& q) {
  Message m;
  m.id = q.getColumn(0).getInt64();
  m.tenant_id = q.getColumn(1).getString();
  m.message_id = opt_text(q.getColumn(2));
  m.direction = q.getColumn(3).getString();
  m.status = q.getColumn(4).getString();
  m.phone_number = opt_text(q.getColumn(5));
  m.user_id = opt_text(q.getColumn(6));
  m.contact_id = opt_text(q.getColumn(7));
  m.contact_name = opt_text(q.getColumn(8));
  m.type = q.getColumn(9).getString();
  m.text = opt_text(q.getColumn(10));
  m.media_url = opt_text(q.getColumn(11));
  m.media_type = opt_text(q.getColumn(12));
  m.media_id = opt_text(q.getColumn(13));
  m.template_name = opt_text(q.getColumn(14));
  m.reply_to = opt_text(q.getColumn(15));
  m.timestamp = q.getColumn(16).getString();
  m.read_at = opt_text(q.getColumn(17));
  if (!q.getColumn(18).isNull()) {
    m.error = MessageError{q.getColumn(18).getInt(), q.getColumn(19).getString(),
                           q.getColumn(20).getString()};
  }
  if (!q.getColumn(21).isNull()) m.payload = q.getColumn(21).getString();
  m.username = opt_text(q.getColumn(22));
  m.source = opt_text(q.getColumn(23));
  m.edited_at = opt_text(q.getColumn(24));
  m.revoked_at = opt_text(q.getColumn(25));
  if (!q.getColumn(26).isNull()) m.payload_history = q.getColumn(26).getString();
  if (!q.getColumn(27).isNull()) {
    MessageMedia media;
    media.state = q.getColumn(27).getString();
    media.id = m.media_id;
    media.mime_type = m.media_type;
    media.sha256 = opt_text(q.getColumn(28));
    if (!q.getColumn(29).isNull()) media.size = q.getColumn(29).getInt64();
    media.filename = opt_text(q.getColumn(30));
    media.error = opt_text(q.getColumn(31));
    m.media = std::move(media);
  }
  m.window_expires_at = open_window(opt_text(q.getColumn(32)));
  return m;
}

std::string window_closes_sql(const char* tenant, const char* conversation) {
  return fmt::format("(SELECT strftime('%Y-%m-%dT%H:%M:%SZ', max(w.timestamp), '+1 day') FROM "
                     "whatsapp_messages w WHERE w.tenant_id = {} AND w.conversation = {} AND "
                     "w.direction = 'incoming' AND w.type <> 'system')",
                     tenant, conversation);
}

std::optional<std::string> open_window(std::optional<std::string> closes) {
  if (closes && *closes > now_iso()) return closes;
  return std::nullopt;
}

const char* message_select() {
  static const std::string sql = fmt::format(
      "m.id, m.tenant_id, m.message_id, m.direction, m.status, "
      "coalesce(m.phone_number, c.phone_number), coalesce(m.user_id, c.user_id), "
      "coalesce(m.contact_id, c.external_id), coalesce(c.business_name, c.name), m.type, "
      "m.message_text, m.media_url, "
      "m.media_type, m.media_id, m.template_name, m.reply_to, m.timestamp, m.read_at, "
      "m.error_code, m.error_title, m.error_details, m.payload, c.username, m.source, "
      "m.edited_at, m.revoked_at, m.payload_history, m.media_state, m.media_sha256, "
      "m.media_size, m.media_filename, m.media_error, {} FROM whatsapp_messages m "
      "LEFT JOIN contacts c ON c.id = m.conversation AND c.tenant_id = m.tenant_id",
      window_closes_sql("m.tenant_id", "m.conversation"));
  return sql.c_str();
}

nlohmann::json to_json(const Message& m) {
  nlohmann::json payload = nullptr;
  if (!m.payload.empty()) {
    payload = nlohmann::json::parse(m.payload, nullptr, false);
    if (payload.is_discarded()) payload = nullptr;
  }
  nlohmann::json error = nullptr;
  if (m.error) {
    error = {{"code", m.error->code}, {"title", m.error->title}, {"details", m.error->details}};
  }
  nlohmann::json history = nullptr;
  if (!m.payload_history.empty()) {
    history = nlohmann::json::parse(m.payload_history, nullptr, false);
    if (history.is_discarded()) history = nullptr;
  }
  return {{"id", std::to_string(m.id)},
          {"message_id", opt_json(m.message_id)},
          {"tenant_id", m.tenant_id},
          {"direction", m.direction},
          {"status", m.status},
          {"phone_number", opt_json(m.phone_number)},
          {"user_id", opt_json(m.user_id)},
          {"contact_id", opt_json(m.contact_id)},
          {"contact_name", opt_json(m.contact_name)},
          {"type", m.type},
          {"text", opt_json(m.text)},
          {"media_url", opt_json(m.media_url)},
          {"media_type", opt_json(m.media_type)},
          {"media_id", opt_json(m.media_id)},
          {"template_name", opt_json(m.template_name)},
          {"reply_to", opt_json(m.reply_to)},
          {"timestamp", m.timestamp},
          {"read_at", opt_json(m.read_at)},
          {"error", error},
          {"username", opt_json(m.username)},
          {"source", opt_json(m.source)},
          {"edited_at", opt_json(m.edited_at)},
          {"revoked_at", opt_json(m.revoked_at)},
          {"media", media_json(m.media)},
          {"payload", payload},
          {"payload_history", history},
          {"window_expires_at", opt_json(m.window_expires_at)}};
}

std::string to_json_text(const Message& m) {
  std::string out;
  out.reserve(512 + m.payload.size() + (m.text ? m.text->size() : 0));
  append_message_json(out, m);
  return out;
}

int status_rank(const std::string& status) {
  if (status == "queued") return 0;
  if (status == "sent") return 1;
  if (status == "delivered") return 2;
  if (status == "read") return 3;
  if (status == "played") return 4;
  if (status == "failed" || status == "received") return 5;
  return 0;
}

std::optional<Message> find_message_by_local_id(Store& store, const std::string& tenant,
                                                std::int64_t id) {
  return translated([&]() -> std::optional<Message> {
    static const std::string sql =
        fmt::format("SELECT {} WHERE m.tenant_id = ? AND m.id = ?", message_select());
    auto q = prepare(store, sql);
    q->bindNoCopy(1, tenant);
    q->bind(2, static_cast<std::int64_t>(id));
    if (!q->executeStep()) return std::nullopt;
    return row_to_message(*q);
  });
}

std::optional<Message> find_message(Store& store, const std::string& tenant,
                                    const std::string& id_or_wamid) {
  return translated([&]() -> std::optional<Message> {
    bool digits = !id_or_wamid.empty() && id_or_wamid.size() <= 18;
    for (char c : id_or_wamid) digits = digits && c >= '0' && c <= '9';
    if (digits) return find_message_by_local_id(store, tenant, std::stoll(id_or_wamid));
    if (id_or_wamid.empty() || id_or_wamid.size() > 512) return std::nullopt;
    static const std::string sql =
        fmt::format("SELECT {} WHERE m.tenant_id = ? AND m.message_id = ?", message_select());
    auto q = prepare(store, sql);
    q->bind(1, tenant);
    q->bind(2, id_or_wamid);
    if (!q->executeStep()) return std::nullopt;
    return row_to_message(*q);
  });
}

std::int64_t unread_count(Store& store, const std::string& tenant) {
  return translated([&]() -> std::int64_t {
    auto q = prepare(store, "SELECT count FROM unread_counts WHERE tenant_id = ?");
    q->bindNoCopy(1, tenant);
    return q->executeStep() ? q->getColumn(0).getInt64() : 0;
  });
}

namespace {

// Writes one event: the Event JSON with its keys in nlohmann::json's (sorted) order, like
// every other JSON wabactl writes. `contact`, `tmpl` and `hook` are compact JSON text or empty (no
// such key).
std::int64_t write_event(Store& store, const std::string& tenant, const std::string& type,
                         const std::optional<Message>& message,
                         const std::optional<std::int64_t>& unread, const std::string& contact,
                         const std::string& tmpl = {}, const std::string& hook = {}) {
  if (sqlite3_get_autocommit(sqlite(store).getHandle()) != 0) {
    throw Error(Exit::internal, "events must be appended inside a transaction");
  }
  // The Event JSON carries its own id: one past the highest ever given. The caller's
  // transaction makes it ours (a writer that got there first turns our INSERT into an
  // error, never into a wrong id).
  std::int64_t id = 1;
  {
    auto next = prepare(store, highest_event_id_sql);
    if (next->executeStep()) id = next->getColumn(0).getInt64() + 1;
  }
  std::string at = now_iso();
  std::string data = "{\"at\":";
  append_json_string(data, at);
  if (!contact.empty()) data.append(",\"contact\":").append(contact);
  if (!hook.empty()) data.append(",\"hook\":").append(hook);
  data.append(",\"id\":").append(std::to_string(id)).append(",\"message\":");
  if (message) {
    append_message_json(data, *message);
  } else {
    data.append("null");
  }
  if (!tmpl.empty()) data.append(",\"template\":").append(tmpl);
  data.append(",\"tenant_id\":");
  append_json_string(data, tenant);
  data.append(",\"type\":");
  append_json_string(data, type);
  data.append(",\"unread\":").append(unread ? std::to_string(*unread) : "null").append("}");
  auto ins =
      prepare(store, "INSERT INTO events(id, tenant_id, type, at, data) VALUES(?, ?, ?, ?, ?)");
  ins->bind(1, static_cast<std::int64_t>(id));
  ins->bindNoCopy(2, tenant);
  ins->bindNoCopy(3, type);
  ins->bindNoCopy(4, at);
  ins->bindNoCopy(5, data);
  ins->exec();
  return id;
}

} // namespace

std::int64_t append_event(Store& store, const std::string& tenant, const std::string& type,
                          const std::optional<Message>& message,
                          const std::optional<std::int64_t>& unread) {
  return translated([&] { return write_event(store, tenant, type, message, unread, {}); });
}

std::int64_t append_contact_event(Store& store, const std::string& tenant, const std::string& type,
                                  const nlohmann::json& contact) {
  return translated(
      [&] { return write_event(store, tenant, type, std::nullopt, std::nullopt, contact.dump()); });
}

std::int64_t append_template_event(Store& store, const std::string& tenant,
                                   const nlohmann::json& tmpl) {
  return translated([&] {
    return write_event(store, tenant, event_template_changed, std::nullopt, std::nullopt, {},
                       tmpl.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  });
}

std::int64_t append_hook_event(Store& store, const std::string& tenant, const std::string& type,
                               const nlohmann::json& hook) {
  return translated([&] {
    return write_event(store, tenant, type, std::nullopt, std::nullopt, {}, {},
                       hook.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  });
}

std::vector<EventRow> event_rows_after(Store& store, const std::optional<std::string>& tenant,
                                       std::int64_t after, std::size_t limit) {
  return translated([&]() -> std::vector<EventRow> {
    auto q = prepare(store, tenant ? "SELECT id, type, tenant_id, at, data FROM events "
                                     "WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?"
                                   : "SELECT id, type, tenant_id, at, data FROM events "
                                     "WHERE id > ? ORDER BY id LIMIT ?");
    int i = 1;
    if (tenant) q->bind(i++, *tenant);
    q->bind(i++, static_cast<std::int64_t>(after));
    q->bind(i, static_cast<std::int64_t>(limit));
    std::vector<EventRow> out;
    while (q->executeStep()) {
      EventRow r;
      r.id = q->getColumn(0).getInt64();
      r.type = q->getColumn(1).getString();
      r.tenant_id = q->getColumn(2).getString();
      r.at = q->getColumn(3).getString();
      r.data = q->getColumn(4).getString();
      out.push_back(std::move(r));
    }
    return out;
  });
}

std::int64_t last_event_id(Store& store) {
  return translated([&]() -> std::int64_t {
    auto q = prepare(store, highest_event_id_sql);
    q->executeStep();
    return q->getColumn(0).getInt64();
  });
}

} // namespace wabactl
