#pragma once
// What the REST routes share: JSON answers and errors, the guard that turns library errors
// into them, and reading bodies, fields and query parameters.

#include "server/context.hpp"
#include "wabactl/error.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>

namespace wabactl::server {

/// An Error's exit code as an HTTP status and the JSON error code.
std::pair<int, const char*> http_status(Exit code);

/// Answers `body` with `status` as application/json (invalid UTF-8 replaced).
void reply_json(httplib::Response& res, int status, const nlohmann::json& body);

/// Answers an Error as its status and `{"error": {"code", "message"}}` (with its hint in the
/// message); internal errors answer a generic message, since theirs may name the daemon's
/// files.
void reply_error(httplib::Response& res, const Error& e);

/// Runs a handler's body, answering library errors as JSON (reply_error) and a failure of
/// the database (StoreError) as 503 with Retry-After, so the client retries.
void guarded(httplib::Response& res, const httplib::Request& req, const std::function<void()>& fn);

/// Whether a route needs a request body.
enum class Body { required, optional };

/// The request's body as a JSON object (an empty object for an absent optional body).
/// Error(usage) when it is larger than 64 KiB, missing when required, or not an object.
nlohmann::json parse_body(const httplib::Request& req, Body body);

/// A string field under the first of its names present; Error(usage) when present but not a
/// string.
std::optional<std::string> string_field(const nlohmann::json& j,
                                        std::initializer_list<const char*> names);
/// A boolean field under the first of its names present; Error(usage) when not a boolean.
std::optional<bool> bool_field(const nlohmann::json& j, std::initializer_list<const char*> names);

/// A query parameter under the first of its names present.
std::optional<std::string> param(const httplib::Request& req,
                                 std::initializer_list<const char*> names);
/// A query parameter as a number from 0 to `max`, `fallback` when absent; Error(usage) else.
std::size_t number_param(const httplib::Request& req, const char* name, std::size_t fallback,
                         std::size_t max);

/// The route's first path parameter (a message id); Error(not_found) when empty or too long.
std::string path_id(const httplib::Request& req);

} // namespace wabactl::server
