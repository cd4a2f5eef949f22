#include "wabactl/template_check.hpp"

#include "wabactl/conversations.hpp"
#include "wabactl/error.hpp"
#include "wabactl/send_request.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace wabactl {
namespace {

using nlohmann::json;

// Meta's limits on a template once its parameters are filled in (error 132005 otherwise).
constexpr std::size_t max_body_chars = 1024;
constexpr std::size_t max_header_chars = 60;
// Meta's limit on a coupon code and on an authentication template's code.
constexpr std::size_t max_code_chars = 15;

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

std::string text_of(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::size_t chars(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

bool placeholder_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// The distinct placeholders of `text` in order of first appearance: {{1}} or {{name}}.
std::vector<std::string> placeholders(std::string_view text) {
  std::vector<std::string> out;
  for (std::size_t at = text.find("{{"); at != std::string_view::npos;
       at = text.find("{{", at + 2)) {
    std::size_t end = text.find("}}", at + 2);
    if (end == std::string_view::npos) break;
    std::string_view inner = text.substr(at + 2, end - at - 2);
    if (inner.empty() || !std::all_of(inner.begin(), inner.end(), placeholder_char)) continue;
    if (std::find(out.begin(), out.end(), inner) == out.end()) out.emplace_back(inner);
  }
  return out;
}

// Meta's examples: positional as `key` [["a", "b"]] (or ["a", "b"] for a header), named as
// `key`_named_params [{"param_name", "example"}].
std::vector<Placeholder> with_examples(const std::vector<std::string>& names, const json& example,
                                       const char* key) {
  std::vector<Placeholder> out;
  std::map<std::string, std::string> named;
  std::vector<std::string> positional;
  if (example.is_object()) {
    auto n = example.find(std::string(key) + "_named_params");
    if (n != example.end() && n->is_array()) {
      for (const auto& p : *n) {
        if (p.is_object()) named[text_of(p, "param_name")] = text_of(p, "example");
      }
    }
    auto p = example.find(key);
    if (p != example.end() && p->is_array()) {
      const json& row = !p->empty() && p->front().is_array() ? p->front() : *p;
      for (const auto& v : row) positional.push_back(v.is_string() ? v.get<std::string>() : "");
    }
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    Placeholder ph{names[i], {}};
    if (auto it = named.find(names[i]); it != named.end()) {
      ph.example = it->second;
    } else if (i < positional.size()) {
      ph.example = positional[i];
    }
    out.push_back(std::move(ph));
  }
  return out;
}

TemplateButton button_of(int index, const json& b) {
  TemplateButton out;
  out.index = index;
  out.type = upper(text_of(b, "type"));
  out.text = text_of(b, "text");
  out.url = text_of(b, "url");
  const json example = b.contains("example") ? b["example"] : json();
  std::string first = example.is_string() ? example.get<std::string>()
                      : example.is_array() && !example.empty() && example.front().is_string()
                          ? example.front().get<std::string>()
                          : std::string();
  if (out.type == "URL" && !placeholders(out.url).empty()) {
    out.takes = TemplateButton::Takes::text;
    // The example is the whole URL: its variable part is what follows the fixed prefix.
    std::string prefix = out.url.substr(0, out.url.find("{{"));
    out.example = first.rfind(prefix, 0) == 0 ? first.substr(prefix.size()) : first;
  } else if (out.type == "COPY_CODE") {
    out.takes = TemplateButton::Takes::coupon_code;
    out.example = first;
  } else if (out.type == "OTP" && upper(text_of(b, "otp_type")) != "ZERO_TAP") {
    out.takes = TemplateButton::Takes::text;
  } else if (out.type == "QUICK_REPLY") {
    out.takes = TemplateButton::Takes::payload;
  }
  return out;
}

std::string list_placeholders(const std::vector<Placeholder>& ps) {
  std::string out;
  for (const auto& p : ps) {
    if (!out.empty()) out += ", ";
    out += "{{" + p.name + "}}";
    if (!p.example.empty()) out += " " + p.example;
  }
  return out;
}

std::string plural(std::size_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

// The text with its placeholders filled in, for Meta's length limits.
std::string filled(std::string text, const std::vector<Placeholder>& ps,
                   const std::vector<std::string>& values) {
  for (std::size_t i = 0; i < ps.size() && i < values.size(); ++i) {
    std::string token = "{{" + ps[i].name + "}}";
    for (std::size_t at = text.find(token); at != std::string::npos;
         at = text.find(token, at + values[i].size())) {
      text.replace(at, token.size(), values[i]);
    }
  }
  return text;
}

const char* header_field(const std::string& format) {
  if (format == "TEXT") return "header_text";
  if (format == "IMAGE") return "header_image";
  if (format == "VIDEO") return "header_video";
  if (format == "DOCUMENT") return "header_document";
  return nullptr;
}

const char* header_field(HeaderKind kind) {
  switch (kind) {
  case HeaderKind::text:
    return "header_text";
  case HeaderKind::image:
    return "header_image";
  case HeaderKind::video:
    return "header_video";
  case HeaderKind::document:
    return "header_document";
  case HeaderKind::none:
    break;
  }
  return nullptr;
}

void check_header(const TemplateModel& m, Content& c, const RequestFields& f,
                  std::vector<std::string>& problems) {
  const char* given = header_field(c.header);
  if (m.header_format.empty()) {
    if (given) problems.push_back(fmt::format("has no header: drop {}", f.label(given)));
    return;
  }
  const char* wanted = header_field(m.header_format);
  if (m.header_format == "LOCATION") {
    problems.push_back("has a LOCATION header, which wabactl cannot fill in");
    return;
  }
  if (!wanted) return; // a header format this build does not know: Meta decides
  if (m.header_format == "TEXT" && m.header_params.empty()) {
    if (given) {
      problems.push_back(
          fmt::format("has a fixed TEXT header ('{}'): drop {}", m.header_text, f.label(given)));
    }
    return;
  }
  if (!given || std::string_view(given) != wanted) {
    std::string what = m.header_format == "TEXT" ? fmt::format("takes a TEXT header parameter ({})",
                                                               list_placeholders(m.header_params))
                                                 : fmt::format("has a {} header", m.header_format);
    problems.push_back(fmt::format("{}: give {}{}", what, f.label(wanted),
                                   given ? fmt::format(" instead of {}", f.label(given)) : ""));
    return;
  }
  if (m.header_format == "TEXT") {
    if (m.named) c.header_param_name = m.header_params.front().name;
    std::string text = filled(m.header_text, m.header_params, {c.header_value});
    if (chars(text) > max_header_chars) {
      problems.push_back(fmt::format("has a header of at most {} characters once filled in; {} "
                                     "makes it {}",
                                     max_header_chars, f.label(wanted), chars(text)));
    }
  }
}

void check_body(const TemplateModel& m, Content& c, const RequestFields& f,
                std::vector<std::string>& problems) {
  const std::string label = f.label("body_params");
  if (m.named && !m.body_params.empty()) {
    std::map<std::string, std::string> given;
    std::vector<std::string> bad;
    for (const auto& v : c.body_params) {
      auto eq = v.find('=');
      std::string name = eq == std::string::npos ? std::string() : v.substr(0, eq);
      bool known = std::any_of(m.body_params.begin(), m.body_params.end(),
                               [&](const Placeholder& p) { return p.name == name; });
      if (!known || given.count(name) > 0) {
        bad.push_back(eq == std::string::npos ? "'" + v.substr(0, 32) + "'" : name.substr(0, 32));
        continue;
      }
      given[name] = v.substr(eq + 1);
    }
    std::vector<std::string> missing;
    for (const auto& p : m.body_params) {
      if (given.count(p.name) == 0) missing.push_back(p.name);
    }
    if (!bad.empty() || !missing.empty()) {
      std::string got;
      if (!missing.empty()) got += fmt::format("missing {}", fmt::join(missing, ", "));
      if (!bad.empty()) {
        got += fmt::format("{}not its names: {}", got.empty() ? "" : "; ", fmt::join(bad, ", "));
      }
      problems.push_back(
          fmt::format("takes {} by name, each as {} NAME=VALUE: {}; {}",
                      plural(m.body_params.size(), "body parameter", "body parameters"), label,
                      list_placeholders(m.body_params), got));
      return;
    }
    c.body_params.clear();
    c.body_param_names.clear();
    for (const auto& p : m.body_params) {
      c.body_param_names.push_back(p.name);
      c.body_params.push_back(given[p.name]);
    }
  } else if (c.body_params.size() != m.body_params.size()) {
    if (m.body_params.empty()) {
      problems.push_back(fmt::format("takes no body parameters; got {}", c.body_params.size()));
    } else {
      problems.push_back(fmt::format(
          "takes {}: {}; got {}", plural(m.body_params.size(), "body parameter", "body parameters"),
          list_placeholders(m.body_params), c.body_params.size()));
    }
    return;
  }
  std::string text = filled(m.body_text, m.body_params, c.body_params);
  if (chars(text) > max_body_chars) {
    problems.push_back(fmt::format("has a body of at most {} characters once filled in; the "
                                   "parameters make it {}",
                                   max_body_chars, chars(text)));
  }
}

void check_buttons(const TemplateModel& m, Content& c, const RequestFields& f,
                   std::vector<std::string>& problems) {
  const std::string label = f.label("button_params");
  std::map<int, const std::string*> given;
  for (const auto& [index, value] : c.button_params) given[index] = &value;
  for (const auto& [index, value] : given) {
    auto b = std::find_if(m.buttons.begin(), m.buttons.end(),
                          [i = index](const TemplateButton& tb) { return tb.index == i; });
    if (b == m.buttons.end()) {
      problems.push_back(fmt::format("has no button {} ({} {}:…)", index, label, index));
      continue;
    }
    switch (b->takes) {
    case TemplateButton::Takes::nothing:
      problems.push_back(fmt::format("has a {} button {} ('{}') that takes no parameter: drop "
                                     "{} {}:…",
                                     b->type, index, b->text, label, index));
      break;
    case TemplateButton::Takes::payload:
      c.button_types[index] = "quick_reply";
      break;
    case TemplateButton::Takes::coupon_code:
      c.button_types[index] = "copy_code";
      [[fallthrough]];
    case TemplateButton::Takes::text:
      if (b->type != "URL" && chars(*value) > max_code_chars) {
        problems.push_back(fmt::format("takes a code of at most {} characters for button {}",
                                       max_code_chars, index));
      }
      break;
    }
  }
  for (const auto& b : m.buttons) {
    bool needs =
        b.takes == TemplateButton::Takes::text || b.takes == TemplateButton::Takes::coupon_code;
    if (needs && given.count(b.index) == 0) {
      std::string example = b.example.empty() ? "VALUE" : b.example;
      problems.push_back(
          fmt::format("has a {} button {} ('{}') that takes a parameter: give {}", b.type, b.index,
                      b.text, f.example("button_params", fmt::format("{}:{}", b.index, example))));
    }
  }
}

} // namespace

TemplateModel template_model(const Template& t) {
  TemplateModel m;
  m.named = upper(t.parameter_format) == "NAMED";
  if (!t.components.is_array()) return m;
  for (const auto& comp : t.components) {
    if (!comp.is_object()) continue;
    std::string type = upper(text_of(comp, "type"));
    const json example = comp.contains("example") ? comp["example"] : json();
    if (type == "HEADER") {
      m.header_format = upper(text_of(comp, "format"));
      if (m.header_format.empty()) m.header_format = "TEXT";
      m.header_text = text_of(comp, "text");
      if (m.header_format == "TEXT") {
        m.header_params = with_examples(placeholders(m.header_text), example, "header_text");
      }
    } else if (type == "BODY") {
      m.body_text = text_of(comp, "text");
      m.body_params = with_examples(placeholders(m.body_text), example, "body_text");
    } else if (type == "FOOTER") {
      m.footer = text_of(comp, "text");
    } else if (type == "BUTTONS") {
      auto bs = comp.find("buttons");
      if (bs == comp.end() || !bs->is_array()) continue;
      int index = 0;
      for (const auto& b : *bs) {
        if (b.is_object()) m.buttons.push_back(button_of(index, b));
        ++index;
      }
    } else {
      m.unknown_components.push_back(type.empty() ? "(unnamed)" : type);
    }
  }
  return m;
}

std::vector<std::string> template_problems(const TemplateModel& model, Content& content,
                                           const RequestFields& fields) {
  std::vector<std::string> problems;
  check_header(model, content, fields, problems);
  check_body(model, content, fields, problems);
  check_buttons(model, content, fields, problems);
  return problems;
}

std::string example_send(const std::string& tenant, const Template& t, const TemplateModel& m) {
  auto quote = [](const std::string& v) {
    bool plain = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
      return placeholder_char(c) || c == '.' || c == '-' || c == '/' || c == ':' || c == '+';
    });
    if (plain) return v;
    std::string out = "'";
    for (char c : v) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  };
  std::string line =
      fmt::format("wabactl send --tenant {} --to +15551234567 --template {} --lang {}", tenant,
                  t.name, t.language);
  if (m.header_format == "TEXT" && !m.header_params.empty()) {
    line +=
        " --header-text " +
        quote(m.header_params.front().example.empty() ? "TEXT" : m.header_params.front().example);
  } else if (m.header_format == "IMAGE") {
    line += " --header-image https://example.com/image.jpg";
  } else if (m.header_format == "VIDEO") {
    line += " --header-video https://example.com/video.mp4";
  } else if (m.header_format == "DOCUMENT") {
    line += " --header-document https://example.com/document.pdf";
  }
  for (const auto& p : m.body_params) {
    std::string v = p.example.empty() ? "VALUE" : p.example;
    line += " --body-param " + quote(m.named ? p.name + "=" + v : v);
  }
  for (const auto& b : m.buttons) {
    if (b.takes != TemplateButton::Takes::text && b.takes != TemplateButton::Takes::coupon_code) {
      continue;
    }
    line += " --button-param " +
            quote(fmt::format("{}:{}", b.index, b.example.empty() ? "VALUE" : b.example));
  }
  return line;
}

SendCheck::SendCheck(Store& store, std::string tenant, SendChecks checks)
    : store_(store), tenant_(std::move(tenant)), checks_(checks) {}

const SendCheck::Entry* SendCheck::find(const std::string& name, const std::string& language) {
  auto key = std::make_pair(name, language);
  auto it = cache_.find(key);
  if (it == cache_.end()) {
    std::optional<Entry> entry;
    if (auto t = find_template(store_, tenant_, name, language)) {
      TemplateModel model = template_model(*t);
      entry = Entry{std::move(*t), std::move(model)};
    }
    it = cache_.emplace(std::move(key), std::move(entry)).first;
  }
  return it->second ? &*it->second : nullptr;
}

std::optional<std::string> SendCheck::check(PreparedSend& prepared, const RequestFields& fields) {
  const SendRequest& r = prepared.request;
  if (r.content.kind != ContentKind::templated) {
    if (checks_.window && !r.outside_window) check_window(prepared, fields);
    return std::nullopt;
  }
  if (!checks_.templates || r.no_template_check) return std::nullopt;
  return check_template(prepared, fields);
}

void SendCheck::check_window(const PreparedSend& prepared, const RequestFields& fields) {
  if (window_expires_at(store_, tenant_, prepared.recipient)) return;
  throw Refusal(
      "window_closed",
      fmt::format("the customer-service window with {} is closed: they have not written in the "
                  "last 24 hours, and Meta refuses anything but a template outside it",
                  prepared.recipient.key()),
      fmt::format("send an approved template ('wabactl template list --tenant {} --status "
                  "APPROVED' lists them), or give {} to send anyway",
                  tenant_, fields.label("outside_window")));
}

std::optional<std::string> SendCheck::check_template(PreparedSend& prepared,
                                                     const RequestFields& fields) {
  const Content& asked = prepared.request.content;
  if (!sync_) sync_ = template_sync(store_, tenant_);
  const Entry* entry = find(asked.template_name, asked.language);
  std::string who = fmt::format("{} ({})", asked.template_name, asked.language);
  if (!entry) {
    if (!*sync_) {
      return fmt::format("tenant '{}' has never synced its templates: {} was sent unchecked; "
                         "run 'wabactl template sync --tenant {}'",
                         tenant_, who, tenant_);
    }
    std::vector<std::string> languages;
    for (const auto& t : list_templates(store_, tenant_)) {
      if (t.name == asked.template_name) languages.push_back(t.language);
    }
    std::string hint =
        languages.empty()
            ? fmt::format("'wabactl template list --tenant {}' shows the catalogue (synced {}); "
                          "a template created since needs 'wabactl template sync'",
                          tenant_, (*sync_)->synced_at)
            : fmt::format("it exists in {}: give {}", fmt::join(languages, ", "),
                          fields.example("lang", languages.front()));
    throw Refusal("template_not_sendable",
                  fmt::format("template {} is not in tenant '{}''s catalogue", who, tenant_), hint);
  }
  if (entry->t.status != "APPROVED") {
    throw Refusal(
        "template_not_sendable",
        fmt::format("template {} is {}, not APPROVED: Meta would refuse it", who, entry->t.status),
        fmt::format("'wabactl template list --tenant {} --status APPROVED' shows what "
                    "can be sent",
                    tenant_));
  }
  SendRequest completed = prepared.request;
  auto problems = template_problems(entry->model, completed.content, fields);
  if (!problems.empty()) {
    throw Refusal("template_not_sendable", fmt::format("{} {}", who, fmt::join(problems, "; it ")),
                  fmt::format("'wabactl template show --tenant {} {} --lang {}' shows what it "
                              "takes",
                              tenant_, asked.template_name, asked.language));
  }
  // Named parameters and button kinds the catalogue told us change Meta's request.
  const Content& c = completed.content;
  if (!c.body_param_names.empty() || c.header_param_name || !c.button_types.empty() ||
      c.body_params != asked.body_params) {
    prepared = prepare_send(completed);
  }
  return std::nullopt;
}

json template_summary_json(const Template& t) {
  json j = to_json(t);
  TemplateModel m = template_model(t);
  json params = json::array();
  for (const auto& p : m.body_params) params.push_back(p.name);
  j["parameters"] = params;
  // What else a send must give, for forms that build one (the console's template picker).
  if (m.header_format.empty()) {
    j["header"] = nullptr;
  } else {
    json header_params = json::array();
    for (const auto& p : m.header_params) header_params.push_back(p.name);
    j["header"] = {{"format", m.header_format}, {"parameters", header_params}};
  }
  json buttons = json::array();
  for (const auto& b : m.buttons) {
    const char* takes = b.takes == TemplateButton::Takes::text          ? "text"
                        : b.takes == TemplateButton::Takes::coupon_code ? "coupon_code"
                        : b.takes == TemplateButton::Takes::payload     ? "payload"
                                                                        : nullptr;
    if (takes == nullptr) continue;
    buttons.push_back({{"index", b.index}, {"type", b.type}, {"text", b.text}, {"takes", takes}});
  }
  j["buttons"] = buttons;
  return j;
}

} // namespace wabactl
