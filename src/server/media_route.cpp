#include "server/media_route.hpp"

#include "server/rest.hpp"
#include "wabactl/error.hpp"
#include "wabactl/media_index.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <array>
#include <memory>

namespace wabactl::server {
namespace {

using nlohmann::json;

// A mime type as it may go into a header (Meta's or the sender's value, never trusted):
// type/subtype with token characters and parameters; anything else is served as bytes.
std::string content_type_of(const std::optional<std::string>& mime) {
  constexpr const char* fallback = "application/octet-stream";
  if (!mime || mime->empty() || mime->size() > 127 || mime->find('/') == std::string::npos) {
    return fallback;
  }
  for (unsigned char c : *mime) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("!#$&^_.+-/;= ").find(static_cast<char>(c)) != std::string::npos;
    if (!ok) return fallback;
  }
  return *mime;
}

// Shown in the browser only for types a browser renders without running anything: SVG and
// HTML carry scripts, so they are always downloads.
bool shown_inline(const std::string& type) {
  std::string_view t = std::string_view(type).substr(0, type.find(';'));
  return t == "image/jpeg" || t == "image/png" || t == "image/webp" || t == "image/gif" ||
         t.starts_with("audio/") || t.starts_with("video/");
}

// RFC 6266: an ASCII fallback in filename= (media_download_name has already removed quotes,
// backslashes and control characters) and the UTF-8 name in filename* when they differ.
std::string content_disposition(const std::string& type, const std::string& name) {
  std::string ascii;
  bool plain = true;
  for (unsigned char c : name) {
    if (c < 0x80) {
      ascii.push_back(static_cast<char>(c));
    } else {
      plain = false;
      if ((c & 0xc0) != 0x80) ascii.push_back('_'); // one _ per non-ASCII character
    }
  }
  std::string out =
      fmt::format("{}; filename=\"{}\"", shown_inline(type) ? "inline" : "attachment", ascii);
  if (!plain) out += "; filename*=UTF-8''" + url_encode(name);
  return out;
}

// Whether an If-None-Match (or If-Range) list names `etag`; weak comparison, `*` matches.
bool names_etag(const std::string& header, const std::string& etag) {
  std::string_view rest = header;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view item = trim(rest.substr(0, comma));
    if (item.starts_with("W/")) item.remove_prefix(2);
    if (item == "*" || item == etag) return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

struct ByteRange {
  std::int64_t first = 0;
  std::int64_t last = 0; // inclusive
};

// httplib parsed the Range header into pairs (-1 for an absent bound). One range is served
// clamped to the bytes; several are answered with the whole file (RFC 9110 §14.2 allows it,
// and players ask for one). nullopt: no range to apply; a range with first > last: none of
// the bytes it asks for exist (416).
std::optional<ByteRange> requested_range(const httplib::Ranges& ranges, std::int64_t size) {
  if (ranges.size() != 1) return std::nullopt;
  auto [a, b] = ranges.front();
  constexpr ByteRange unsatisfiable{1, 0};
  if (a < 0 && b < 0) return std::nullopt;
  if (a < 0) { // the last b bytes
    if (b <= 0 || size == 0) return unsatisfiable;
    return ByteRange{std::max<std::int64_t>(0, size - b), size - 1};
  }
  if (a >= size || (b >= 0 && b < a)) return unsatisfiable;
  return ByteRange{a, b < 0 ? size - 1 : std::min<std::int64_t>(b, size - 1)};
}

} // namespace

void serve_media(const httplib::Request& req, httplib::Response& res, Store& store,
                 const std::string& tenant, const std::string& id) {
  // httplib 0.11 would apply the parsed ranges to whatever this answers, without checking
  // them against its length (a range past the end reads bytes that do not exist): this
  // route serves ranges itself. The Request is httplib's own non-const object.
  httplib::Ranges ranges = std::exchange(const_cast<httplib::Request&>(req).ranges, {});
  auto m = find_media(store, tenant, id);
  if (!m) throw Error(Exit::not_found, "no such message with media");
  const MessageMedia& media = *m->media;
  if (media.state == media_state_pending) {
    reply_json(
        res, 409,
        {{"error", {{"code", "pending"}, {"message", "the media is being fetched from Meta"}}},
         {"state", media_state_pending}});
    res.set_header("Retry-After", "5");
    return;
  }
  if (media.state != media_state_stored || !media.sha256) {
    reply_json(res, 410,
               {{"error", {{"code", "gone"}, {"message", media.error.value_or("failed")}}},
                {"state", media_state_failed}});
    return;
  }
  auto reader = std::make_shared<MediaReader>(store, *media.sha256);
  const std::int64_t size = reader->size();
  const std::string etag = "\"" + *media.sha256 + "\"";
  const std::string type = content_type_of(media.mime_type);
  res.set_header("ETag", etag);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Cache-Control", "private");
  res.set_header("Accept-Ranges", "bytes");
  if (req.has_header("If-None-Match") && names_etag(req.get_header_value("If-None-Match"), etag)) {
    res.status = 304;
    return;
  }
  res.set_header("Content-Disposition", content_disposition(type, media_download_name(*m)));
  res.set_header("Content-Security-Policy", "sandbox");
  std::optional<ByteRange> range;
  // If-Range: a range of the bytes the client has, else the whole (changed) file.
  if (!req.has_header("If-Range") || names_etag(req.get_header_value("If-Range"), etag)) {
    range = requested_range(ranges, size);
  }
  if (range && range->first > range->last) {
    res.set_header("Content-Range", fmt::format("bytes */{}", size));
    reply_json(res, 416,
               {{"error",
                 {{"code", "range_not_satisfiable"},
                  {"message", fmt::format("the media has {} bytes", size)}}}});
    return;
  }
  std::int64_t first = range ? range->first : 0;
  std::int64_t length = range ? range->last - range->first + 1 : size;
  res.status = range ? 206 : 200;
  if (range) {
    res.set_header("Content-Range", fmt::format("bytes {}-{}/{}", range->first, range->last, size));
  }
  if (length == 0) {
    res.set_content("", type);
    return;
  }
  res.set_content_provider(
      static_cast<std::size_t>(length), type,
      [reader, first](std::size_t offset, std::size_t want, httplib::DataSink& sink) {
        std::array<char, 64 * 1024> buf{};
        try {
          std::size_t got = reader->read_at(first + static_cast<std::int64_t>(offset), buf.data(),
                                            std::min(want, buf.size()));
          // A file that shrank under us ends the response short: the client sees it cut.
          return got > 0 && sink.write(buf.data(), got);
        } catch (const Error&) {
          return false;
        }
      });
}

} // namespace wabactl::server
