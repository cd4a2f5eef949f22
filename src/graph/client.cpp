#include "wabactl/graph.hpp"

#include "graph/curl_api.hpp"
#include "wabactl/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <exception>

namespace wabactl {
namespace {

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  // Graph answers are small; refuse to buffer anything absurd.
  if (out->size() + size * n > 16u * 1024u * 1024u) return 0;
  out->append(data, size * n);
  return size * n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* result = static_cast<HttpResult*>(user);
  std::string_view line(data, size * n);
  constexpr std::string_view name = "retry-after:";
  if (line.size() > name.size()) {
    bool match = true;
    for (std::size_t i = 0; i < name.size() && match; ++i) {
      match = std::tolower(static_cast<unsigned char>(line[i])) == name[i];
    }
    if (match) {
      std::string value(line.substr(name.size()));
      char* end = nullptr;
      long secs = std::strtol(value.c_str(), &end, 10);
      if (end != value.c_str() && secs >= 0) result->retry_after_seconds = secs;
    }
  }
  return size * n;
}

bool is_html(const std::string& content_type) {
  std::string lower;
  for (char c : content_type) lower.push_back(static_cast<char>(std::tolower(c)));
  return lower.find("text/html") != std::string::npos;
}

// One hop of a download, as the curl callbacks see it.
struct DownloadHop {
  const CurlApi& api;
  CURL* curl;
  const DownloadRules& rules;
  const std::function<void(const char*, std::size_t)>& sink;
  DownloadResult& result;
  bool started = false;
  bool success = false;
  std::exception_ptr error;
};

constexpr std::size_t max_error_body = 4096;

std::size_t on_download(char* data, std::size_t size, std::size_t n, void* user) {
  auto* hop = static_cast<DownloadHop*>(user);
  const std::size_t len = size * n;
  DownloadResult& r = hop->result;
  if (!hop->started) {
    hop->started = true;
    hop->api.easy_getinfo(hop->curl, CURLINFO_RESPONSE_CODE, &r.status);
    char* type = nullptr;
    hop->api.easy_getinfo(hop->curl, CURLINFO_CONTENT_TYPE, &type);
    if (type != nullptr) r.content_type = type;
    hop->success = r.status >= 200 && r.status < 300;
    curl_off_t announced = -1;
    hop->api.easy_getinfo(hop->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced);
    if (hop->success && is_html(r.content_type)) {
      r.stop = DownloadResult::Stop::html;
      return 0;
    }
    if (hop->success && announced > hop->rules.max_bytes) {
      r.stop = DownloadResult::Stop::too_large;
      return 0;
    }
  }
  if (!hop->success) {
    r.body.append(data, std::min(len, max_error_body - std::min(max_error_body, r.body.size())));
    return len;
  }
  if (r.bytes + static_cast<std::int64_t>(len) > hop->rules.max_bytes) {
    r.stop = DownloadResult::Stop::too_large;
    return 0;
  }
  try {
    hop->sink(data, len);
  } catch (...) {
    hop->error = std::current_exception();
    return 0;
  }
  r.bytes += static_cast<std::int64_t>(len);
  return len;
}

int on_download_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* hop = static_cast<DownloadHop*>(user);
  if (hop->rules.cancel != nullptr && hop->rules.cancel->load()) {
    hop->result.stop = DownloadResult::Stop::cancelled;
    return 1;
  }
  return 0;
}

} // namespace

struct GraphClient::Impl {
  // libcurl is loaded by the first client (curl_api.hpp), so only commands that call Meta
  // pay for mapping it.
  const CurlApi& api;
  GraphTarget target;
  GraphTimeouts timeouts;
  CURL* curl = nullptr;

  // A constructor, not parenthesised aggregate initialisation: clang 14 (the fuzz build)
  // does not implement the latter.
  Impl(const CurlApi& a, GraphTarget t, GraphTimeouts to)
      : api(a), target(std::move(t)), timeouts(to) {}
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (curl != nullptr) api.easy_cleanup(curl);
  }

  CURL* handle() {
    if (curl == nullptr) {
      curl = api.easy_init();
      if (curl == nullptr) throw Error(Exit::internal, "libcurl could not create a handle");
    }
    return curl;
  }

  std::string url(const std::string& path) const {
    return fmt::format("{}/{}/{}", target.base_url, target.version, path);
  }

  HttpResult perform(const std::string& path, curl_slist* headers, const std::string* body,
                     curl_mime* mime) {
    if (curl == nullptr) {
      handle();
    } else {
      api.easy_reset(curl);
    }
    HttpResult result;
    std::string u = url(path);
    std::string auth = "Authorization: Bearer " + target.access_token;
    headers = api.slist_append(headers, auth.c_str());
    headers = api.slist_append(headers, "Expect:");
    headers = api.slist_append(headers, "User-Agent: wabactl/" WABACTL_VERSION);
    api.easy_setopt(curl, CURLOPT_URL, u.c_str());
    api.easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    api.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    api.easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
    api.easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    api.easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeouts.connect.count()));
    api.easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeouts.total.count()));
    api.easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    api.easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
    api.easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    api.easy_setopt(curl, CURLOPT_HEADERDATA, &result);
    if (mime != nullptr) {
      api.easy_setopt(curl, CURLOPT_MIMEPOST, mime);
    } else if (body != nullptr) {
      api.easy_setopt(curl, CURLOPT_POSTFIELDS, body->data());
      api.easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    }
    CURLcode rc = api.easy_perform(curl);
    api.slist_free_all(headers);
    long request_size = 0;
    api.easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &request_size);
    result.request_sent = request_size > 0;
    if (rc != CURLE_OK) {
      result.transport_error = fmt::format("{} ({})", api.easy_strerror(rc), u);
      return result;
    }
    api.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
    return result;
  }
};

DownloadResult GraphClient::download(const std::string& url, const DownloadRules& rules,
                                     const std::function<void(const char*, std::size_t)>& sink) {
  const CurlApi& api = impl_->api;
  DownloadResult result;
  std::string current = url;
  const std::string auth = "Authorization: Bearer " + impl_->target.access_token;
  for (int hop = 0;; ++hop) {
    if (!rules.allowed || !rules.allowed(current)) {
      result.stop = DownloadResult::Stop::refused;
      result.refused_url = current;
      return result;
    }
    CURL* curl = impl_->handle();
    api.easy_reset(curl);
    result = DownloadResult{};
    DownloadHop state{api, curl, rules, sink, result, false, false, {}};
    curl_slist* headers = api.slist_append(nullptr, auth.c_str());
    headers = api.slist_append(headers, "User-Agent: wabactl/" WABACTL_VERSION);
    api.easy_setopt(curl, CURLOPT_URL, current.c_str());
    api.easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    api.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    api.easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    api.easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    api.easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                    static_cast<long>(impl_->timeouts.connect.count()));
    api.easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(rules.total.count()));
    api.easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    api.easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 30L);
    api.easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_download);
    api.easy_setopt(curl, CURLOPT_WRITEDATA, &state);
    api.easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    api.easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_download_progress);
    api.easy_setopt(curl, CURLOPT_XFERINFODATA, &state);
    CURLcode rc = api.easy_perform(curl);
    api.slist_free_all(headers);
    if (state.error) std::rethrow_exception(state.error);
    if (result.stop != DownloadResult::Stop::none) return result;
    if (rc != CURLE_OK) {
      result.truncated = rc == CURLE_PARTIAL_FILE;
      result.transport_error = api.easy_strerror(rc);
      return result;
    }
    api.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
    char* location = nullptr;
    api.easy_getinfo(curl, CURLINFO_REDIRECT_URL, &location);
    if (result.status < 300 || result.status >= 400 || location == nullptr) return result;
    if (hop == rules.max_redirects) {
      result.stop = DownloadResult::Stop::redirects;
      return result;
    }
    current = location;
  }
}

GraphClient::GraphClient(GraphTarget target, GraphTimeouts timeouts)
    : impl_(std::make_unique<Impl>(curl_api(), std::move(target), timeouts)) {}
GraphClient::GraphClient(GraphClient&&) noexcept = default;
GraphClient& GraphClient::operator=(GraphClient&&) noexcept = default;
GraphClient::~GraphClient() = default;

const GraphTarget& GraphClient::target() const {
  return impl_->target;
}

HttpResult GraphClient::get(const std::string& path) {
  return impl_->perform(path, nullptr, nullptr, nullptr);
}

HttpResult GraphClient::post_json(const std::string& path, const nlohmann::json& body) {
  std::string text = body.dump();
  curl_slist* headers = impl_->api.slist_append(nullptr, "Content-Type: application/json");
  return impl_->perform(path, headers, &text, nullptr);
}

HttpResult GraphClient::post_form(const std::string& path, const std::vector<FormPart>& parts) {
  const CurlApi& api = impl_->api;
  curl_mime* mime = api.mime_init(impl_->handle());
  for (const auto& p : parts) {
    curl_mimepart* part = api.mime_addpart(mime);
    api.mime_name(part, p.name.c_str());
    api.mime_data(part, p.value.data(), p.value.size());
    if (!p.filename.empty()) api.mime_filename(part, p.filename.c_str());
    if (!p.mime_type.empty()) api.mime_type(part, p.mime_type.c_str());
  }
  HttpResult r = impl_->perform(path, nullptr, nullptr, mime);
  api.mime_free(mime);
  return r;
}

} // namespace wabactl
