#include "wabactl/graph.hpp"

#include "wabactl/error.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <cstdlib>
#include <mutex>

namespace wabactl {
namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw Error(Exit::internal, "libcurl could not be initialised");
    }
  });
}

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

} // namespace

struct GraphClient::Impl {
  GraphTarget target;
  GraphTimeouts timeouts;
  CURL* curl = nullptr;

  ~Impl() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }

  std::string url(const std::string& path) const {
    return fmt::format("{}/{}/{}", target.base_url, target.version, path);
  }

  HttpResult perform(const std::string& path, curl_slist* headers, const std::string* body,
                     curl_mime* mime) {
    if (curl == nullptr) {
      curl = curl_easy_init();
      if (curl == nullptr) throw Error(Exit::internal, "libcurl could not create a handle");
    } else {
      curl_easy_reset(curl);
    }
    HttpResult result;
    std::string u = url(path);
    std::string auth = "Authorization: Bearer " + target.access_token;
    headers = curl_slist_append(headers, auth.c_str());
    headers = curl_slist_append(headers, "Expect:");
    headers = curl_slist_append(headers, "User-Agent: wabactl/" WABACTL_VERSION);
    curl_easy_setopt(curl, CURLOPT_URL, u.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeouts.connect.count()));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeouts.total.count()));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result);
    if (mime != nullptr) {
      curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
    } else if (body != nullptr) {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    }
    CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    long request_size = 0;
    curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &request_size);
    result.request_sent = request_size > 0;
    if (rc != CURLE_OK) {
      result.transport_error = fmt::format("{} ({})", curl_easy_strerror(rc), u);
      return result;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
    return result;
  }
};

GraphClient::GraphClient(GraphTarget target, GraphTimeouts timeouts)
    : impl_(std::make_unique<Impl>()) {
  global_init();
  impl_->target = std::move(target);
  impl_->timeouts = timeouts;
}
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
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  return impl_->perform(path, headers, &text, nullptr);
}

HttpResult GraphClient::post_form(const std::string& path, const std::vector<FormPart>& parts) {
  if (impl_->curl == nullptr) {
    impl_->curl = curl_easy_init();
    if (impl_->curl == nullptr) throw Error(Exit::internal, "libcurl could not create a handle");
  }
  curl_mime* mime = curl_mime_init(impl_->curl);
  for (const auto& p : parts) {
    curl_mimepart* part = curl_mime_addpart(mime);
    curl_mime_name(part, p.name.c_str());
    curl_mime_data(part, p.value.data(), p.value.size());
    if (!p.filename.empty()) curl_mime_filename(part, p.filename.c_str());
    if (!p.mime_type.empty()) curl_mime_type(part, p.mime_type.c_str());
  }
  HttpResult r = impl_->perform(path, nullptr, nullptr, mime);
  curl_mime_free(mime);
  return r;
}

} // namespace wabactl
