#include "server/api_routes.hpp"

#include "server/auth.hpp"
#include "server/media_route.hpp"
#include "server/rest.hpp"
#include "server/streams.hpp"
#include "wabactl/config_service.hpp"
#include "wabactl/configs.hpp"
#include "wabactl/conversations.hpp"
#include "wabactl/error.hpp"
#include "wabactl/graph.hpp"
#include "wabactl/hooks.hpp"
#include "wabactl/log.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/secrets.hpp"
#include "wabactl/send.hpp"
#include "wabactl/send_request.hpp"
#include "wabactl/store.hpp"
#include "wabactl/template_check.hpp"
#include "wabactl/templates.hpp"
#include "wabactl/time_bound.hpp"

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>

namespace wabactl::server {

struct Api {
  Context& ctx;
  std::shared_ptr<Streams> streams;
};

namespace {

using nlohmann::json;

// ---- config ----------------------------------------------------------------------------

void get_config(Api& api, const ApiToken& who, const httplib::Request&, httplib::Response& res) {
  const std::string& tenant = who.tenant_id;
  auto store = api.ctx.readers.lease();
  Config c = require_config(*store, tenant);
  reply_json(res, 200, config_json(c, api.ctx.tenants.open(c), false));
}

void post_config(Api& api, const ApiToken& who, const httplib::Request& req,
                 httplib::Response& res) {
  const std::string& tenant = who.tenant_id;
  json body = parse_body(req, Body::required);
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
  api.streams->wake();
  json out = config_json(r.config, open_secrets(r.config, key), false);
  if (r.info) {
    out["verified"] = {{"verified_name", r.info->verified_name},
                       {"display_phone_number", r.info->display_phone_number},
                       {"quality_rating", r.info->quality_rating}};
  }
  if (!r.warning.empty()) out["warning"] = r.warning;
  reply_json(res, 200, out);
}

void delete_config_route(Api& api, const ApiToken& who, const httplib::Request&,
                         httplib::Response& res) {
  const std::string& tenant = who.tenant_id;
  auto store = api.ctx.readers.lease();
  delete_config(*store, tenant);
  api.streams->wake();
  reply_json(res, 200, {{"tenant_id", tenant}, {"deleted", true}});
}

void test_config_route(Api& api, const ApiToken& who, const httplib::Request&,
                       httplib::Response& res) {
  const std::string& tenant = who.tenant_id;
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

// Where the send fields are in a REST body: the host app's camelCase names beside ours, a
// template's fields inside "template", a media value as a URL or {"link"|"url", "caption",
// "filename"}, a location as {"latitude", "longitude", "name", "address"}.
const JsonFields::Paths& rest_send_paths() {
  static const JsonFields::Paths paths = [] {
    JsonFields::Paths p = {
        {"to", {"phoneNumber", "phone_number", "to"}},
        {"text", {"message", "text"}},
        {"preview_url", {"preview_url", "previewUrl"}},
        {"template", {"template", "template.name"}},
        {"lang", {"template.language", "template.lang"}},
        {"header_text", {"template.header_text"}},
        {"body_params", {"template.body_params"}},
        {"button_params", {"template.button_params"}},
        {"filename", {"template.filename"}},
        {"caption", {}},
        {"reaction", {"reaction", "reaction.emoji"}},
        {"location", {"location"}},
        {"latitude", {"location.latitude"}},
        {"longitude", {"location.longitude"}},
        {"name", {"location.name"}},
        {"address", {"location.address"}},
        {"reply_to", {"reply_to", "replyTo", "reaction.message_id"}},
        {"contact_id", {"contactId", "contact_id"}},
        {"idempotency_key", {"idempotency_key", "idempotencyKey"}},
        {"callback_data", {"callback_data", "callbackData"}},
    };
    for (std::string media : {"image", "video", "audio", "document", "sticker"}) {
      p[media] = {media, media + ".link", media + ".url"};
      p["caption"].push_back(media + ".caption");
      p["filename"].push_back(media + ".filename");
    }
    for (std::string header : {"header_image", "header_video", "header_document"}) {
      std::string at = "template." + header;
      p[header] = {at, at + ".link", at + ".url"};
    }
    return p;
  }();
  return paths;
}

SendRequest send_request(const std::string& tenant, const JsonFields& fields) {
  SendRequest r = decode_send_request(tenant, fields);
  // A media value from the API must be a URL: a path would make the daemon read (and
  // upload) its own files on a remote client's behalf.
  if (auto local = local_file_field(r)) {
    throw Error(Exit::usage, fmt::format("{} must be an http(s) URL (or {{\"link\": URL}})",
                                         fields.label(*local)));
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

void post_send(Api& api, const ApiToken& who, const httplib::Request& req, httplib::Response& res) {
  const std::string& tenant = who.tenant_id;
  json body = parse_body(req, Body::required);
  JsonFields fields(body, rest_send_paths());
  SendRequest request = send_request(tenant, fields);
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
  SendCheck check(*store, tenant);
  std::optional<std::string> warning = check.check(prepared, fields);
  SharedStore shared(*store);
  Sender sender(shared, std::move(*target), SendPolicy{}, steady_clock());
  SendOutcome outcome = sender.send(prepared);
  api.streams->wake();
  if (outcome.exit == Exit::ok) {
    if (!outcome.duplicate) ++api.ctx.metrics.messages_sent;
    json out = outcome.message ? to_json(*outcome.message) : json::object();
    if (warning) out["warning"] = *warning;
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

// The search and time range of a messages request (CONTRACT.md §13): q, since, until.
void read_search_params(const httplib::Request& req, HistoryQuery& q) {
  q.search = param(req, {"q"});
  auto now = std::chrono::system_clock::now();
  if (auto v = param(req, {"since"})) q.since = parse_time_bound(*v, "'since'", now);
  if (auto v = param(req, {"until"})) q.until = parse_time_bound(*v, "'until'", now);
}

void get_messages(Api& api, const ApiToken& who, const httplib::Request& req,
                  httplib::Response& res) {
  const std::string& tenant = who.tenant_id;
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
  read_search_params(req, q);
  auto store = api.ctx.readers.lease();
  std::vector<Message> page = history(*store, tenant, q);
  json messages = json::array();
  for (const auto& m : page) messages.push_back(to_json(m));
  json next = nullptr;
  if (page.size() == q.limit && !page.empty()) next = std::to_string(page.front().id);
  reply_json(res, 200, {{"messages", messages}, {"next_before", next}});
}

void get_status(Api& api, const ApiToken& who, const httplib::Request& req,
                httplib::Response& res) {
  const std::string& tenant = who.tenant_id;
  std::string id = path_id(req);
  auto store = api.ctx.readers.lease();
  reply_json(res, 200, to_json(message_status(*store, tenant, id)));
}

// ---- templates -------------------------------------------------------------------------

void get_templates(Api& api, const ApiToken& who, const httplib::Request& req,
                   httplib::Response& res) {
  std::optional<std::string> status = param(req, {"status"});
  if (status) {
    if (status->empty() || status->size() > 32) throw Error(Exit::usage, "'status' is a status");
    for (auto& c : *status) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  auto store = api.ctx.readers.lease();
  json list = json::array();
  for (const auto& t : list_templates(*store, who.tenant_id, status)) {
    list.push_back(template_summary_json(t));
  }
  auto sync = template_sync(*store, who.tenant_id);
  reply_json(res, 200, {{"templates", list}, {"synced_at", sync ? json(sync->synced_at) : json()}});
}

void post_templates_sync(Api& api, const ApiToken& who, const httplib::Request&,
                         httplib::Response& res) {
  const std::string& tenant = who.tenant_id;
  auto store = api.ctx.readers.lease();
  auto target = send_target(
      *store, [&](const Config& c) { return api.ctx.tenants.open(c); }, tenant);
  if (!target) {
    throw Error(Exit::not_configured,
                fmt::format("tenant '{}' has no active WhatsApp config", tenant));
  }
  TemplateSync s = sync_templates(*store, *target);
  reply_json(res, 200, {{"tenant_id", tenant}, {"count", s.count}, {"synced_at", s.synced_at}});
}

void get_unread_count(Api& api, const ApiToken& who, const httplib::Request&,
                      httplib::Response& res) {
  const std::string& tenant = who.tenant_id;
  auto store = api.ctx.readers.lease();
  reply_json(res, 200, {{"count", unread_count(*store, tenant)}});
}

void get_conversations(Api& api, const ApiToken& who, const httplib::Request& req,
                       httplib::Response& res) {
  std::size_t limit = number_param(req, "limit", 100, max_conversations_limit);
  auto store = api.ctx.readers.lease();
  json list = json::array();
  for (const auto& c : recent_conversations(*store, who.tenant_id, limit)) {
    list.push_back(to_json(c));
  }
  reply_json(res, 200, {{"conversations", list}});
}

void get_unread(Api& api, const ApiToken& who, const httplib::Request&, httplib::Response& res) {
  const std::string& tenant = who.tenant_id;
  auto store = api.ctx.readers.lease();
  json list = json::array();
  for (const auto& c : unread_by_conversation(*store, tenant)) list.push_back(to_json(c));
  reply_json(res, 200, {{"conversations", list}});
}

// Read receipts for the newest message of each conversation marked; problems are logged
// (the local marks stay, as with the CLI).
std::size_t send_receipts(Api& api, Store& store, const std::string& tenant,
                          const MarkResult& result, Typing typing) {
  return send_read_receipts(
      result,
      [&] {
        return send_target(
            store, [&](const Config& c) { return api.ctx.tenants.open(c); }, tenant);
      },
      [&](const ReceiptProblem& p) {
        switch (p.kind) {
        case ReceiptProblem::Kind::not_configured:
          break;
        case ReceiptProblem::Kind::unavailable:
          LOG_WARN("tenant {}: no read receipt sent: {}", tenant, p.detail);
          break;
        case ReceiptProblem::Kind::failed:
          if (p.meta) api.ctx.metrics.graph_error(p.meta->code);
          LOG_WARN("tenant {}: read receipt for {} failed: {}", tenant, p.wamid,
                   p.meta ? describe(*p.meta) : p.detail);
          break;
        }
      },
      typing);
}

// What a read route sends Meta after its mark: the read receipt, the receipt with the
// typing indicator (which rides on a receipt), or nothing.
enum class Receipt { send, with_typing, skip };

// The read routes' optional {"receipt": false}.
Receipt receipt_of(const json& body) {
  return bool_field(body, {"receipt"}).value_or(true) ? Receipt::send : Receipt::skip;
}

void mark(Api& api, const std::string& tenant, const MarkTarget& target, Receipt receipt,
          httplib::Response& res) {
  auto store = api.ctx.readers.lease();
  MarkResult result = mark_read(*store, tenant, target);
  api.streams->wake();
  std::size_t receipts = 0;
  if (receipt != Receipt::skip) {
    receipts = send_receipts(api, *store, tenant, result,
                             receipt == Receipt::with_typing ? Typing::on : Typing::off);
  }
  reply_json(res, 200, {{"marked", result.marked}, {"receipts", receipts}});
}

void post_read(Api& api, const ApiToken& who, const httplib::Request& req, httplib::Response& res) {
  const std::string& tenant = who.tenant_id;
  MarkTarget t;
  t.message_ids.push_back(path_id(req));
  json body = parse_body(req, Body::optional);
  mark(api, tenant, t, receipt_of(body), res);
}

// The read mark of post_read, its receipt always sent with the typing indicator: the chat
// window calls it as its user starts to answer.
void post_typing(Api& api, const ApiToken& who, const httplib::Request& req,
                 httplib::Response& res) {
  MarkTarget t;
  t.message_ids.push_back(path_id(req));
  mark(api, who.tenant_id, t, Receipt::with_typing, res);
}

void post_read_all(Api& api, const ApiToken& who, const httplib::Request& req,
                   httplib::Response& res) {
  const std::string& tenant = who.tenant_id;
  json body = parse_body(req, Body::optional);
  MarkTarget t;
  if (auto p = string_field(body, {"phone_number", "phoneNumber"})) {
    t.peer = parse_peer(*p);
  } else {
    t.all = true;
  }
  mark(api, tenant, t, receipt_of(body), res);
}

// ---- media -----------------------------------------------------------------------------

void get_media(Api& api, const ApiToken& who, const httplib::Request& req, httplib::Response& res) {
  std::string id = path_id(req);
  auto store = api.ctx.readers.lease();
  serve_media(req, res, *store, who.tenant_id, id);
}

// ---- hooks -----------------------------------------------------------------------------

Hook hook_of(Store& store, const ApiToken& who, const httplib::Request& req) {
  std::string id = path_id(req);
  auto hook = find_hook(store, who.tenant_id, id);
  if (!hook) throw Error(Exit::not_found, "no such hook");
  return *hook;
}

void get_hooks(Api& api, const ApiToken& who, const httplib::Request&, httplib::Response& res) {
  auto store = api.ctx.readers.lease();
  json list = json::array();
  for (const auto& h : list_hooks(*store, who.tenant_id)) list.push_back(to_json(h));
  reply_json(res, 200, {{"hooks", list}});
}

void post_hook(Api& api, const ApiToken& who, const httplib::Request& req, httplib::Response& res) {
  json body = parse_body(req, Body::required);
  if (body.contains("allow_private")) {
    throw Error(Exit::usage, "'allow_private' can only be set with 'wabactl hook add "
                             "--allow-private', on the daemon's machine");
  }
  auto url = string_field(body, {"url"});
  if (!url) throw Error(Exit::usage, "'url' is required");
  std::vector<std::string> events;
  if (auto e = body.find("events"); e != body.end() && !e->is_null()) {
    if (e->is_string()) {
      events.push_back(e->get<std::string>());
    } else if (e->is_array() && !e->empty()) {
      for (const auto& item : *e) {
        if (!item.is_string()) throw Error(Exit::usage, "'events' is a list of event types");
        events.push_back(item.get<std::string>());
      }
    } else {
      throw Error(Exit::usage, "'events' is a list of event types");
    }
  }
  check_hook_url(*url, false);
  events = events.empty() ? default_hook_events() : parse_hook_events(events);
  auto store = api.ctx.readers.lease();
  NewHook added =
      add_hook(*store, api.ctx.tenants.master_key(), who.tenant_id, *url, events, false);
  json out = to_json(added.hook);
  out["secret"] = added.secret;
  reply_json(res, 201, out);
}

void delete_hook(Api& api, const ApiToken& who, const httplib::Request& req,
                 httplib::Response& res) {
  auto store = api.ctx.readers.lease();
  Hook h = hook_of(*store, who, req);
  remove_hook(*store, who.tenant_id, h.id);
  reply_json(res, 200, {{"id", h.id}, {"removed", true}});
}

void get_hook_deliveries(Api& api, const ApiToken& who, const httplib::Request& req,
                         httplib::Response& res) {
  std::size_t limit = number_param(req, "limit", 50, 1000);
  if (limit == 0) throw Error(Exit::usage, "'limit' must be between 1 and 1000");
  bool failed = false;
  if (auto f = param(req, {"failed"})) {
    if (*f != "true" && *f != "false" && *f != "1" && *f != "0") {
      throw Error(Exit::usage, "'failed' is true or false");
    }
    failed = *f == "true" || *f == "1";
  }
  auto store = api.ctx.readers.lease();
  Hook h = hook_of(*store, who, req);
  json list = json::array();
  for (const auto& d : list_hook_deliveries(*store, h, failed, limit)) list.push_back(to_json(d));
  reply_json(res, 200, {{"deliveries", list}});
}

} // namespace

const std::vector<TenantRoute>& tenant_routes() {
  static const std::vector<TenantRoute> routes = {
      {"GET", "/api/whatsapp/config", "config.get", get_config},
      {"POST", "/api/whatsapp/config", "config.set", post_config},
      {"DELETE", "/api/whatsapp/config", "config.delete", delete_config_route},
      {"POST", "/api/whatsapp/config/test", "config.test", test_config_route},
      {"POST", "/api/whatsapp/send", "send", post_send},
      {"GET", "/api/whatsapp/messages", "messages", get_messages},
      {"GET", R"(/api/whatsapp/messages/([^/]+)/status)", "message.status", get_status},
      {"POST", R"(/api/whatsapp/messages/([^/]+)/read)", "message.read", post_read},
      {"POST", R"(/api/whatsapp/messages/([^/]+)/typing)", "message.typing", post_typing},
      {"GET", "/api/whatsapp/templates", "templates", get_templates},
      {"POST", "/api/whatsapp/templates/sync", "templates.sync", post_templates_sync},
      {"GET", "/api/whatsapp/unread-count", "unread.count", get_unread_count},
      {"GET", "/api/whatsapp/unread", "unread", get_unread},
      {"GET", "/api/whatsapp/conversations", "conversations", get_conversations},
      {"POST", "/api/whatsapp/read-all", "read-all", post_read_all},
      {"GET", R"(/api/whatsapp/media/([^/]+))", "media.get", get_media},
      {"GET", "/api/whatsapp/hooks", "hooks", get_hooks},
      {"POST", "/api/whatsapp/hooks", "hooks.add", post_hook},
      {"DELETE", R"(/api/whatsapp/hooks/([^/]+))", "hook.remove", delete_hook},
      {"GET", R"(/api/whatsapp/hooks/([^/]+)/deliveries)", "hook.deliveries", get_hook_deliveries},
      {"GET", "/api/whatsapp/events", "events", nullptr,
       [](Api& api, const httplib::Request& req, httplib::Response& res) {
         api.streams->serve_events(req, res);
       }},
  };
  return routes;
}

void register_api_routes(httplib::Server& http, Context& ctx) {
  auto api = std::make_shared<Api>(Api{ctx, Streams::start(ctx)});
  for (const TenantRoute& route : tenant_routes()) {
    httplib::Server::Handler handler = [api, route](const httplib::Request& req,
                                                    httplib::Response& res) {
      guarded(res, req, [&] {
        if (route.stream) {
          route.stream(*api, req, res);
        } else if (auto who = authenticate(api->ctx, req, res)) {
          route.rest(*api, *who, req, res);
        }
      });
    };
    std::string method = route.method;
    if (method == "GET") {
      http.Get(route.pattern, std::move(handler));
    } else if (method == "POST") {
      http.Post(route.pattern, std::move(handler));
    } else {
      http.Delete(route.pattern, std::move(handler));
    }
  }
  // The WebSocket on the HTTP port too, so that a browser page served from it (and one
  // reverse proxy location) reaches it; the handshake is checked where --ws-listen checks it.
  http.Get("/api/whatsapp/ws", [api](const httplib::Request& req, httplib::Response& res) {
    guarded(res, req, [&] { api->streams->serve_websocket(); });
  });
}

} // namespace wabactl::server
