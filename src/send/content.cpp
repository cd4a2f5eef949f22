// Validation of a send and Meta's request body for every content type.
#include "send/text.hpp"
#include "wabactl/identity.hpp"
#include "wabactl/send.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

namespace wabactl {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& message, std::string hint = {}) {
  throw Error(Exit::usage, message, std::move(hint));
}

// Checks a user-supplied string: valid UTF-8 (Meta and our JSON writer need it), no NUL,
// within `max_chars` code points.
void check_text(const std::string& value, const char* what, std::size_t max_chars,
                bool allow_empty = false) {
  if (!allow_empty && value.empty()) bad(fmt::format("{} is empty", what));
  auto chars = utf8_length(value);
  if (!chars) bad(fmt::format("{} is not valid UTF-8", what));
  if (value.find('\0') != std::string::npos) bad(fmt::format("{} contains a NUL byte", what));
  if (*chars > max_chars) {
    bad(fmt::format("{} is {} characters long; Meta allows at most {}", what, *chars, max_chars));
  }
}

struct MediaRule {
  const char* extension;
  const char* mime;
};

struct KindRule {
  const char* name;
  std::uintmax_t max_bytes;
  std::vector<MediaRule> types;
};

const KindRule& rule_for(MediaKind kind) {
  constexpr std::uintmax_t mb = 1024 * 1024;
  static const KindRule image{
      "image", 5 * mb, {{"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"}, {"png", "image/png"}}};
  static const KindRule video{"video", 16 * mb, {{"mp4", "video/mp4"}, {"3gp", "video/3gpp"}}};
  static const KindRule audio{"audio",
                              16 * mb,
                              {{"aac", "audio/aac"},
                               {"amr", "audio/amr"},
                               {"mp3", "audio/mpeg"},
                               {"m4a", "audio/mp4"},
                               {"ogg", "audio/ogg"}}};
  static const KindRule document{
      "document",
      100 * mb,
      {{"pdf", "application/pdf"},
       {"doc", "application/msword"},
       {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
       {"xls", "application/vnd.ms-excel"},
       {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
       {"ppt", "application/vnd.ms-powerpoint"},
       {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
       {"txt", "text/plain"}}};
  static const KindRule sticker{"sticker", 500 * 1024, {{"webp", "image/webp"}}};
  switch (kind) {
  case MediaKind::image:
    return image;
  case MediaKind::video:
    return video;
  case MediaKind::audio:
    return audio;
  case MediaKind::document:
    return document;
  case MediaKind::sticker:
    break;
  }
  return sticker;
}

std::string human_size(std::uintmax_t bytes) {
  if (bytes >= 1024 * 1024) return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1048576.0);
  return fmt::format("{} KB", (bytes + 1023) / 1024);
}

void check_url(const std::string& url, const char* what) {
  check_text(url, what, 2048);
  for (unsigned char c : url) {
    if (c <= 0x20 || c == 0x7f) bad(fmt::format("{} contains spaces or control characters", what));
  }
  std::string_view rest = url;
  rest.remove_prefix(url.find("://") + 3);
  if (rest.empty() || rest[0] == '/') bad(fmt::format("{} has no host: {}", what, url));
}

void check_wamid(const std::string& id, const char* what) {
  if (id.size() < 7 || id.size() > 512 || id.rfind("wamid.", 0) != 0) {
    bad(fmt::format("{} is not a WhatsApp message id (wamid.…) or a local message id", what));
  }
  for (unsigned char c : id) {
    bool ok = std::isalnum(c) || c == '.' || c == '_' || c == '-' || c == '=' || c == '+' ||
              c == '/' || c == ':';
    if (!ok) bad(fmt::format("{} contains characters a WhatsApp message id cannot have", what));
  }
}

bool is_local_id(const std::string& v) {
  return !v.empty() && v.size() <= 18 &&
         std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A media object for Meta: {"link": …} now, or {} that receives {"id": …} after upload.
json media_object(const std::string& value, MediaKind kind, const char* what, PreparedSend& p,
                  const json::json_pointer& at) {
  MediaSource src = resolve_media(value, kind);
  if (src.is_link()) {
    check_url(src.link, what);
    p.media_link = src.link;
    return json{{"link", src.link}};
  }
  p.upload = std::move(src);
  p.upload_at = at;
  p.upload_kind = kind;
  return json::object();
}

std::string default_filename(const PreparedSend& p) {
  return p.upload ? p.upload->path.filename().string() : std::string();
}

void check_filename(const std::optional<std::string>& name) {
  if (!name) return;
  check_text(*name, "--filename", 240);
  if (name->find('/') != std::string::npos || name->find('\n') != std::string::npos) {
    bad("--filename must be a plain file name (no '/' or newline)");
  }
}

void check_template_param(const std::string& v, const char* what, std::size_t max_chars) {
  check_text(v, what, max_chars);
  // Meta rejects template parameters with newlines, tabs or more than 4 spaces in a row
  // (error 132018); catching it here saves a failed request.
  if (v.find_first_of("\n\t\r") != std::string::npos) {
    bad(fmt::format("{} contains a newline or tab, which Meta rejects in template parameters",
                    what));
  }
  if (v.find("     ") != std::string::npos) {
    bad(fmt::format("{} has more than 4 spaces in a row, which Meta rejects", what));
  }
}

json template_body(const Content& c, PreparedSend& p) {
  if (c.template_name.empty() || c.template_name.size() > 512 ||
      !std::all_of(c.template_name.begin(), c.template_name.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
      })) {
    bad(fmt::format("template name '{}' is not valid", c.template_name),
        "template names are lowercase letters, digits and underscores");
  }
  bool lang_ok = c.language.size() >= 2 && c.language.size() <= 15;
  for (char ch : c.language) {
    lang_ok = lang_ok && ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_');
  }
  if (!lang_ok)
    bad(fmt::format("--lang '{}' is not a language code", c.language), "e.g. en_US, de, pt_BR");
  if (c.body_params.size() > 100) bad("too many body parameters (at most 100)");
  if (c.button_params.size() > 10) bad("too many button parameters (at most 10)");

  if (c.filename && c.header != HeaderKind::document) {
    bad("--filename needs --header-document (or --document)");
  }
  json components = json::array();
  json template_obj = {{"name", c.template_name}, {"language", {{"code", c.language}}}};
  if (c.header != HeaderKind::none) {
    json param;
    std::size_t index = components.size();
    auto at = json::json_pointer("/template/components/" + std::to_string(index) + "/parameters/0");
    switch (c.header) {
    case HeaderKind::text:
      check_template_param(c.header_value, "--header-text", 60);
      param = {{"type", "text"}, {"text", c.header_value}};
      if (c.header_param_name) param["parameter_name"] = *c.header_param_name;
      break;
    case HeaderKind::image:
      param = {{"type", "image"},
               {"image",
                media_object(c.header_value, MediaKind::image, "--header-image", p, at / "image")}};
      break;
    case HeaderKind::video:
      param = {{"type", "video"},
               {"video",
                media_object(c.header_value, MediaKind::video, "--header-video", p, at / "video")}};
      break;
    case HeaderKind::document: {
      json doc = media_object(c.header_value, MediaKind::document, "--header-document", p,
                              at / "document");
      if (p.upload && p.upload->mime_type != "application/pdf") {
        bad("a template's document header must be a PDF");
      }
      check_filename(c.filename);
      std::string name = c.filename.value_or(default_filename(p));
      if (!name.empty()) doc["filename"] = name;
      param = {{"type", "document"}, {"document", doc}};
      break;
    }
    case HeaderKind::none:
      break;
    }
    components.push_back({{"type", "header"}, {"parameters", json::array({param})}});
  }
  if (!c.body_params.empty()) {
    json params = json::array();
    for (std::size_t i = 0; i < c.body_params.size(); ++i) {
      check_template_param(c.body_params[i], "a --body-param", 1024);
      json param = {{"type", "text"}, {"text", c.body_params[i]}};
      if (i < c.body_param_names.size()) param["parameter_name"] = c.body_param_names[i];
      params.push_back(std::move(param));
    }
    components.push_back({{"type", "body"}, {"parameters", params}});
  }
  std::vector<int> seen;
  for (const auto& [index, value] : c.button_params) {
    if (index < 0 || index > 9) bad(fmt::format("button index {} is out of range (0-9)", index));
    if (std::find(seen.begin(), seen.end(), index) != seen.end()) {
      bad(fmt::format("button index {} is given twice", index));
    }
    seen.push_back(index);
    check_template_param(value, "a --button-param value", 2000);
    auto kind = c.button_types.find(index);
    std::string sub_type = kind == c.button_types.end() ? "url" : kind->second;
    json param = {{"type", "text"}, {"text", value}};
    if (sub_type == "quick_reply") param = {{"type", "payload"}, {"payload", value}};
    if (sub_type == "copy_code") param = {{"type", "coupon_code"}, {"coupon_code", value}};
    components.push_back({{"type", "button"},
                          {"sub_type", sub_type},
                          {"index", std::to_string(index)},
                          {"parameters", json::array({param})}});
  }
  if (!components.empty()) template_obj["components"] = components;
  return template_obj;
}

} // namespace

bool is_media_link(std::string_view value) {
  return value.rfind("https://", 0) == 0 || value.rfind("http://", 0) == 0;
}

MediaSource resolve_media(const std::string& value, MediaKind kind) {
  const KindRule& rule = rule_for(kind);
  if (value.empty()) bad(fmt::format("the {} is empty: give a URL or a file", rule.name));
  if (is_media_link(value)) return MediaSource{value, {}, {}, 0};
  if (value.size() > 4096 || value.find('\0') != std::string::npos) {
    bad(fmt::format("the {} path is not valid", rule.name));
  }
  std::filesystem::path path(value);
  std::string ext = path.extension().string();
  if (!ext.empty()) ext.erase(0, 1);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  const MediaRule* match = nullptr;
  for (const auto& t : rule.types) {
    if (ext == t.extension) match = &t;
  }
  if (match == nullptr) {
    std::string allowed;
    for (const auto& t : rule.types)
      allowed += (allowed.empty() ? "" : ", ") + std::string(t.extension);
    bad(fmt::format("'{}' is not a supported {} file", value, rule.name),
        fmt::format("Meta accepts {} files of type {}", rule.name, allowed));
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    bad(fmt::format("cannot read '{}': {}", value, std::strerror(errno)),
        "give an http(s):// URL or an existing file");
  }
  if (!S_ISREG(st.st_mode)) bad(fmt::format("'{}' is not a regular file", value));
  if (::access(path.c_str(), R_OK) != 0) {
    bad(fmt::format("cannot read '{}': {}", value, std::strerror(errno)));
  }
  auto size = static_cast<std::uintmax_t>(st.st_size);
  if (size == 0) bad(fmt::format("'{}' is empty", value));
  if (size > rule.max_bytes) {
    bad(fmt::format("'{}' is {}; Meta accepts {} files up to {}", value, human_size(size),
                    rule.name, human_size(rule.max_bytes)));
  }
  return MediaSource{{}, path, match->mime, size};
}

PreparedSend prepare_send(const SendRequest& r) {
  PreparedSend p;
  p.request = r;
  require_tenant_id(r.tenant);
  p.recipient = parse_peer(r.to);
  const Content& c = r.content;

  json body = {{"messaging_product", "whatsapp"}, {"recipient_type", "individual"}};
  if (p.recipient.phone_number) {
    body["to"] = *p.recipient.phone_number;
  } else {
    body["recipient"] = *p.recipient.user_id;
  }

  auto media_kind = [&]() -> std::optional<MediaKind> {
    switch (c.kind) {
    case ContentKind::image:
      return MediaKind::image;
    case ContentKind::video:
      return MediaKind::video;
    case ContentKind::audio:
      return MediaKind::audio;
    case ContentKind::document:
      return MediaKind::document;
    case ContentKind::sticker:
      return MediaKind::sticker;
    default:
      return std::nullopt;
    }
  }();

  if (c.caption && (c.kind != ContentKind::image && c.kind != ContentKind::video &&
                    c.kind != ContentKind::document)) {
    bad("--caption goes with --image, --video or --document");
  }
  if (c.filename && c.kind != ContentKind::document && c.kind != ContentKind::templated) {
    bad("--filename goes with --document or --header-document");
  }

  switch (c.kind) {
  case ContentKind::text:
    check_text(c.text, "the text", 4096);
    p.type = "text";
    body["text"] = {{"body", c.text}, {"preview_url", c.preview_url}};
    p.display_text = c.text;
    break;
  case ContentKind::templated:
    p.type = "template";
    body["template"] = template_body(c, p);
    break;
  case ContentKind::image:
  case ContentKind::video:
  case ContentKind::audio:
  case ContentKind::document:
  case ContentKind::sticker: {
    const KindRule& rule = rule_for(*media_kind);
    p.type = rule.name;
    std::string flag = std::string("--") + rule.name;
    json obj =
        media_object(c.media, *media_kind, flag.c_str(), p, json::json_pointer() / rule.name);
    if (c.caption) {
      check_text(*c.caption, "--caption", 1024);
      obj["caption"] = *c.caption;
      p.display_text = c.caption;
    }
    if (c.kind == ContentKind::document) {
      check_filename(c.filename);
      std::string name = c.filename.value_or(default_filename(p));
      if (!name.empty()) obj["filename"] = name;
    }
    body[rule.name] = obj;
    break;
  }
  case ContentKind::reaction:
    if (!r.reply_to) bad("--reaction needs --reply-to MESSAGE_ID (the message to react to)");
    check_text(c.emoji, "the reaction emoji", 16, true);
    p.type = "reaction";
    body["reaction"] = {{"message_id", *r.reply_to}, {"emoji", c.emoji}};
    p.display_text = c.emoji;
    break;
  case ContentKind::location: {
    if (!std::isfinite(c.latitude) || c.latitude < -90 || c.latitude > 90 ||
        !std::isfinite(c.longitude) || c.longitude < -180 || c.longitude > 180) {
      bad("the location is out of range (latitude -90..90, longitude -180..180)");
    }
    p.type = "location";
    json loc = {{"latitude", c.latitude}, {"longitude", c.longitude}};
    std::string shown;
    if (c.location_name) {
      check_text(*c.location_name, "--name", 1000);
      loc["name"] = *c.location_name;
      shown = *c.location_name;
    }
    if (c.location_address) {
      check_text(*c.location_address, "--address", 1000);
      loc["address"] = *c.location_address;
      shown += (shown.empty() ? "" : "\n") + *c.location_address;
    }
    if (!shown.empty()) p.display_text = shown;
    body["location"] = loc;
    break;
  }
  }
  body["type"] = p.type;

  if (r.reply_to) {
    if (r.reply_to->empty()) bad("--reply-to is empty");
    if (!is_local_id(*r.reply_to)) check_wamid(*r.reply_to, "--reply-to");
    // A reaction names its message inside the reaction object; anything else replies.
    if (c.kind != ContentKind::reaction) body["context"] = {{"message_id", *r.reply_to}};
  }
  if (r.callback_data) {
    if (r.callback_data->empty()) bad("--callback-data is empty");
    if (r.callback_data->size() > 512) {
      bad(fmt::format("--callback-data is {} bytes; Meta allows at most 512",
                      r.callback_data->size()));
    }
    check_text(*r.callback_data, "--callback-data", 512);
    body["biz_opaque_callback_data"] = *r.callback_data;
  }
  if (r.contact_id) check_text(*r.contact_id, "--contact-id", 256);
  if (r.idempotency_key) {
    check_text(*r.idempotency_key, "--idempotency-key", 256);
    for (unsigned char ch : *r.idempotency_key) {
      if (ch < 0x20 || ch == 0x7f) bad("--idempotency-key contains control characters");
    }
  }
  p.body = std::move(body);
  return p;
}

std::optional<std::string> wa_me_link(const PreparedSend& p) {
  if (!p.recipient.phone_number) return std::nullopt;
  std::string link = "https://wa.me/" + *p.recipient.phone_number;
  if (p.display_text && !p.display_text->empty()) link += "?text=" + url_encode(*p.display_text);
  return link;
}

} // namespace wabactl
