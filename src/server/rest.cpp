#include "server/rest.hpp"

#include "wabactl/log.hpp"
#include "wabactl/store.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>
#include <httplib.h>

#include <charconv>

namespace wabactl::server {
namespace {

using nlohmann::json;

constexpr std::size_t max_api_body = 64 * 1024;
constexpr std::size_t max_id_length = 512;

} // namespace

std::pair<int, const char*> http_status(Exit code) {
  switch (code) {
  case Exit::usage:
    return {400, "bad_request"};
  case Exit::not_found:
    return {404, "not_found"};
  case Exit::credentials:
    return {400, "credentials_rejected"};
  case Exit::rejected:
    return {400, "rejected"};
  case Exit::not_configured:
    return {409, "not_configured"};
  case Exit::exists:
    return {409, "conflict"};
  case Exit::tempfail:
    return {503, "unavailable"};
  default:
    return {500, "internal"};
  }
}

void reply_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void reply_error(httplib::Response& res, const Error& e) {
  auto [status, code] = http_status(e.code());
  std::string message = e.what();
  if (!e.hint().empty()) message += "; hint: " + e.hint();
  if (const auto* refusal = dynamic_cast<const Refusal*>(&e)) {
    send_error(res, 422, refusal->reason(), message);
    return;
  }
  // Server faults are logged, not shown: they may name the daemon's files.
  if (status == 500) message = "internal error; the daemon's log has the details";
  if (status == 503) res.set_header("Retry-After", "5");
  send_error(res, status, code, message);
}

void guarded(httplib::Response& res, const httplib::Request& req, const std::function<void()>& fn) {
  try {
    fn();
  } catch (const StoreError& e) {
    LOG_WARN("{} {}: {}", req.method, req.path, e.what());
    res.set_header("Retry-After", "1");
    send_error(res, 503, "unavailable", "the database is busy; retry");
  } catch (const Error& e) {
    if (e.code() == Exit::internal) LOG_ERROR("{} {}: {}", req.method, req.path, e.what());
    reply_error(res, e);
  }
}

json parse_body(const httplib::Request& req, Body body) {
  if (req.body.size() > max_api_body) {
    throw Error(Exit::usage, fmt::format("the body is larger than {} bytes", max_api_body));
  }
  if (req.body.empty() || trim(req.body).empty()) {
    if (body == Body::optional) return json::object();
    throw Error(Exit::usage, "a JSON object body is required");
  }
  json j = json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error(Exit::usage, "the body is not a JSON object");
  return j;
}

std::optional<std::string> string_field(const json& j, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    auto it = j.find(n);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_string()) throw Error(Exit::usage, fmt::format("'{}' must be a string", n));
    return it->get<std::string>();
  }
  return std::nullopt;
}

std::optional<bool> bool_field(const json& j, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    auto it = j.find(n);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_boolean()) throw Error(Exit::usage, fmt::format("'{}' must be true or false", n));
    return it->get<bool>();
  }
  return std::nullopt;
}

std::optional<std::string> param(const httplib::Request& req,
                                 std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (req.has_param(n)) return req.get_param_value(n);
  }
  return std::nullopt;
}

std::size_t number_param(const httplib::Request& req, const char* name, std::size_t fallback,
                         std::size_t max) {
  auto v = param(req, {name});
  if (!v) return fallback;
  std::size_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (v->empty() || ec != std::errc() || end != v->data() + v->size() || n > max) {
    throw Error(Exit::usage, fmt::format("'{}' must be a number up to {}", name, max));
  }
  return n;
}

std::string path_id(const httplib::Request& req) {
  std::string id = req.matches[1];
  if (id.empty() || id.size() > max_id_length) throw Error(Exit::not_found, "no such message");
  return id;
}

} // namespace wabactl::server
