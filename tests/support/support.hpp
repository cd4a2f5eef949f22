#pragma once
// Test support: temporary folders, running the real wabactl binary, and a fake Graph API
// (a cpp-httplib server on a loopback port chosen by the kernel) that answers like Meta.

#include "support/temp_dir.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace testsupport {

/// The keys of a config's JSON object (`config get --json`, GET /api/whatsapp/config): the
/// contract's list, exactly.
inline const std::set<std::string> config_json_keys = {
    "tenant_id",  "phone_number_id", "business_account_id", "api_version",
    "graph_url",  "is_active",       "needs_reauth",        "access_token",
    "app_secret", "verify_token",    "created_at",          "updated_at"};

/// The keys of `j`, to compare with a contract's list.
inline std::set<std::string> keys_of(const nlohmann::json& j) {
  std::set<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.insert(k);
  return keys;
}

/// What a finished process left.
struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  /// stderr split into lines (without the newline).
  std::vector<std::string> err_lines() const;
};

/// Runs a program with `args`, a clean environment (PATH, HOME and LANG kept) plus `env`,
/// and `input` on stdin. Fails the test if it runs longer than `timeout_s`.
/// `started`, when given, receives the child's pid as soon as it is forked (for a test that
/// signals it midway, e.g. from a FakeGraph handler).
RunResult run_program(const std::string& program, const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env = {},
                      const std::string& input = {}, int timeout_s = 60,
                      std::atomic<int>* started = nullptr);

/// A ready-to-use environment for the real binary: database and key under one TempDir.
class Wabactl {
public:
  explicit Wabactl(const TempDir& dir);
  /// Runs `wabactl args...` with this environment (plus `extra_env`).
  RunResult operator()(const std::vector<std::string>& args, const std::string& input = {},
                       const std::map<std::string, std::string>& extra_env = {}) const;
  /// Runs `wabactl args...`, storing its pid in `pid` once it is forked.
  RunResult run_noting_pid(const std::vector<std::string>& args, std::atomic<int>& pid) const;
  std::map<std::string, std::string> env;
  std::filesystem::path db;
  std::filesystem::path key;
};

/// A loopback port nothing listens on right now (bound to port 0, then released): for a
/// server to listen on, or as a port where a client finds no one.
int free_port();

/// A TCP connection to 127.0.0.1:`port` (a blocking socket the caller closes), from the
/// address `source` when given (any 127.x address is this machine's).
int connect_loopback(int port, const std::string& source = {});

/// Reads a whole file (binary).
std::string slurp(const std::filesystem::path& path);

/// The executable `name` on $PATH, or nullopt.
std::optional<std::filesystem::path> find_program(const std::string& name);

/// What skip() prints before its reason; tests/CMakeLists.txt matches it.
inline constexpr const char* skip_marker = "WABACTL-TEST-SKIPPED: ";

/// Reports the running test case as skipped, for `reason` (a tool the test needs is not
/// installed): it prints the line that ctest's SKIP_REGULAR_EXPRESSION (tests/CMakeLists.txt)
/// turns into "Skipped" instead of "Passed". Return from the test case right after it.
void skip(const std::string& reason);

/// One part of a multipart/form-data request the fake Graph API received.
struct RecordedPart {
  std::string name;
  std::string filename;
  std::string content_type;
  std::string content;
};

/// One request the fake Graph API received.
struct Recorded {
  std::string method;
  std::string path;
  std::string query;
  std::string authorization;
  std::string content_type;
  std::string body;
  std::vector<RecordedPart> parts; ///< multipart/form-data parts, in name order
};

/// A response the fake Graph API gives.
struct Reply {
  Reply(int s, std::string b, std::map<std::string, std::string> h = {}, int delay = 0)
      : status(s), body(std::move(b)), headers(std::move(h)), delay_ms(delay) {}
  int status;
  std::string body;
  std::map<std::string, std::string> headers;
  int delay_ms;
};

/// An in-process HTTP server that behaves like graph.facebook.com for what wabactl uses.
/// By default: GET /{v}/{phone_number_id} answers the number's identity for a known token,
/// Meta's 190 error for any other; POST /{v}/{id}/messages answers a wamid; POST
/// /{v}/{id}/media answers a media id; GET /{v}/{media_id} of media added with add_media()
/// answers Meta's media info (`{url, mime_type, sha256, file_size, id}`) whose url is
/// media_download_path(id) on this server, which answers the bytes (the token needed there
/// too). `handler` overrides everything when set.
class FakeGraph {
public:
  FakeGraph();
  ~FakeGraph();
  /// http://127.0.0.1:PORT
  std::string url() const;
  int port() const;

  /// Tokens the default handlers accept.
  void accept_token(const std::string& token);
  /// Serves `bytes` as the media `media_id` (see the class comment).
  void add_media(const std::string& media_id, std::string bytes,
                 const std::string& mime_type = "image/jpeg");
  /// The path the media info of `media_id` points at.
  static std::string media_download_path(const std::string& media_id);
  /// The SHA-256 of `bytes` in lowercase hex, as Meta's media info announces it.
  static std::string sha256_hex(const std::string& bytes);
  /// Serves `templates` (Meta's template objects) as the catalogue of the business account
  /// `waba_id`: GET /{v}/{waba_id}/message_templates answers them `page_size` at a time (or
  /// fewer when the request's `limit` says so), with Meta's `paging` (`cursors.after`, and
  /// `next` as a URL on this server while more follow).
  void set_templates(const std::string& waba_id, nlohmann::json templates,
                     std::size_t page_size = 2);
  /// Overrides every answer (return nullopt to fall back to the defaults).
  void set_handler(std::function<std::optional<Reply>(const Recorded&)> handler);

  std::vector<Recorded> requests() const;
  std::size_t count(const std::string& method, const std::string& path_suffix) const;
  void clear();

  /// Meta's error body for `code`.
  static std::string error_body(int code, const std::string& message, int subcode = 0,
                                const std::string& details = {});

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace testsupport
