#include "wabactl/error.hpp"
#include "wabactl/util.hpp"
#include "wabactl/webhook.hpp"

#include <fmt/format.h>

#include <array>
#include <limits>

namespace wabactl {
namespace {

using nlohmann::json;

constexpr std::size_t max_depth = 64;
constexpr std::size_t max_id = 512;
// Filenames beyond this are not names a person gave a file.
constexpr std::size_t max_filename = 255;
// No media Meta carries is larger than this (documents: 100 MB); larger sizes are noise.
constexpr std::int64_t max_media_size = std::int64_t{1} << 40;
constexpr std::size_t max_number_id = 64;
constexpr std::size_t max_user_id = 128;
// Meta caps a text at 4,096 characters (a caption at 1,024): 16 KiB of UTF-8 at most. An edit
// claiming more is not Meta's and is not applied.
constexpr std::size_t max_edited_text = 16384;
// 9999-12-31T23:59:59Z: later values cannot be written as ISO 8601 with four digits.
constexpr std::int64_t max_timestamp = 253402300799;

// Rejects bodies nested deeper than max_depth before nlohmann parses them: its parser is
// iterative but dump() and our walk are not, and a 3 MiB run of '[' would exhaust the stack.
void check_depth(std::string_view body) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) {
        throw Error(Exit::usage,
                    fmt::format("webhook body nests deeper than {} levels", max_depth));
      }
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
}

// Invalid UTF-8 in a string Meta sent is stored as U+FFFD rather than refused: the archive
// keeps the raw bytes.
std::string payload_text(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

const json* member(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

const json* member_of(const json& obj, const char* key, json::value_t type) {
  const json* v = member(obj, key);
  return v != nullptr && v->type() == type ? v : nullptr;
}

const json* object_at(const json& obj, const char* key) {
  return member_of(obj, key, json::value_t::object);
}

const json* array_at(const json& obj, const char* key) {
  return member_of(obj, key, json::value_t::array);
}

// A string member, nullopt when absent, not a string, empty or longer than `limit`.
std::optional<std::string> text_at(const json& obj, const char* key,
                                   std::size_t limit = std::numeric_limits<std::size_t>::max()) {
  const json* v = member_of(obj, key, json::value_t::string);
  if (v == nullptr) return std::nullopt;
  const auto& s = v->get_ref<const std::string&>();
  if (s.empty() || s.size() > limit) return std::nullopt;
  return s;
}

std::string text_or_empty(const json& obj, const char* key) {
  return text_at(obj, key).value_or("");
}

bool digits_only(const std::string& s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return !s.empty();
}

// Phone digits as Meta writes wa_id/from (no '+'), at most 32.
std::optional<std::string> phone_at(const json& obj, const char* key) {
  auto v = text_at(obj, key, 32);
  if (v && !digits_only(*v)) return std::nullopt;
  return v;
}

// Meta writes unix seconds as a string; numbers are accepted too. 0 when unusable.
std::int64_t timestamp_at(const json& obj, const char* key) {
  const json* v = member(obj, key);
  if (v == nullptr) return 0;
  if (v->is_number_unsigned()) {
    auto n = v->get<std::uint64_t>();
    return n <= static_cast<std::uint64_t>(max_timestamp) ? static_cast<std::int64_t>(n) : 0;
  }
  if (v->is_number_integer()) {
    auto n = v->get<std::int64_t>();
    return n >= 0 && n <= max_timestamp ? n : 0;
  }
  if (!v->is_string()) return 0;
  const auto& s = v->get_ref<const std::string&>();
  if (!digits_only(s) || s.size() > 12) return 0;
  std::int64_t n = std::stoll(s);
  return n <= max_timestamp ? n : 0;
}

std::optional<int> int_at(const json& obj, const char* key) {
  const json* v = member(obj, key);
  if (v == nullptr || !v->is_number_integer()) return std::nullopt;
  if (v->is_number_unsigned()) {
    auto n = v->get<std::uint64_t>();
    if (n > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) return std::nullopt;
    return static_cast<int>(n);
  }
  auto n = v->get<std::int64_t>();
  if (n < std::numeric_limits<int>::min() || n > std::numeric_limits<int>::max()) {
    return std::nullopt;
  }
  return static_cast<int>(n);
}

// A byte count Meta writes as a number or as a string of digits; nullopt when unusable.
std::optional<std::int64_t> size_at(const json& obj, const char* key) {
  const json* v = member(obj, key);
  if (v == nullptr) return std::nullopt;
  if (v->is_number_unsigned()) {
    auto n = v->get<std::uint64_t>();
    if (n > static_cast<std::uint64_t>(max_media_size)) return std::nullopt;
    return static_cast<std::int64_t>(n);
  }
  if (v->is_number_integer()) {
    auto n = v->get<std::int64_t>();
    if (n < 0 || n > max_media_size) return std::nullopt;
    return n;
  }
  if (!v->is_string()) return std::nullopt;
  const auto& s = v->get_ref<const std::string&>();
  if (s.empty() || s.size() > 15 || !digits_only(s)) return std::nullopt;
  std::int64_t n = std::stoll(s);
  return n <= max_media_size ? std::optional<std::int64_t>(n) : std::nullopt;
}

struct FirstError {
  std::optional<int> code;
  std::optional<std::string> title;
  std::optional<std::string> details;
};

FirstError first_error(const json& obj) {
  FirstError e;
  const json* errors = array_at(obj, "errors");
  if (errors == nullptr || errors->empty() || !(*errors)[0].is_object()) return e;
  const json& err = (*errors)[0];
  e.code = int_at(err, "code");
  e.title = text_at(err, "title");
  if (!e.title) e.title = text_at(err, "message");
  if (const json* data = object_at(err, "error_data")) e.details = text_at(*data, "details");
  if (!e.details) e.details = text_at(err, "message");
  return e;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

std::string format_number(const json& v) {
  if (v.is_number_integer()) return v.dump();
  if (v.is_number_float()) return fmt::format("{:.6f}", v.get<double>());
  if (v.is_string()) return v.get<std::string>();
  return "";
}

// What a person would read for `type` (CONTRACT.md §3), from Meta's object for it.
std::string readable_text(const std::string& type, const json& msg) {
  const json* body = object_at(msg, type.c_str());
  const json empty = json::object();
  const json& b = body != nullptr ? *body : empty;
  if (type == "text") return text_or_empty(b, "body");
  if (type == "image" || type == "video" || type == "sticker" || type == "audio") {
    return text_or_empty(b, "caption");
  }
  if (type == "document") {
    auto caption = text_at(b, "caption");
    return caption ? *caption : text_or_empty(b, "filename");
  }
  if (type == "location") {
    std::string named = join({text_or_empty(b, "name"), text_or_empty(b, "address")}, ", ");
    if (!named.empty()) return named;
    const json* lat = member(b, "latitude");
    const json* lon = member(b, "longitude");
    if (lat != nullptr && lon != nullptr) {
      return join({format_number(*lat), format_number(*lon)}, ", ");
    }
    return "";
  }
  if (type == "contacts") {
    std::vector<std::string> names;
    if (const json* cards = array_at(msg, "contacts")) {
      for (const auto& card : *cards) {
        if (const json* name = object_at(card, "name")) {
          auto formatted = text_at(*name, "formatted_name");
          names.push_back(formatted ? *formatted
                                    : join({text_or_empty(*name, "first_name"),
                                            text_or_empty(*name, "last_name")},
                                           " "));
        }
      }
    }
    return join(names, ", ");
  }
  if (type == "interactive") {
    if (const json* r = object_at(b, "button_reply")) return text_or_empty(*r, "title");
    if (const json* r = object_at(b, "list_reply")) return text_or_empty(*r, "title");
    if (const json* r = object_at(b, "nfm_reply")) {
      auto text = text_at(*r, "body");
      return text ? *text : text_or_empty(*r, "name");
    }
    return "";
  }
  if (type == "button") {
    auto text = text_at(b, "text");
    return text ? *text : text_or_empty(b, "payload");
  }
  if (type == "reaction") return text_or_empty(b, "emoji");
  if (type == "order") {
    if (auto text = text_at(b, "text")) return *text;
    std::vector<std::string> items;
    if (const json* list = array_at(b, "product_items")) {
      for (const auto& item : *list) {
        auto id = text_at(item, "product_retailer_id");
        const json* qty = member(item, "quantity");
        if (id) items.push_back(qty != nullptr ? format_number(*qty) + " × " + *id : *id);
      }
    }
    return items.empty() ? "" : "Order: " + join(items, ", ");
  }
  if (type == "system") return text_or_empty(b, "body");
  if (type == "unsupported" || type == "unknown") {
    auto e = first_error(msg);
    return e.details ? *e.details : e.title.value_or("");
  }
  // Types this build does not know: their body or caption when they have one.
  auto text = text_at(b, "body");
  return text ? *text : text_or_empty(b, "caption");
}

bool is_media(const std::string& type) {
  return type == "image" || type == "video" || type == "audio" || type == "document" ||
         type == "sticker";
}

// The kinds of content an edit may carry, for an edit.message that does not name its type.
constexpr std::array<const char*, 9> content_kinds = {"text",     "image",    "video",
                                                      "audio",    "document", "sticker",
                                                      "location", "contacts", "interactive"};

// Fills the original's wamid and, for an edit, the new content. False when the change names
// no original, or an edit brings no content or more text than any message can hold: such a
// change stays in the archive only.
bool parse_revision(const json& msg, InboundMessage& m) {
  const json* change = object_at(msg, m.type.c_str());
  if (change == nullptr) return false;
  m.original_id = text_at(*change, "original_message_id", max_id);
  if (!m.original_id) return false;
  if (m.type == "revoke") return true;
  const json* content = object_at(*change, "message");
  if (content == nullptr) return false;
  m.edited_type = text_at(*content, "type", 64);
  if (!m.edited_type) {
    for (const char* kind : content_kinds) {
      if (member(*content, kind) != nullptr) {
        m.edited_type = kind;
        break;
      }
    }
  }
  if (!m.edited_type || *m.edited_type == "edit" || *m.edited_type == "revoke") return false;
  m.text = readable_text(*m.edited_type, *content);
  if (m.text.size() > max_edited_text) return false;
  if (is_media(*m.edited_type)) {
    if (const json* media = object_at(*content, m.edited_type->c_str())) {
      m.media_id = text_at(*media, "id", max_id);
      m.media_type = text_at(*media, "mime_type", 255);
    }
  }
  return true;
}

std::optional<InboundMessage> parse_message(const json& msg, const std::string& number_id,
                                            const std::vector<ContactSeen>& contacts) {
  if (!msg.is_object()) return std::nullopt;
  InboundMessage m;
  m.phone_number_id = number_id;
  auto id = text_at(msg, "id", max_id);
  auto type = text_at(msg, "type", 64);
  if (!id || !type) return std::nullopt;
  m.message_id = *id;
  m.type = *type;
  m.from = phone_at(msg, "from");
  m.from_user_id = text_at(msg, "from_user_id", max_user_id);
  if (!m.from && !m.from_user_id) return std::nullopt;
  m.timestamp = timestamp_at(msg, "timestamp");
  if (m.type == "edit" || m.type == "revoke") {
    if (!parse_revision(msg, m)) return std::nullopt;
  } else {
    m.text = readable_text(m.type, msg);
  }
  if (is_media(m.type)) {
    if (const json* media = object_at(msg, m.type.c_str())) {
      m.media_id = text_at(*media, "id", max_id);
      m.media_type = text_at(*media, "mime_type", 255);
      if (auto sha = text_at(*media, "sha256", 128)) m.media_sha256 = sha256_hex(*sha);
      m.media_size = size_at(*media, "file_size");
      m.media_filename = text_at(*media, "filename", max_filename);
    }
  }
  if (const json* context = object_at(msg, "context")) {
    m.reply_to = text_at(*context, "id", max_id);
    const json* fwd = member(*context, "forwarded");
    const json* often = member(*context, "frequently_forwarded");
    m.forwarded = (fwd != nullptr && fwd->is_boolean() && fwd->get<bool>()) ||
                  (often != nullptr && often->is_boolean() && often->get<bool>());
  }
  if (m.type == "reaction" && !m.reply_to) {
    if (const json* r = object_at(msg, "reaction")) m.reply_to = text_at(*r, "message_id", max_id);
  }
  for (const auto& c : contacts) {
    bool same = (m.from && c.wa_id == m.from) || (m.from_user_id && c.user_id == m.from_user_id);
    if (!same) continue;
    if (!m.from_user_id) m.from_user_id = c.user_id;
    if (!m.contact_name) m.contact_name = c.name;
    if (!m.username) m.username = c.username;
  }
  if (m.type == "system") {
    if (const json* sys = object_at(msg, "system")) {
      auto kind = text_at(*sys, "type", 64);
      if (kind == "user_changed_number") m.changed_to_phone = phone_at(*sys, "wa_id");
      if (kind == "user_changed_user_id")
        m.changed_to_user_id = text_at(*sys, "user_id", max_user_id);
    }
  }
  m.payload = payload_text(msg);
  return m;
}

std::optional<StatusUpdate> parse_status(const json& st, const std::string& number_id) {
  if (!st.is_object()) return std::nullopt;
  StatusUpdate s;
  s.phone_number_id = number_id;
  auto id = text_at(st, "id", max_id);
  auto status = text_at(st, "status", 64);
  if (!id || !status) return std::nullopt;
  s.message_id = *id;
  s.status = *status;
  s.recipient_id = text_at(st, "recipient_id", max_user_id);
  s.recipient_user_id = text_at(st, "recipient_user_id", max_user_id);
  s.callback_data = text_at(st, "biz_opaque_callback_data");
  s.timestamp = timestamp_at(st, "timestamp");
  auto e = first_error(st);
  s.error_code = e.code;
  s.error_title = e.title;
  s.error_details = e.details;
  s.payload = payload_text(st);
  return s;
}

void parse_messages_value(const json& value, const std::string& number_id, ParsedDelivery& out) {
  std::vector<ContactSeen> contacts;
  if (const json* list = member(value, "contacts")) {
    if (!list->is_array()) {
      ++out.skipped;
    } else {
      for (const auto& c : *list) {
        ContactSeen seen;
        seen.phone_number_id = number_id;
        seen.wa_id = phone_at(c, "wa_id");
        seen.user_id = text_at(c, "user_id", max_user_id);
        if (const json* profile = object_at(c, "profile")) {
          seen.name = text_at(*profile, "name", 512);
          seen.username = text_at(*profile, "username", 512);
        }
        if (!seen.wa_id && !seen.user_id) {
          ++out.skipped;
          continue;
        }
        contacts.push_back(seen);
      }
    }
  }
  if (const json* list = member(value, "messages")) {
    if (!list->is_array()) {
      ++out.skipped;
    } else {
      for (const auto& msg : *list) {
        if (auto m = parse_message(msg, number_id, contacts)) {
          out.messages.push_back(std::move(*m));
        } else {
          ++out.skipped;
        }
      }
    }
  }
  if (const json* list = member(value, "statuses")) {
    if (!list->is_array()) {
      ++out.skipped;
    } else {
      for (const auto& st : *list) {
        if (auto s = parse_status(st, number_id)) {
          out.statuses.push_back(std::move(*s));
        } else {
          ++out.skipped;
        }
      }
    }
  }
  if (const json* list = member(value, "errors")) {
    if (!list->is_array()) {
      ++out.skipped;
    } else {
      for (const auto& e : *list) {
        if (!e.is_object()) {
          ++out.skipped;
          continue;
        }
        json copy = e;
        copy["phone_number_id"] = number_id;
        out.errors.push_back(std::move(copy));
      }
    }
  }
  for (auto& c : contacts) out.contacts.push_back(std::move(c));
}

// Phone digits from a number as people write it ("+1 555-078-3881"); nullopt when it has
// other characters or no digits.
std::optional<std::string> digits_of(const json& obj, const char* key) {
  auto v = text_at(obj, key, 64);
  if (!v) return std::nullopt;
  std::string out;
  for (char c : *v) {
    if (c >= '0' && c <= '9') {
      out.push_back(c);
    } else if (c != '+' && c != ' ' && c != '-' && c != '(' && c != ')' && c != '.') {
      return std::nullopt;
    }
  }
  if (out.empty() || out.size() > 32) return std::nullopt;
  return out;
}

// Each element of value[key], a malformed list or element counted as skipped.
template <typename Fn>
void for_each_in(const json& value, const char* key, ParsedDelivery& out, Fn&& fn) {
  const json* list = member(value, key);
  if (list == nullptr) return;
  if (!list->is_array()) {
    ++out.skipped;
    return;
  }
  for (const auto& item : *list) {
    if (!fn(item)) ++out.skipped;
  }
}

void parse_echoes_value(const json& value, const std::string& number_id, ParsedDelivery& out) {
  for_each_in(value, "message_echoes", out, [&](const json& msg) {
    auto to = phone_at(msg, "to");
    auto m = parse_message(msg, number_id, {});
    if (!to || !m || !m->from) return false;
    out.echoes.push_back({std::move(*m), *to});
    return true;
  });
}

void parse_history_value(const json& value, const std::string& number_id, ParsedDelivery& out) {
  std::optional<std::string> business;
  if (const json* meta = object_at(value, "metadata")) {
    business = digits_of(*meta, "display_phone_number");
  }
  for_each_in(value, "history", out, [&](const json& item) {
    const json* threads = array_at(item, "threads");
    const json* errors = array_at(item, "errors");
    if (threads == nullptr && errors == nullptr) return false;
    HistoryChunk chunk;
    chunk.phone_number_id = number_id;
    chunk.business_number = business;
    if (const json* meta = object_at(item, "metadata")) {
      chunk.phase = int_at(*meta, "phase");
      chunk.chunk_order = int_at(*meta, "chunk_order");
      chunk.progress = int_at(*meta, "progress");
    }
    if (errors != nullptr) {
      auto e = first_error(item);
      chunk.error_code = e.code;
      chunk.error_title = e.title;
    }
    if (threads != nullptr) {
      for (const auto& thread : *threads) {
        if (const json* messages = array_at(thread, "messages")) chunk.messages += messages->size();
      }
    }
    chunk.payload = payload_text(item);
    out.history.push_back(std::move(chunk));
    return true;
  });
}

void parse_state_sync_value(const json& value, const std::string& number_id, ParsedDelivery& out) {
  for_each_in(value, "state_sync", out, [&](const json& item) {
    auto type = text_at(item, "type", 64);
    // Other kinds of state Meta may add stay in the archive; they are not malformed.
    if (type && *type != "contact") return true;
    const json* contact = object_at(item, "contact");
    auto action = text_at(item, "action", 16);
    if (!type || contact == nullptr || !action || (*action != "add" && *action != "remove")) {
      return false;
    }
    auto phone = digits_of(*contact, "phone_number");
    if (!phone) return false;
    ContactSync sync;
    sync.phone_number_id = number_id;
    sync.phone = *phone;
    sync.remove = *action == "remove";
    if (!sync.remove) {
      sync.name = text_at(*contact, "full_name", 512);
      if (!sync.name) sync.name = text_at(*contact, "first_name", 512);
      if (!sync.name) return false;
    }
    if (const json* meta = object_at(item, "metadata")) {
      sync.timestamp = timestamp_at(*meta, "timestamp");
    }
    out.contact_syncs.push_back(std::move(sync));
    return true;
  });
}

// Template changes carry no phone number: the business account is the entry's id. Meta
// writes message_template_id as a number; a string is taken too.
void parse_template_value(const json& value, const std::string& waba_id, bool quality,
                          ParsedDelivery& out) {
  TemplateUpdate u;
  u.waba_id = waba_id;
  if (const json* id = member(value, "message_template_id")) {
    if (id->is_number_unsigned() || id->is_number_integer()) {
      u.template_id = id->dump();
    } else {
      u.template_id = text_at(value, "message_template_id", 64);
    }
  }
  u.name = text_at(value, "message_template_name", 512);
  u.language = text_at(value, "message_template_language", 15);
  if (quality) {
    u.quality = text_at(value, "new_quality_score", 32);
  } else {
    u.status = text_at(value, "event", 32);
  }
  u.reason = text_at(value, "reason", 512);
  bool named = u.template_id || (u.name && u.language);
  if (!named || (!u.status && !u.quality)) {
    ++out.skipped;
    return;
  }
  out.templates.push_back(std::move(u));
}

bool is_placeholder(const InboundMessage& m) {
  return m.type == "media_placeholder" || (is_media(m.type) && !m.media_id);
}

} // namespace

ParsedHistory parse_history_messages(std::string_view chunk,
                                     const std::optional<std::string>& business_number) {
  check_depth(chunk);
  json doc = json::parse(chunk.begin(), chunk.end(), nullptr, false);
  ParsedHistory out;
  const json* threads = doc.is_object() ? array_at(doc, "threads") : nullptr;
  if (threads == nullptr) return out;
  for (const auto& thread : *threads) {
    auto customer = phone_at(thread, "id");
    const json* messages = array_at(thread, "messages");
    if (!customer || messages == nullptr) {
      ++out.skipped;
      continue;
    }
    for (const auto& msg : *messages) {
      auto m = parse_message(msg, "", {});
      if (!m || !m->from) {
        ++out.skipped;
        continue;
      }
      HistoryMessage h;
      h.thread = *customer;
      // Without the business's number, whatever the customer did not send is the business's.
      h.outgoing = business_number ? *m->from == *business_number : *m->from != *customer;
      if (const json* context = object_at(msg, "history_context")) {
        h.status = text_at(*context, "status", 64).value_or("");
      }
      h.placeholder = is_placeholder(*m);
      h.message = std::move(*m);
      out.messages.push_back(std::move(h));
    }
  }
  return out;
}

ParsedDelivery parse_delivery(std::string_view body) {
  check_depth(body);
  json doc = json::parse(body.begin(), body.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    throw Error(Exit::usage, "webhook body is not a JSON object");
  }
  const json* entries = array_at(doc, "entry");
  if (entries == nullptr) throw Error(Exit::usage, "webhook body has no \"entry\" array");

  ParsedDelivery out;
  for (const auto& entry : *entries) {
    const json* changes = array_at(entry, "changes");
    auto waba_id = text_at(entry, "id", max_number_id);
    if (changes == nullptr) {
      ++out.skipped;
      continue;
    }
    for (const auto& change : *changes) {
      ++out.changes;
      const json* value = object_at(change, "value");
      std::optional<std::string> number_id;
      if (value != nullptr) {
        if (const json* meta = object_at(*value, "metadata")) {
          number_id = text_at(*meta, "phone_number_id", max_number_id);
        }
      }
      if (number_id) out.phone_number_ids.insert(*number_id);
      auto field = text_at(change, "field");
      if (field == "message_template_status_update" || field == "message_template_quality_update") {
        if (value == nullptr || !waba_id) {
          ++out.skipped;
        } else {
          parse_template_value(*value, *waba_id, field == "message_template_quality_update", out);
        }
        continue;
      }
      using Reader = void (*)(const json&, const std::string&, ParsedDelivery&);
      Reader read = nullptr;
      if (field == "messages") {
        read = parse_messages_value;
      } else if (field == "smb_message_echoes") {
        read = parse_echoes_value;
      } else if (field == "history") {
        read = parse_history_value;
      } else if (field == "smb_app_state_sync") {
        read = parse_state_sync_value;
      }
      if (read == nullptr) {
        ++out.other_fields;
        continue;
      }
      if (value == nullptr || !number_id) {
        ++out.skipped;
        continue;
      }
      read(*value, *number_id, out);
    }
  }
  return out;
}

} // namespace wabactl
