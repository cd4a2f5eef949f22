#include "wabactl/media_fetch.hpp"

#include "wabactl/claimant.hpp"
#include "wabactl/config_service.hpp"
#include "wabactl/error.hpp"
#include "wabactl/media.hpp"
#include "wabactl/secrets.hpp"
#include "wabactl/store.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <variant>

namespace wabactl {
namespace {

using nlohmann::json;

constexpr std::int64_t max_cap = std::int64_t{2} << 30;
// The media info request is small; the download gets DownloadRules::total.
constexpr GraphTimeouts info_timeouts{std::chrono::milliseconds(10000),
                                      std::chrono::milliseconds(30000)};
// `media get` holds its claim this long: longer than one download may take.
constexpr std::chrono::seconds cli_lease{900};

struct UrlParts {
  std::string scheme;
  std::string host;
  int port = 0;
};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::optional<UrlParts> parse_url(const std::string& url) {
  if (url.empty() || url.size() > 8192) return std::nullopt;
  for (unsigned char c : url) {
    if (c <= 0x20 || c >= 0x7f) return std::nullopt;
  }
  auto sep = url.find("://");
  if (sep == std::string::npos) return std::nullopt;
  UrlParts p;
  p.scheme = lower(url.substr(0, sep));
  if (p.scheme != "https" && p.scheme != "http") return std::nullopt;
  auto rest = url.substr(sep + 3);
  auto authority = rest.substr(0, rest.find_first_of("/?#"));
  // user@host is refused: it is how a URL hides its real host from a reader.
  if (authority.empty() || authority.find('@') != std::string::npos) return std::nullopt;
  std::string port;
  if (authority[0] == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos) return std::nullopt;
    p.host = authority.substr(0, close + 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return std::nullopt;
      port = authority.substr(close + 2);
    }
  } else {
    auto colon = authority.find(':');
    p.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  p.host = lower(p.host);
  if (p.host.empty()) return std::nullopt;
  p.port = p.scheme == "https" ? 443 : 80;
  if (!port.empty()) {
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p.port);
    if (ec != std::errc() || end != port.data() + port.size() || p.port < 1 || p.port > 65535) {
      return std::nullopt;
    }
  }
  return p;
}

bool on_domain(const std::string& host, std::string_view domain) {
  if (host == domain) return true;
  return host.size() > domain.size() + 1 && host.ends_with(domain) &&
         host[host.size() - domain.size() - 1] == '.';
}

bool meta_host(const std::string& host) {
  for (std::string_view d : {"fbsbx.com", "facebook.com", "fbcdn.net", "whatsapp.net"}) {
    if (on_domain(host, d)) return true;
  }
  return false;
}

// Where a URL points, for a reason: scheme and host, never the path (Meta's signed query).
std::string origin_of(const std::string& url) {
  auto p = parse_url(url);
  if (!p) return "a malformed URL";
  return fmt::format("{}://{}:{}", p->scheme, p->host, p->port);
}

// The announced size in Meta's info answer: a number or a string of digits.
std::optional<std::int64_t> size_in(const json& v) {
  if (v.is_number_unsigned()) {
    auto n = v.get<std::uint64_t>();
    if (n > static_cast<std::uint64_t>(max_cap) * 1024) return std::nullopt;
    return static_cast<std::int64_t>(n);
  }
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec == std::errc() && end == s.data() + s.size() && n >= 0) return n;
  }
  return std::nullopt;
}

bool valid_media_id(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.';
  });
}

MediaOutcome retry(std::string reason) {
  return {MediaResult::retry, std::move(reason), std::nullopt};
}
MediaOutcome failed(std::string reason) {
  return {MediaResult::failed, std::move(reason), std::nullopt};
}

std::string credentials_reason(const std::string& what, const std::string& tenant) {
  return fmt::format("Meta rejected tenant '{}''s access token ({}): replace it with `wabactl "
                     "config set --tenant {} --access-token-file FILE`",
                     tenant, what, tenant);
}

// What Meta's answer to a failed request says, in one line.
std::string meta_says(const HttpResult& r) {
  auto e = parse_meta_error(r);
  if (!e) return fmt::format("HTTP {}", r.status);
  return describe(*e);
}

// GET /{media_id}: the short-lived URL and what Meta announces of the bytes.
struct MediaInfo {
  std::string url;
  std::optional<std::string> sha256;
  std::optional<std::int64_t> size;
};

std::variant<MediaInfo, MediaOutcome> media_info(GraphClient& client, const MediaJob& job,
                                                 const std::string& phone_number_id) {
  HttpResult r = client.get(fmt::format("{}?phone_number_id={}", job.media_id, phone_number_id));
  if (!r.transport_error.empty()) {
    return retry("the Graph API could not be reached: " + r.transport_error);
  }
  if (!r.ok()) {
    auto e = parse_meta_error(r);
    if (r.status == 401 || (e && classify(*e) == ErrorClass::credentials)) {
      return failed(credentials_reason(meta_says(r), job.tenant_id));
    }
    if (r.status == 404) {
      return failed("Meta has no media with this id (404): it expired (7 days after the "
                    "message) or was deleted");
    }
    if (r.status >= 500 || r.status == 429 || (e && classify(*e) == ErrorClass::retry)) {
      return retry("Meta's media info answered " + meta_says(r));
    }
    return failed("Meta refused the media info request: " + meta_says(r));
  }
  json j = json::parse(r.body, nullptr, false);
  const json* url = j.is_object() && j.contains("url") ? &j["url"] : nullptr;
  if (url == nullptr || !url->is_string() || url->get_ref<const std::string&>().empty()) {
    auto start = r.body.find_first_not_of(" \t\r\n");
    bool html = start != std::string::npos && r.body[start] == '<';
    return failed(html ? "Meta's media info answer is an HTML page, not JSON"
                       : "Meta's media info answer is not the JSON it documents (no url)");
  }
  MediaInfo info;
  info.url = url->get<std::string>();
  if (j.contains("sha256") && j["sha256"].is_string()) {
    info.sha256 = sha256_hex(j["sha256"].get_ref<const std::string&>());
  }
  if (j.contains("file_size")) info.size = size_in(j["file_size"]);
  return info;
}

MediaOutcome fetch(Store& store, const MediaJob& job, const MediaCaps& caps,
                   const SecretsOpener& open, const std::atomic<bool>* cancel) {
  if (!valid_media_id(job.media_id)) return failed("Meta's media id is malformed");
  auto config = find_config(store, job.tenant_id);
  if (!config || !config->is_active) {
    return retry(fmt::format("tenant '{}' has no active WhatsApp config", job.tenant_id));
  }
  ConfigSecrets secrets = open(*config);
  if (!secrets.access_token) {
    return failed(fmt::format("tenant '{}' has no access token", job.tenant_id));
  }
  const std::string graph_url = effective_graph_url(*config);
  GraphClient client(graph_target(*config, secrets), info_timeouts);

  auto answer = media_info(client, job, config->phone_number_id);
  if (auto* outcome = std::get_if<MediaOutcome>(&answer)) return *outcome;
  const auto& info = std::get<MediaInfo>(answer);

  const std::int64_t cap = caps.cap_for(job.type);
  const auto announced = info.size ? info.size : job.size;
  if (announced && *announced > cap) {
    return failed(fmt::format("the {} is {} bytes, over its cap of {} bytes (--media-max)",
                              job.type, *announced, cap));
  }
  std::vector<std::string> hashes;
  for (const auto& h : {info.sha256, job.sha256}) {
    if (h && std::find(hashes.begin(), hashes.end(), *h) == hashes.end()) hashes.push_back(*h);
  }

  IncomingMedia incoming(store);
  DownloadRules rules;
  rules.max_bytes = announced ? std::min(*announced, cap) : cap;
  rules.allowed = [&](const std::string& u) { return media_url_allowed(u, graph_url); };
  rules.cancel = cancel;
  DownloadResult d = client.download(
      info.url, rules, [&](const char* data, std::size_t n) { incoming.write(data, n); });
  using Stop = DownloadResult::Stop;
  switch (d.stop) {
  case Stop::cancelled:
    return {MediaResult::abandoned, "stopped", std::nullopt};
  case Stop::refused:
    return failed(fmt::format("refused to download from {}: the URL must be {}",
                              origin_of(d.refused_url),
                              meta_host(parse_url(graph_url).value_or(UrlParts{}).host)
                                  ? "https on a Meta host"
                                  : "on the tenant's Graph API host " + origin_of(graph_url)));
  case Stop::redirects:
    return failed(fmt::format("the download was redirected more than {} times (a redirect "
                              "loop?)",
                              rules.max_redirects));
  case Stop::html:
    return failed("the download is an HTML page (Content-Type " + d.content_type +
                  "), not the media");
  case Stop::too_large:
    if (announced && *announced < cap) {
      return failed(
          fmt::format("the download is larger than the {} bytes Meta announced", *announced));
    }
    return failed(
        fmt::format("the {} is larger than its cap of {} bytes (--media-max)", job.type, cap));
  case Stop::none:
    break;
  }
  if (d.truncated) {
    return retry(fmt::format("the download was cut short after {} bytes", incoming.size()));
  }
  if (!d.transport_error.empty()) return retry("the download failed: " + d.transport_error);
  if (d.status < 200 || d.status >= 300) {
    HttpResult r{d.status, d.body, {}, true, std::nullopt};
    if (d.status == 401 || d.status == 403) {
      return failed(credentials_reason(meta_says(r), job.tenant_id));
    }
    // A 404 here is most often the URL's 5 minutes passing: the next attempt asks for a new one.
    if (d.status >= 500 || d.status == 429 || d.status == 404 || d.status == 410) {
      return retry(fmt::format("the download answered HTTP {}", d.status));
    }
    return failed(fmt::format("the download answered HTTP {}", d.status));
  }
  if (announced && incoming.size() < *announced) {
    return retry(fmt::format("the download was truncated: {} of the {} bytes Meta announced",
                             incoming.size(), *announced));
  }
  if (incoming.size() == 0) return failed("the download is empty");
  const std::string got = incoming.sha256();
  for (const auto& h : hashes) {
    if (h != got) {
      return failed(fmt::format("the bytes' sha256 {} is not the {} Meta announced", got, h));
    }
  }
  StoredMedia stored = incoming.keep();
  if (auto message = record_media_stored(store, job, stored)) {
    return {MediaResult::stored, {}, message};
  }
  return retry("the bytes were removed by 'wabactl media prune' as they were kept");
}

} // namespace

std::int64_t MediaCaps::cap_for(const std::string& type) const {
  auto it = bytes.find(type);
  if (it != bytes.end()) return it->second;
  return bytes.count("document") != 0 ? bytes.at("document") : 100 << 20;
}

void set_media_cap(MediaCaps& caps, const std::string& spec) {
  auto eq = spec.find('=');
  std::string type = spec.substr(0, eq);
  if (eq == std::string::npos || !is_media_type(type)) {
    throw Error(Exit::usage, fmt::format("--media-max '{}' is not TYPE=BYTES", spec.substr(0, 80)),
                "TYPE is image, video, audio, document or sticker; e.g. --media-max image=8388608");
  }
  std::string value = spec.substr(eq + 1);
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size() || n < 1 ||
      n > max_cap) {
    throw Error(Exit::usage,
                fmt::format("--media-max {}: BYTES must be between 1 and {}", type, max_cap));
  }
  caps.bytes[type] = n;
}

bool media_url_allowed(const std::string& url, const std::string& graph_url) {
  auto target = parse_url(url);
  auto base = parse_url(graph_url);
  if (!target || !base) return false;
  if (base->scheme == "https" && meta_host(base->host)) {
    return target->scheme == "https" && meta_host(target->host);
  }
  return target->scheme == base->scheme && target->host == base->host && target->port == base->port;
}

const char* media_result_name(MediaResult result) {
  switch (result) {
  case MediaResult::stored:
    return "stored";
  case MediaResult::retry:
    return "retry";
  case MediaResult::failed:
    return "failed";
  case MediaResult::abandoned:
    return "abandoned";
  }
  return "failed";
}

MediaOutcome process_media_job(Store& store, const MediaJob& job, const MediaCaps& caps,
                               const SecretsOpener& open, const std::string& claimant,
                               const std::atomic<bool>* cancel) {
  MediaOutcome outcome;
  try {
    outcome = fetch(store, job, caps, open, cancel);
  } catch (const StoreError&) {
    throw;
  } catch (const std::exception& e) {
    // The disk refusing the bytes, a secret that does not open: reasons that may pass.
    outcome = retry(e.what());
  }
  const std::int64_t now = now_ms() / 1000;
  switch (outcome.result) {
  case MediaResult::stored:
    break;
  case MediaResult::abandoned:
    release_media_job(store, job, claimant);
    break;
  case MediaResult::retry:
    if (record_media_retry(store, job, outcome.reason, now)) {
      outcome.result = MediaResult::failed;
      outcome.message = find_message_by_local_id(store, job.tenant_id, job.message_id);
      if (outcome.message && outcome.message->media && outcome.message->media->error) {
        outcome.reason = *outcome.message->media->error;
      }
    }
    break;
  case MediaResult::failed:
    record_media_failed(store, job, outcome.reason);
    break;
  }
  return outcome;
}

Message fetch_media_now(Store& store, const MasterKey& key, const std::string& tenant,
                        std::int64_t message_local_id, const MediaCaps& caps) {
  auto message = find_message_by_local_id(store, tenant, message_local_id);
  if (!message || !message->media) {
    throw Error(Exit::not_found,
                fmt::format("no media message {} for tenant '{}'", message_local_id, tenant));
  }
  auto failed_error = [&](const std::string& reason) {
    return Error(Exit::rejected, fmt::format("the media of message {} could not be fetched: {}",
                                             message_local_id, reason));
  };
  if (message->media->state == "stored") return *message;
  if (message->media->state == "failed") {
    throw failed_error(message->media->error.value_or("no reason recorded"));
  }
  const std::string& claimant = outbox_claimant();
  auto job = claim_media_job(store, tenant, message_local_id, claimant, now_ms() / 1000, cli_lease);
  if (!job) {
    throw Error(Exit::tempfail,
                fmt::format("the media of message {} is being fetched right now", message_local_id),
                "try again in a moment");
  }
  auto opener = [&key](const Config& c) { return open_secrets(c, key); };
  MediaOutcome outcome = process_media_job(store, *job, caps, opener, claimant);
  switch (outcome.result) {
  case MediaResult::stored:
    return *outcome.message;
  case MediaResult::failed:
    throw failed_error(outcome.reason);
  case MediaResult::retry:
  case MediaResult::abandoned:
    break;
  }
  throw Error(Exit::tempfail,
              fmt::format("the media of message {} could not be fetched yet: {}", message_local_id,
                          outcome.reason),
              "it stays queued: `wabactl serve` retries it, or run this again later");
}

} // namespace wabactl
