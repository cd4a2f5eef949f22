#pragma once
// A small client for Meta's Graph API (WhatsApp Cloud API) on libcurl: request shapes,
// timeouts, and Meta's error classes. Stateless apart from a reusable connection.

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace wabactl {

/// Where and as whom to call: base URL (no trailing slash), version (v25.0), token.
struct GraphTarget {
  std::string base_url;
  std::string version;
  std::string access_token;
};

struct GraphTimeouts {
  std::chrono::milliseconds connect{5000};
  std::chrono::milliseconds total{30000};
};

/// What came back from one HTTP exchange.
struct HttpResult {
  long status = 0;             ///< HTTP status; 0 when no response arrived
  std::string body;            ///< response body
  std::string transport_error; ///< curl's message when no response arrived
  bool request_sent = false;   ///< whether any request bytes left this machine
  std::optional<long> retry_after_seconds;
  bool ok() const { return status >= 200 && status < 300; }
};

/// One part of a multipart/form-data upload.
struct FormPart {
  std::string name;
  std::string value;     ///< the value, or the file contents when `filename` is set
  std::string filename;  ///< non-empty for file parts
  std::string mime_type; ///< for file parts
};

/// Meta's error object (`{"error":{...}}`), decoded.
struct MetaError {
  long http_status = 0;
  int code = 0;
  int subcode = 0;
  std::string type;
  std::string message;
  std::string title;
  std::string details;
  std::string fbtrace_id;
  bool is_transient = false;
};

/// What to do about an error (CLOUD-API-NOTES.md, "Limits and errors").
enum class ErrorClass { retry, wait_day, credentials, permanent };

/// Classifies a Meta error by code (never by text).
ErrorClass classify(const MetaError& error);
/// Decodes Meta's error body; for a non-2xx answer without one, a MetaError with only the
/// HTTP status and the body's first bytes as message.
std::optional<MetaError> parse_meta_error(const HttpResult& result);
/// One line for users: "Meta error 190 (OAuthException): Error validating access token:
/// ... (fbtrace_id AbC)" plus what to do, where wabactl knows.
std::string describe(const MetaError& error);
/// Advice for a code ("outside the 24-hour window: send a template"), or empty.
std::string advice_for(int code);
/// Advice for a decoded error: as advice_for(code) for Meta's own errors; for an answer
/// that was not Meta's error object (a proxy's page, a wrong --graph-url), says so.
std::string advice_for(const MetaError& error);

/// What a download (GraphClient::download) accepts.
struct DownloadRules {
  /// The transfer is aborted as soon as more bytes than this arrive (or are announced).
  std::int64_t max_bytes = 0;
  /// Redirects followed, each to a URL `allowed` accepts; one more is refused.
  int max_redirects = 3;
  /// Whether a URL (the first and every redirect's target) may be fetched: the bearer token
  /// goes with each request, so only to hosts the caller trusts.
  std::function<bool(const std::string& url)> allowed;
  /// The whole transfer, and the least it must move: 1 KiB/s over 30 s.
  std::chrono::milliseconds total{600000};
  /// When set (from another thread), the transfer is abandoned.
  const std::atomic<bool>* cancel = nullptr;
};

/// How a download ended. Bytes went to the sink only for a 2xx answer.
struct DownloadResult {
  enum class Stop {
    none,      ///< the transfer ran to its end (see status, truncated, transport_error)
    too_large, ///< more than max_bytes announced or sent
    html,      ///< a 2xx answer whose Content-Type is text/html: a page, not the bytes
    refused,   ///< a URL `allowed` refused (refused_url)
    redirects, ///< more than max_redirects redirects
    cancelled, ///< `cancel` was set
  };
  Stop stop = Stop::none;
  long status = 0; ///< the last answer's HTTP status; 0 when none arrived
  std::string content_type;
  std::int64_t bytes = 0; ///< bytes handed to the sink
  std::string body;       ///< the first 4 KiB of a non-2xx answer (Meta's error object)
  std::string transport_error;
  bool truncated = false; ///< the connection ended before the announced length
  std::string refused_url;
};

class GraphClient {
public:
  explicit GraphClient(GraphTarget target, GraphTimeouts timeouts = {});
  GraphClient(GraphClient&&) noexcept;
  GraphClient& operator=(GraphClient&&) noexcept;
  ~GraphClient();

  /// GET {base}/{version}/{path}; `path` has no leading slash and may carry a query.
  HttpResult get(const std::string& path);
  /// POST JSON to {base}/{version}/{path}.
  HttpResult post_json(const std::string& path, const nlohmann::json& body);
  /// POST multipart/form-data to {base}/{version}/{path}.
  HttpResult post_form(const std::string& path, const std::vector<FormPart>& parts);
  /// GET an absolute `url` with the bearer token, streaming a 2xx answer's body to `sink`
  /// (never held whole in memory), within `rules`; redirects are followed by hand so that
  /// each target is checked. An exception from `sink` ends the transfer and is rethrown.
  DownloadResult download(const std::string& url, const DownloadRules& rules,
                          const std::function<void(const char*, std::size_t)>& sink);

  const GraphTarget& target() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The phone number's identity as `GET /{phone_number_id}` answers it.
struct PhoneNumberInfo {
  std::string id;
  std::string display_phone_number;
  std::string verified_name;
  std::string quality_rating;
};

/// Outcome of testing credentials against Meta.
struct CredentialCheck {
  enum class Result { ok, rejected_credentials, rejected, unreachable } result;
  std::optional<PhoneNumberInfo> info;
  std::optional<MetaError> error;
  std::string transport_error;
};

/// Calls `GET /{version}/{phone_number_id}` with the token and classifies the answer.
CredentialCheck check_credentials(GraphClient& client, const std::string& phone_number_id);

} // namespace wabactl
