#include "wabactl/graph.hpp"

#include "graph/curl_api.hpp"
#include "wabactl/error.hpp"

#include <fmt/format.h>

#include <cstdlib>

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
