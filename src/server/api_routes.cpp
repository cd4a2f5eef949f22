#include "server/api_routes.hpp"

#include "server/sse.hpp"
#include "server/stream_slots.hpp"
#include "server/websocket.hpp"
#include "wabactl/config_service.hpp"
#include "wabactl/configs.hpp"
#include "wabactl/conversations.hpp"
#include "wabactl/error.hpp"
#include "wabactl/events.hpp"
#include "wabactl/graph.hpp"
#include "wabactl/log.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/secrets.hpp"
#include "wabactl/send.hpp"
#include "wabactl/store.hpp"
#include "wabactl/tokens.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <charconv>

namespace wabactl::server {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr std::size_t max_api_body = 64 * 1024;
constexpr std::size_t max_id_length = 512;

// Everything the API routes share; kept alive by the route lambdas and shutdown hook.
struct Api {
  Context& ctx;
  EventHub hub;
  std::unique_ptr<ws::WebSocketServer> websocket;
  StreamSlots slots;

  Api(Context& c, EventHubOptions o) : ctx(c), hub(std::move(o)), slots(c.options.max_streams) {}
};

// An Error from the library, as an HTTP status and error code.
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
  // Server faults are logged, not shown: they may name the daemon's files.
  if (status == 500) message = "internal error; the daemon's log has the details";
  if (status == 503) res.set_header("Retry-After", "5");
  send_error(res, status, code, message);
}

// Runs a handler body, turning library errors into JSON answers.
template <typename Fn> void guarded(httplib::Response& res, const httplib::Request& req, Fn&& fn) {
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

// The bearer token of a request: the Authorization header, else ?access_token=.
std::string presented_token(const httplib::Request& req) {
  if (req.has_header("Authorization")) {
    std::string v = req.get_header_value("Authorization");
    if (v.size() > 7 && (v.compare(0, 7, "Bearer ") == 0 || v.compare(0, 7, "bearer ") == 0)) {
      return std::string(trim(std::string_view(v).substr(7)));
    }
    return {};
  }
  if (req.has_param("access_token")) return req.get_param_value("access_token");
  return {};
}

// The tenant the request's token belongs to, or nullopt after answering 401 (429 once the
// address has failed too often). A valid token is never refused, whatever its address did.
std::optional<ApiToken> authenticate(Api& api, const httplib::Request& req,
                                     httplib::Response& res) {
  std::string token = presented_token(req);
  std::optional<ApiToken> who;
  if (!token.empty()) {
    auto store = api.ctx.readers.lease();
    who = authenticate_token(*store, token);
  }
  if (who) return who;
  std::string address = client_address(req);
  // Only a wrong token counts towards the address's failure limit; a missing one is a
  // client that has not logged in, not someone guessing.
  if (!token.empty() && api.ctx.limiter.failure(address)) {
    const char* message = "too many failed authentications; retry later";
    api.ctx.refusals.refuse("api", "rate_limited", 429, address, message);
    res.set_header("Retry-After", "60");
    send_error(res, 429, "rate_limited", message);
    return std::nullopt;
  }
  const char* message = token.empty() ? "an API token is required: 'Authorization: Bearer <token>'"
                                      : "the API token is invalid or revoked";
  api.ctx.refusals.refuse("api", token.empty() ? "no_token" : "token", 401, address, message);
  res.set_header("WWW-Authenticate", "Bearer");
  send_error(res, 401, "unauthorized", message);
  return std::nullopt;
}

json parse_body(const httplib::Request& req, bool allow_empty) {
  if (req.body.size() > max_api_body) {
    throw Error(Exit::usage, fmt::format("the body is larger than {} bytes", max_api_body));
  }
  if (req.body.empty() || trim(req.body).empty()) {
    if (allow_empty) return json::object();
    throw Error(Exit::usage, "a JSON object body is required");
  }
  json j = json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error(Exit::usage, "the body is not a JSON object");
  return j;
}

// A string field under any of its names; Error(usage) when present but not a string.
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

// A query parameter under any of its names.
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

// ---- config ----------------------------------------------------------------------------

void get_config(Api& api, const std::string& tenant, httplib::Response& res) {
  auto store = api.ctx.readers.lease();
  Config c = require_config(*store, tenant);
  reply_json(res, 200, config_json(c, api.ctx.tenants.open(c), false));
}

void post_config(Api& api, const std::string& tenant, const httplib::Request& req,
                 httplib::Response& res) {
  json body = parse_body(req, false);
  ConfigUpdate u;
  u.tenant_id = tenant;
  auto store = api.ctx.readers.lease();
  auto phone = string_field(body, {"phone_number_id", "phoneNumberId"});
  if (phone) {
    u.phone_number_id = *phone;
  } else if (auto existing = find_config(*store, tenant)) {
    u.phone_number_id = existing->phone_number_id;
  } else {
    throw Error(Exit::usage, "'phone_number_id' is required");
  }
  u.business_account_id = string_field(body, {"business_account_id", "businessAccountId"});
  u.verify_token = string_field(body, {"verify_token", "verifyToken"});
  u.api_version = string_field(body, {"api_version", "apiVersion"});
  // The token's holder must not choose where the daemon sends the token (and whose answer
  // it reads back): the Graph API address is the admin's, set with the CLI.
  for (const char* n : {"graph_url", "graphUrl"}) {
    if (body.contains(n)) {
      throw Error(Exit::usage, fmt::format("'{}' cannot be set through the API", n),
                  "the admin sets it with 'wabactl config set --graph-url'");
    }
  }
  u.webhook_url = string_field(body, {"webhook_url", "webhookUrl"});
  u.is_active = bool_field(body, {"is_active", "isActive"});
  u.access_token = string_field(body, {"access_token", "accessToken", "api_key", "apiKey"});
  u.app_secret = string_field(body, {"app_secret", "appSecret", "api_secret", "apiSecret"});
  if (u.access_token) validate_secret(*u.access_token, "access token");
  if (u.app_secret) validate_secret(*u.app_secret, "app secret");
  bool test = bool_field(body, {"test"}).value_or(true);
  const MasterKey& key = api.ctx.tenants.master_key();
  ConfigSetResult r;
  try {
    r = set_config(*store, key, u, test ? CredentialTest::run : CredentialTest::skip);
  } catch (const Error& e) {
    // The CLI's message names the tenant that has the number; a tenant must not learn it.
    if (e.code() != Exit::exists) throw;
    throw Error(Exit::exists, "this phone number id is already configured for another tenant",
                "one WhatsApp number belongs to one tenant");
  }
  api.hub.wake();
  json out = config_json(r.config, open_secrets(r.config, key), false);
  if (r.info) {
    out["verified"] = {{"verified_name", r.info->verified_name},
                       {"display_phone_number", r.info->display_phone_number},
                       {"quality_rating", r.info->quality_rating}};
  }
  if (!r.warning.empty()) out["warning"] = r.warning;
  reply_json(res, 200, out);
}

void delete_config_route(Api& api, const std::string& tenant, httplib::Response& res) {
  auto store = api.ctx.readers.lease();
  delete_config(*store, tenant);
  api.hub.wake();
  reply_json(res, 200, {{"tenant_id", tenant}, {"deleted", true}});
}

void test_config_route(Api& api, const std::string& tenant, httplib::Response& res) {
  auto store = api.ctx.readers.lease();
  PhoneNumberInfo info = test_config(*store, api.ctx.tenants.master_key(), tenant);
  reply_json(res, 200,
             {{"ok", true},
              {"phone_number_id", info.id},
              {"verified_name", info.verified_name},
              {"display_phone_number", info.display_phone_number},
              {"quality_rating", info.quality_rating}});
}

// ---- send ------------------------------------------------------------------------------

// A media value from the API must be a URL: a path would make the daemon read (and upload)
// its own files on a remote client's behalf.
std::string media_url(const json& value, const char* what) {
  std::optional<std::string> url;
  if (value.is_string()) {
    url = value.get<std::string>();
  } else if (value.is_object()) {
    url = string_field(value, {"link", "url"});
  }
  if (!url || (url->rfind("https://", 0) != 0 && url->rfind("http://", 0) != 0)) {
    throw Error(Exit::usage,
                fmt::format("'{}' must be an http(s) URL (or {{\"link\": URL}})", what));
  }
  return *url;
}

Content template_content(const json& t) {
  if (!t.is_object()) throw Error(Exit::usage, "'template' must be an object");
  Content c;
  c.kind = ContentKind::templated;
  c.template_name = string_field(t, {"name"}).value_or("");
  c.language = string_field(t, {"language", "lang"}).value_or("");
  if (auto it = t.find("body_params"); it != t.end() && !it->is_null()) {
    if (!it->is_array()) throw Error(Exit::usage, "'body_params' must be an array of strings");
    for (const auto& p : *it) {
      if (!p.is_string()) throw Error(Exit::usage, "'body_params' must be an array of strings");
      c.body_params.push_back(p.get<std::string>());
    }
  }
  if (auto it = t.find("button_params"); it != t.end() && !it->is_null()) {
    if (!it->is_array()) throw Error(Exit::usage, "'button_params' must be an array");
    for (const auto& p : *it) {
      if (!p.is_object() || !p.contains("index") || !p["index"].is_number_integer()) {
        throw Error(Exit::usage, "'button_params' items are {\"index\": N, \"value\": \"…\"}");
      }
      // Checked before narrowing: a huge index must not wrap into a valid one.
      const json& index = p["index"];
      if (!index.is_number_unsigned() || index.get<std::uint64_t>() > 9) {
        throw Error(Exit::usage, "a button's 'index' is 0 to 9");
      }
      c.button_params.emplace_back(index.get<int>(), string_field(p, {"value"}).value_or(""));
    }
  }
  if (auto v = string_field(t, {"header_text"})) {
    c.header = HeaderKind::text;
    c.header_value = *v;
  }
  for (auto [name, kind] :
       {std::pair{"header_image", HeaderKind::image}, std::pair{"header_video", HeaderKind::video},
        std::pair{"header_document", HeaderKind::document}}) {
    if (auto it = t.find(name); it != t.end() && !it->is_null()) {
      if (c.header != HeaderKind::none)
        throw Error(Exit::usage, "a template has one header at most");
      c.header = kind;
      c.header_value = media_url(*it, name);
    }
  }
  c.filename = string_field(t, {"filename"});
  return c;
}

SendRequest send_request(const std::string& tenant, const json& body) {
  SendRequest r;
  r.tenant = tenant;
  r.to = string_field(body, {"phoneNumber", "phone_number", "to"}).value_or("");
  if (r.to.empty()) throw Error(Exit::usage, "'phoneNumber' (or 'phone_number') is required");
  r.contact_id = string_field(body, {"contactId", "contact_id"});
  r.idempotency_key = string_field(body, {"idempotency_key", "idempotencyKey"});
  r.reply_to = string_field(body, {"reply_to", "replyTo"});
  r.callback_data = string_field(body, {"callback_data", "callbackData"});

  int kinds = 0;
  if (auto m = string_field(body, {"message", "text"})) {
    ++kinds;
    r.content.kind = ContentKind::text;
    r.content.text = *m;
    r.content.preview_url = bool_field(body, {"preview_url"}).value_or(false);
  }
  if (auto it = body.find("template"); it != body.end() && !it->is_null()) {
    ++kinds;
    r.content = template_content(*it);
  }
  for (auto [name, kind] :
       {std::pair{"image", ContentKind::image}, std::pair{"video", ContentKind::video},
        std::pair{"audio", ContentKind::audio}, std::pair{"document", ContentKind::document}}) {
    auto it = body.find(name);
    if (it == body.end() || it->is_null()) continue;
    ++kinds;
    r.content = Content{};
    r.content.kind = kind;
    r.content.media = media_url(*it, name);
    if (it->is_object()) {
      r.content.caption = string_field(*it, {"caption"});
      r.content.filename = string_field(*it, {"filename"});
    }
  }
  if (kinds != 1) {
    throw Error(Exit::usage, "give exactly one of 'message' (or 'text'), 'template', 'image', "
                             "'video', 'audio', 'document'");
  }
  return r;
}

json meta_json(const MetaError& m) {
  return {{"code", m.code},
          {"subcode", m.subcode},
          {"title", m.title},
          {"details", m.details},
          {"fbtrace_id", m.fbtrace_id}};
}

void post_send(Api& api, const std::string& tenant, const httplib::Request& req,
               httplib::Response& res) {
  json body = parse_body(req, false);
  SendRequest request = send_request(tenant, body);
  if (!request.idempotency_key && req.has_header("Idempotency-Key")) {
    request.idempotency_key = req.get_header_value("Idempotency-Key");
  }
  PreparedSend prepared = prepare_send(request);
  auto store = api.ctx.readers.lease();
  auto target = send_target(
      *store, [&](const Config& c) { return api.ctx.tenants.open(c); }, tenant);
  if (!target) {
    auto link = wa_me_link(prepared);
    json out = {{"error",
                 {{"code", "not_configured"},
                  {"message", fmt::format("tenant '{}' has no active WhatsApp config", tenant)}}},
                {"fallback_url", link ? json(*link) : json(nullptr)}};
    reply_json(res, 409, out);
    return;
  }
  SharedStore shared(*store);
  Sender sender(shared, std::move(*target), SendPolicy{}, steady_clock());
  SendOutcome outcome = sender.send(prepared);
  api.hub.wake();
  if (outcome.exit == Exit::ok) {
    if (!outcome.duplicate) ++api.ctx.metrics.messages_sent;
    json out = outcome.message ? to_json(*outcome.message) : json::object();
    // As the CLI: a key Meta already accepted is replayed, never sent twice.
    if (outcome.duplicate) out["replayed"] = true;
    reply_json(res, 200, out);
    return;
  }
  ++api.ctx.metrics.messages_failed;
  if (outcome.meta_error) api.ctx.metrics.graph_error(outcome.meta_error->code);
  auto [status, code] = http_status(outcome.exit);
  std::string message = outcome.error;
  if (!outcome.hint.empty()) message += "; hint: " + outcome.hint;
  json err = {{"code", code}, {"message", message}};
  if (outcome.meta_error) err["meta"] = meta_json(*outcome.meta_error);
  json out = {{"error", err}};
  if (outcome.unknown) out["state"] = "unknown";
  if (outcome.message) out["message"] = to_json(*outcome.message);
  if (status == 503) res.set_header("Retry-After", "30");
  reply_json(res, status, out);
}

// ---- conversations ---------------------------------------------------------------------

void get_messages(Api& api, const std::string& tenant, const httplib::Request& req,
                  httplib::Response& res) {
  HistoryQuery q;
  auto contact = param(req, {"contactId", "contact_id"});
  auto phone = param(req, {"phoneNumber", "phone_number"});
  if (contact && phone) throw Error(Exit::usage, "give a contact id or a phone number, not both");
  if (contact) q.contact_id = *contact;
  if (phone) q.peer = parse_peer(*phone);
  if (auto d = param(req, {"direction"})) {
    if (*d == "in" || *d == "incoming") {
      q.direction = Direction::incoming;
    } else if (*d == "out" || *d == "outgoing") {
      q.direction = Direction::outgoing;
    } else {
      throw Error(Exit::usage, "'direction' is in or out");
    }
  }
  q.limit = number_param(req, "limit", 50, max_history_limit);
  if (q.limit == 0) throw Error(Exit::usage, "'limit' must be at least 1");
  q.before = param(req, {"before"});
  if (q.before && q.before->empty()) throw Error(Exit::usage, "'before' must be a message id");
  q.offset = number_param(req, "offset", 0, std::size_t{1} << 40);
  if (q.before && q.offset != 0) throw Error(Exit::usage, "give 'before' or 'offset', not both");
  auto store = api.ctx.readers.lease();
  std::vector<Message> page = history(*store, tenant, q);
  json messages = json::array();
  for (const auto& m : page) messages.push_back(to_json(m));
  json next = nullptr;
  if (page.size() == q.limit && !page.empty()) next = std::to_string(page.front().id);
  reply_json(res, 200, {{"messages", messages}, {"next_before", next}});
}

void get_status(Api& api, const std::string& tenant, const httplib::Request& req,
                httplib::Response& res) {
  std::string id = path_id(req);
  auto store = api.ctx.readers.lease();
  reply_json(res, 200, to_json(message_status(*store, tenant, id)));
}

void get_unread_count(Api& api, const std::string& tenant, httplib::Response& res) {
  auto store = api.ctx.readers.lease();
  reply_json(res, 200, {{"count", unread_count(*store, tenant)}});
}

void get_unread(Api& api, const std::string& tenant, httplib::Response& res) {
  auto store = api.ctx.readers.lease();
  json list = json::array();
  for (const auto& c : unread_by_conversation(*store, tenant)) {
    auto opt = [](const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); };
    list.push_back({{"phone_number", opt(c.phone_number)},
                    {"user_id", opt(c.user_id)},
                    {"contact_name", opt(c.contact_name)},
                    {"unread", c.unread},
                    {"last_message_at", c.last_message_at},
                    {"last_text", opt(c.last_text)}});
  }
  reply_json(res, 200, {{"conversations", list}});
}

// Read receipts for the newest message of each conversation marked; failures are logged
// (the local marks stay, as with the CLI).
std::size_t send_receipts(Api& api, Store& store, const std::string& tenant,
                          const MarkResult& result) {
  std::vector<std::string> wamids;
  for (const auto& c : result.conversations) {
    if (c.receipt_wamid) wamids.push_back(*c.receipt_wamid);
  }
  if (wamids.empty()) return 0;
  auto config = find_config(store, tenant);
  if (!config || !config->is_active) return 0;
  std::optional<std::string> token;
  try {
    token = api.ctx.tenants.open(*config).access_token;
  } catch (const Error& e) {
    LOG_WARN("tenant {}: no read receipt sent: {}", tenant, e.what());
    return 0;
  }
  if (!token) return 0;
  GraphClient client({effective_graph_url(*config), effective_api_version(*config), *token});
  std::size_t sent = 0;
  for (const auto& wamid : wamids) {
    json body = {{"messaging_product", "whatsapp"}, {"status", "read"}, {"message_id", wamid}};
    HttpResult r = client.post_json(config->phone_number_id + "/messages", body);
    if (r.ok()) {
      ++sent;
    } else if (auto meta = parse_meta_error(r); meta && r.status != 0) {
      api.ctx.metrics.graph_error(meta->code);
      LOG_WARN("tenant {}: read receipt for {} failed: {}", tenant, wamid, describe(*meta));
    } else {
      LOG_WARN("tenant {}: read receipt for {} failed: {}", tenant, wamid, r.transport_error);
    }
  }
  return sent;
}

void mark(Api& api, const std::string& tenant, const MarkTarget& target, bool receipt,
          httplib::Response& res) {
  auto store = api.ctx.readers.lease();
  MarkResult result = mark_read(*store, tenant, target);
  api.hub.wake();
  std::size_t receipts = receipt ? send_receipts(api, *store, tenant, result) : 0;
  reply_json(res, 200, {{"marked", result.marked}, {"receipts", receipts}});
}

void post_read(Api& api, const std::string& tenant, const httplib::Request& req,
               httplib::Response& res) {
  MarkTarget t;
  t.message_ids.push_back(path_id(req));
  json body = parse_body(req, true);
  mark(api, tenant, t, bool_field(body, {"receipt"}).value_or(true), res);
}

void post_read_all(Api& api, const std::string& tenant, const httplib::Request& req,
                   httplib::Response& res) {
  json body = parse_body(req, true);
  MarkTarget t;
  if (auto p = string_field(body, {"phone_number", "phoneNumber"})) {
    t.peer = parse_peer(*p);
  } else {
    t.all = true;
  }
  mark(api, tenant, t, bool_field(body, {"receipt"}).value_or(true), res);
}

// ---- registration ----------------------------------------------------------------------

using TenantHandler =
    std::function<void(const std::string& tenant, const httplib::Request&, httplib::Response&)>;

httplib::Server::Handler tenant_route(const std::shared_ptr<Api>& api, TenantHandler fn) {
  return [api, fn = std::move(fn)](const httplib::Request& req, httplib::Response& res) {
    guarded(res, req, [&] {
      auto who = authenticate(*api, req, res);
      if (who) fn(who->tenant_id, req, res);
    });
  };
}

ListenAddress websocket_address(const ServeOptions& o) {
  if (o.ws_listen) return *o.ws_listen;
  if (o.listen.port == 0) return {o.listen.host, 0};
  if (o.listen.port >= 65535) {
    throw Error(Exit::usage, "the HTTP port is 65535: give the WebSocket port with --ws-listen");
  }
  return {o.listen.host, o.listen.port + 1};
}

// Streams hold a descriptor each: use the hard limit, not the (often 1024) soft one.
void raise_descriptor_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
  }
}

} // namespace

void register_api_routes(httplib::Server& http, Context& ctx) {
  raise_descriptor_limit();
  EventHubOptions hub_options;
  hub_options.db = ctx.options.db;
  hub_options.poll_interval = 100ms;
  auto api = std::make_shared<Api>(ctx, hub_options);
  api->hub.start();

  ws::ServerOptions wo;
  ListenAddress addr = websocket_address(ctx.options);
  wo.host = addr.host;
  wo.port = addr.port;
  wo.db = ctx.options.db;
  wo.clients_gauge = &ctx.metrics.ws_clients;
  wo.sse_gauge = &ctx.metrics.sse_clients;
  wo.slots = &api->slots;
  wo.limiter = &ctx.limiter;
  wo.on_refusal = [&ctx](int status, std::string_view why, const std::string& address,
                         std::string_view detail) {
    ctx.refusals.refuse("stream", why, status, address, detail);
  };
  // A stream costs a descriptor and its buffers, not a thread: allow many (handshakes
  // included), and bound the worst case of full write buffers by --max-streams.
  wo.max_connections = ctx.options.max_streams + 1024;
  wo.write_buffer_cap = 256 * 1024;
  api->websocket = std::make_unique<ws::WebSocketServer>(wo, api->hub);
  try {
    api->websocket->start();
  } catch (...) {
    api->hub.stop();
    throw;
  }
  LOG_INFO("WebSocket listening on ws://{}:{}{}", wo.host, api->websocket->port(), wo.path);

  ctx.writer.on_commit([weak = std::weak_ptr<Api>(api)](const GroupCommit& c) {
    if (!c.appended_events) return;
    if (auto a = weak.lock()) a->hub.wake();
  });
  ctx.on_shutdown([api] {
    api->websocket->stop();
    api->hub.stop();
  });

  const std::string base = "/api/whatsapp";
  http.Get(base + "/config",
           tenant_route(api, [api](const std::string& t, const httplib::Request&,
                                   httplib::Response& res) { get_config(*api, t, res); }));
  http.Post(base + "/config",
            tenant_route(api, [api](const std::string& t, const httplib::Request& req,
                                    httplib::Response& res) { post_config(*api, t, req, res); }));
  http.Delete(
      base + "/config",
      tenant_route(api, [api](const std::string& t, const httplib::Request&,
                              httplib::Response& res) { delete_config_route(*api, t, res); }));
  http.Post(base + "/config/test",
            tenant_route(api, [api](const std::string& t, const httplib::Request&,
                                    httplib::Response& res) { test_config_route(*api, t, res); }));
  http.Post(base + "/send",
            tenant_route(api, [api](const std::string& t, const httplib::Request& req,
                                    httplib::Response& res) { post_send(*api, t, req, res); }));
  http.Get(base + "/messages",
           tenant_route(api, [api](const std::string& t, const httplib::Request& req,
                                   httplib::Response& res) { get_messages(*api, t, req, res); }));
  http.Get(base + R"(/messages/([^/]+)/status)",
           tenant_route(api, [api](const std::string& t, const httplib::Request& req,
                                   httplib::Response& res) { get_status(*api, t, req, res); }));
  http.Post(base + R"(/messages/([^/]+)/read)",
            tenant_route(api, [api](const std::string& t, const httplib::Request& req,
                                    httplib::Response& res) { post_read(*api, t, req, res); }));
  http.Get(base + "/unread-count",
           tenant_route(api, [api](const std::string& t, const httplib::Request&,
                                   httplib::Response& res) { get_unread_count(*api, t, res); }));
  http.Get(base + "/unread",
           tenant_route(api, [api](const std::string& t, const httplib::Request&,
                                   httplib::Response& res) { get_unread(*api, t, res); }));
  http.Post(base + "/read-all",
            tenant_route(api, [api](const std::string& t, const httplib::Request& req,
                                    httplib::Response& res) { post_read_all(*api, t, req, res); }));
  http.Get(base + "/events", [api](const httplib::Request& req, httplib::Response& res) {
    guarded(res, req, [&] { serve_events(api->ctx, *api->websocket, api->slots, req, res); });
  });
  // The WebSocket on the HTTP port too, so that a browser page served from it (and one
  // reverse proxy location) reaches it; the handshake is checked where --ws-listen checks it.
  http.Get(base + "/ws", [api](const httplib::Request& req, httplib::Response& res) {
    guarded(res, req, [&] { serve_websocket_upgrade(*api->websocket); });
  });
}

} // namespace wabactl::server
