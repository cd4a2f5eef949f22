// The one decoder from a door's request fields to a SendRequest, and the field sources of
// the doors: text (command line, CSV rows) and JSON objects (REST bodies, JSON Lines rows).
#include "wabactl/send_request.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace wabactl {
namespace {

using nlohmann::json;

[[noreturn]] void usage(const std::string& message, std::string hint = {}) {
  throw Error(Exit::usage, message, std::move(hint));
}

// The content kinds, by the field that asks for each.
struct KindField {
  const char* field;
  ContentKind kind;
};
constexpr KindField kind_fields[] = {
    {"text", ContentKind::text},         {"template", ContentKind::templated},
    {"image", ContentKind::image},       {"video", ContentKind::video},
    {"audio", ContentKind::audio},       {"document", ContentKind::document},
    {"sticker", ContentKind::sticker},   {"reaction", ContentKind::reaction},
    {"location", ContentKind::location},
};

struct HeaderField {
  const char* field;
  HeaderKind kind;
};
constexpr HeaderField header_fields[] = {{"header_text", HeaderKind::text},
                                         {"header_image", HeaderKind::image},
                                         {"header_video", HeaderKind::video},
                                         {"header_document", HeaderKind::document}};

// Fields that only a template takes.
constexpr const char* template_fields[] = {"lang",         "header_text",     "header_image",
                                           "header_video", "header_document", "body_params",
                                           "button_params"};

// "a", "a and b", "a, b and c".
std::string and_list(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " and " : ", ";
    out += items[i];
  }
  return out;
}

double parse_number(const std::string& text, const std::string& label, const std::string& hint) {
  std::string t(trim(text));
  char* end = nullptr;
  errno = 0;
  double d = std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size() || errno != 0 || !std::isfinite(d)) {
    usage(fmt::format("{}: '{}' is not a number", label, t.substr(0, 32)), hint);
  }
  return d;
}

std::pair<double, double> parse_coordinates(const std::string& v, const RequestFields& f) {
  std::string label = f.label("location");
  std::string hint = fmt::format("{} takes LAT,LON (e.g. 52.52,13.405)", label);
  auto comma = v.find(',');
  if (comma == std::string::npos) usage(hint);
  return {parse_number(v.substr(0, comma), label, hint),
          parse_number(v.substr(comma + 1), label, hint)};
}

bool has_location(const RequestFields& f) {
  return f.has("location") || f.has("latitude") || f.has("longitude");
}

void decode_location(const RequestFields& f, Content& c) {
  auto text = f.text("location");
  if (f.has("latitude") || f.has("longitude")) {
    if (text) {
      usage(fmt::format("give {} or {} and {}, not both", f.label("location"), f.label("latitude"),
                        f.label("longitude")));
    }
    auto lat = f.number("latitude");
    auto lon = f.number("longitude");
    if (!lat || !lon) {
      usage(fmt::format("{} needs {} and {}", f.label("location"), f.label("latitude"),
                        f.label("longitude")));
    }
    c.latitude = *lat;
    c.longitude = *lon;
  } else if (text) {
    std::tie(c.latitude, c.longitude) = parse_coordinates(*text, f);
  } else {
    usage(fmt::format("{} needs {} and {}", f.label("location"), f.label("latitude"),
                      f.label("longitude")),
          fmt::format("e.g. {}", f.example("location", "52.52,13.405")));
  }
}

void decode_template(const RequestFields& f, Content& c) {
  auto lang = f.text("lang");
  if (!lang) {
    usage(fmt::format("{} needs {}", f.label("template"), f.label("lang")),
          fmt::format("e.g. {}", f.example("lang", "en_US")));
  }
  c.kind = ContentKind::templated;
  c.template_name = f.text("template").value_or("");
  c.language = *lang;
  for (const auto& h : header_fields) {
    if (auto v = f.text(h.field)) {
      c.header = h.kind;
      c.header_value = *v;
    }
  }
  if (auto params = f.texts("body_params")) c.body_params = std::move(*params);
  if (auto buttons = f.buttons("button_params")) c.button_params = std::move(*buttons);
}

// A body_params list in JSON: strings (and numbers, when `numbers` allows them).
std::vector<std::string> json_texts(const json& v, const std::string& label, bool numbers) {
  std::string wrong = fmt::format("{} must be an array of strings", label);
  if (!v.is_array()) usage(wrong);
  std::vector<std::string> out;
  for (const auto& item : v) {
    if (item.is_string()) {
      out.push_back(item.get<std::string>());
    } else if (numbers && item.is_number()) {
      out.push_back(item.dump());
    } else {
      usage(wrong);
    }
  }
  return out;
}

// A button_params list in JSON: [{"index": 0-9, "value": "…"}].
std::vector<std::pair<int, std::string>> json_buttons(const json& v, const std::string& label) {
  if (!v.is_array()) usage(fmt::format("{} must be an array", label));
  std::vector<std::pair<int, std::string>> out;
  for (const auto& item : v) {
    if (!item.is_object() || !item.contains("index") || !item["index"].is_number_integer()) {
      usage(fmt::format("{} items are {{\"index\": N, \"value\": \"…\"}}", label));
    }
    // Checked before narrowing: a huge index must not wrap into a valid one.
    const json& index = item["index"];
    if (!index.is_number_unsigned() || index.get<std::uint64_t>() > 9) {
      usage("a button's 'index' is 0 to 9");
    }
    std::string value;
    if (auto it = item.find("value"); it != item.end() && !it->is_null()) {
      if (!it->is_string()) usage("a button's 'value' must be a string");
      value = it->get<std::string>();
    }
    out.emplace_back(index.get<int>(), std::move(value));
  }
  return out;
}

json parse_json_text(const std::string& text, const std::string& label, const char* what) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) usage(fmt::format("{} must be a JSON array of {}", label, what));
  return doc;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> keys;
  std::size_t start = 0;
  for (;;) {
    auto dot = path.find('.', start);
    keys.push_back(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) return keys;
    start = dot + 1;
  }
}

// The value at a dotted path, or nullptr when a key on the way is missing or not an object.
const json* at_path(const json& object, const std::string& path) {
  const json* v = &object;
  for (const auto& key : split_path(path)) {
    if (!v->is_object()) return nullptr;
    auto it = v->find(key);
    if (it == v->end()) return nullptr;
    v = &*it;
  }
  return v;
}

// {"a": {"b": value}} for the path a.b, as one line of JSON.
std::string json_example(const std::string& path, std::string_view value) {
  json out = std::string(value);
  auto keys = split_path(path);
  for (auto it = keys.rbegin(); it != keys.rend(); ++it) out = json{{*it, out}};
  return out.dump();
}

} // namespace

const std::set<std::string>& send_fields() {
  static const std::set<std::string> fields = {"to",
                                               "text",
                                               "preview_url",
                                               "template",
                                               "lang",
                                               "header_text",
                                               "header_image",
                                               "header_video",
                                               "header_document",
                                               "filename",
                                               "body_params",
                                               "button_params",
                                               "image",
                                               "video",
                                               "audio",
                                               "document",
                                               "sticker",
                                               "caption",
                                               "reaction",
                                               "location",
                                               "latitude",
                                               "longitude",
                                               "name",
                                               "address",
                                               "reply_to",
                                               "contact_id",
                                               "idempotency_key",
                                               "callback_data",
                                               "outside_window",
                                               "no_template_check"};
  return fields;
}

std::string RequestFields::example(std::string_view name, std::string_view value) const {
  return fmt::format("{}: {}", label(name), value);
}

SendRequest decode_send_request(const std::string& tenant, const RequestFields& f) {
  std::vector<ContentKind> given;
  std::vector<std::string> labels;
  for (const auto& k : kind_fields) {
    labels.push_back(f.label(k.field));
    bool present = k.kind == ContentKind::location ? has_location(f) : f.has(k.field);
    if (present) given.push_back(k.kind);
  }
  if (given.size() != 1) {
    std::string list = fmt::format("{}", fmt::join(labels, ", "));
    usage(given.empty() ? "nothing to send: give one of " + list : "give exactly one of " + list,
          f.help());
  }
  ContentKind kind = given.front();
  auto to = f.text("to");
  if (!to || to->empty()) {
    usage(fmt::format("{} is required", f.label("to")),
          fmt::format("e.g. {}", f.example("to", "+15551234567")));
  }
  if (kind != ContentKind::templated) {
    std::vector<std::string> stray;
    for (const char* name : template_fields) {
      if (f.has(name)) stray.push_back(f.label(name));
    }
    if (!stray.empty()) {
      usage(fmt::format("{} {} with {}", and_list(stray), stray.size() == 1 ? "goes" : "go",
                        f.label("template")));
    }
  }
  int headers = 0;
  for (const auto& h : header_fields) headers += f.has(h.field) ? 1 : 0;
  if (headers > 1) {
    std::vector<std::string> names;
    for (const auto& h : header_fields) names.push_back(f.label(h.field));
    usage(fmt::format("give at most one of {}", fmt::join(names, ", ")));
  }
  if (f.flag("preview_url").value_or(false) && kind != ContentKind::text) {
    usage(fmt::format("{} goes with {}", f.label("preview_url"), f.label("text")));
  }
  if ((f.has("name") || f.has("address")) && kind != ContentKind::location) {
    usage(fmt::format("{} and {} go with {}", f.label("name"), f.label("address"),
                      f.label("location")));
  }

  SendRequest r;
  r.tenant = tenant;
  r.to = *to;
  r.reply_to = f.text("reply_to");
  r.contact_id = f.text("contact_id");
  r.idempotency_key = f.text("idempotency_key");
  r.callback_data = f.text("callback_data");
  r.outside_window = f.flag("outside_window").value_or(false);
  r.no_template_check = f.flag("no_template_check").value_or(false);
  Content& c = r.content;
  c.kind = kind;
  c.caption = f.text("caption");
  c.filename = f.text("filename");
  switch (kind) {
  case ContentKind::text:
    c.text = f.text("text").value_or("");
    c.preview_url = f.flag("preview_url").value_or(false);
    break;
  case ContentKind::templated:
    decode_template(f, c);
    break;
  case ContentKind::reaction:
    c.emoji = f.text("reaction").value_or("");
    break;
  case ContentKind::location:
    decode_location(f, c);
    c.location_name = f.text("name");
    c.location_address = f.text("address");
    break;
  case ContentKind::image:
  case ContentKind::video:
  case ContentKind::audio:
  case ContentKind::document:
  case ContentKind::sticker:
    for (const auto& k : kind_fields) {
      if (k.kind == kind) c.media = f.text(k.field).value_or("");
    }
    break;
  }
  return r;
}

std::optional<std::string> local_file_field(const SendRequest& request) {
  const Content& c = request.content;
  for (const auto& k : kind_fields) {
    bool media = k.kind != ContentKind::text && k.kind != ContentKind::templated &&
                 k.kind != ContentKind::reaction && k.kind != ContentKind::location;
    if (media && k.kind == c.kind && !is_media_link(c.media)) return k.field;
  }
  if (c.kind == ContentKind::templated && c.header != HeaderKind::none &&
      c.header != HeaderKind::text && !is_media_link(c.header_value)) {
    for (const auto& h : header_fields) {
      if (h.kind == c.header) return h.field;
    }
  }
  return std::nullopt;
}

// ---- TextFields ------------------------------------------------------------------------

void TextFields::set(const std::string& name, std::string value) {
  values_[name] = Value{{std::move(value)}, false};
}

void TextFields::set_list(const std::string& name, std::vector<std::string> values) {
  values_[name] = Value{std::move(values), true};
}

const TextFields::Value* TextFields::find(std::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

bool TextFields::has(std::string_view name) const {
  return find(name) != nullptr;
}

std::optional<std::string> TextFields::text(std::string_view name) const {
  const Value* v = find(name);
  if (v == nullptr) return std::nullopt;
  if (v->list) usage(fmt::format("{} is given more than once", label(name)));
  return v->items.front();
}

std::optional<bool> TextFields::flag(std::string_view name) const {
  auto v = text(name);
  if (!v) return std::nullopt;
  std::string t(trim(*v));
  std::transform(t.begin(), t.end(), t.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (t == "true" || t == "1" || t == "yes") return true;
  if (t == "false" || t == "0" || t == "no") return false;
  usage(fmt::format("{} must be true or false", label(name)));
}

std::optional<double> TextFields::number(std::string_view name) const {
  auto v = text(name);
  if (!v) return std::nullopt;
  return parse_number(*v, label(name), {});
}

std::optional<std::vector<std::string>> TextFields::texts(std::string_view name) const {
  const Value* v = find(name);
  if (v == nullptr) return std::nullopt;
  if (v->list) return v->items;
  std::string l = label(name);
  json doc = parse_json_text(v->items.front(), l, "strings");
  if (!doc.is_array()) usage(fmt::format("{} must be a JSON array of strings", l));
  return json_texts(doc, l, true);
}

std::optional<std::vector<std::pair<int, std::string>>>
TextFields::buttons(std::string_view name) const {
  const Value* v = find(name);
  if (v == nullptr) return std::nullopt;
  std::string l = label(name);
  if (!v->list) return json_buttons(parse_json_text(v->items.front(), l, "buttons"), l);
  std::vector<std::pair<int, std::string>> out;
  for (const auto& item : v->items) {
    auto colon = item.find(':');
    std::string index = item.substr(0, colon);
    if (colon == std::string::npos || index.size() != 1 || index[0] < '0' || index[0] > '9') {
      usage(fmt::format("{} '{}' is not INDEX:VALUE", l, item.substr(0, 64)),
            fmt::format("e.g. {} (the url button's index, from 0)", example(name, "0:INV-1001")));
    }
    out.emplace_back(index[0] - '0', item.substr(colon + 1));
  }
  return out;
}

std::string TextFields::label(std::string_view name) const {
  std::string n(name);
  if (style_ == Style::column) return "'" + n + "'";
  // Repeated options are named in the singular: --body-param.
  if (n == "body_params" || n == "button_params") n.pop_back();
  std::replace(n.begin(), n.end(), '_', '-');
  return "--" + n;
}

std::string TextFields::example(std::string_view name, std::string_view value) const {
  if (style_ == Style::column) return RequestFields::example(name, value);
  return fmt::format("{} {}", label(name), value);
}

std::string TextFields::help() const {
  return style_ == Style::option ? "run 'wabactl send --help'" : std::string();
}

// ---- JsonFields ------------------------------------------------------------------------

JsonFields::JsonFields(const json& object, Paths paths,
                       std::set<std::string, std::less<>> numbers_as_text)
    : object_(object), paths_(std::move(paths)), numbers_as_text_(std::move(numbers_as_text)) {}

std::vector<std::string> JsonFields::paths_of(std::string_view name) const {
  auto it = paths_.find(name);
  if (it != paths_.end()) return it->second;
  return {std::string(name)};
}

bool JsonFields::container(const std::string& path) const {
  std::string prefix = path + ".";
  for (const auto& [name, list] : paths_) {
    for (const auto& p : list) {
      if (p.rfind(prefix, 0) == 0) return true;
    }
  }
  return false;
}

std::optional<JsonFields::Found> JsonFields::find(std::string_view name) const {
  for (const auto& path : paths_of(name)) {
    const json* v = at_path(object_, path);
    if (v == nullptr || v->is_null()) continue;
    if (v->is_object() && container(path)) continue;
    return Found{v, path};
  }
  return std::nullopt;
}

bool JsonFields::has(std::string_view name) const {
  for (const auto& path : paths_of(name)) {
    const json* v = at_path(object_, path);
    if (v != nullptr && !v->is_null()) return true;
  }
  return false;
}

bool JsonFields::number_text(std::string_view name) const {
  return numbers_as_text_.find(name) != numbers_as_text_.end();
}

std::optional<std::string> JsonFields::text(std::string_view name) const {
  auto found = find(name);
  if (!found) return std::nullopt;
  if (found->value->is_string()) return found->value->get<std::string>();
  if (number_text(name) && found->value->is_number()) return found->value->dump();
  usage(fmt::format("'{}' must be a string", found->path));
}

std::optional<bool> JsonFields::flag(std::string_view name) const {
  auto found = find(name);
  if (!found) return std::nullopt;
  if (!found->value->is_boolean()) usage(fmt::format("'{}' must be true or false", found->path));
  return found->value->get<bool>();
}

std::optional<double> JsonFields::number(std::string_view name) const {
  auto found = find(name);
  if (!found) return std::nullopt;
  if (!found->value->is_number()) usage(fmt::format("'{}' must be a number", found->path));
  return found->value->get<double>();
}

std::optional<std::vector<std::string>> JsonFields::texts(std::string_view name) const {
  auto found = find(name);
  if (!found) return std::nullopt;
  return json_texts(*found->value, "'" + found->path + "'", number_text(name));
}

std::optional<std::vector<std::pair<int, std::string>>>
JsonFields::buttons(std::string_view name) const {
  auto found = find(name);
  if (!found) return std::nullopt;
  return json_buttons(*found->value, "'" + found->path + "'");
}

std::string JsonFields::label(std::string_view name) const {
  auto paths = paths_of(name);
  std::string out = "'" + paths.front() + "'";
  if (paths.size() > 1 && paths[1].find('.') == std::string::npos) {
    out += " (or '" + paths[1] + "')";
  }
  return out;
}

std::string JsonFields::example(std::string_view name, std::string_view value) const {
  return json_example(paths_of(name).front(), value);
}

} // namespace wabactl
