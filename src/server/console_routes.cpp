// The web console (CONTRACT.md §10): its files from the table built into the binary, and
// the sign-in that exchanges a tenant token for a session cookie. Everything else the
// console does goes through the REST API and the SSE stream, which take the cookie like a
// token (server/auth.hpp).
#include "server/auth.hpp"
#include "server/console_assets.hpp"
#include "server/context.hpp"
#include "server/rest.hpp"
#include "wabactl/store.hpp"
#include "wabactl/tokens.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>
#include <httplib.h>
#include <zlib.h>

#include <chrono>
#include <memory>

namespace wabactl::server {
namespace {

using nlohmann::json;

// No inline script or style and no eval; media from the daemon's own media route (and the
// blob: URLs made from it); nothing may frame the console.
constexpr const char* content_security_policy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'";

void security_headers(httplib::Response& res) {
  res.set_header("Content-Security-Policy", content_security_policy);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("X-Frame-Options", "DENY");
}

// Whether a header's comma-separated list has `token` (compared without case), ignoring a
// list entry whose q is 0.
bool lists(std::string_view header, std::string_view token) {
  while (!header.empty()) {
    auto comma = header.find(',');
    std::string_view item = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    auto semi = item.find(';');
    std::string_view name = trim(item.substr(0, semi));
    bool same = name.size() == token.size() &&
                std::equal(name.begin(), name.end(), token.begin(), [](char a, char b) {
                  return std::tolower(static_cast<unsigned char>(a)) ==
                         std::tolower(static_cast<unsigned char>(b));
                });
    if (!same) continue;
    if (semi != std::string_view::npos) {
      std::string_view param = trim(item.substr(semi + 1));
      if (param == "q=0" || param == "q=0.0" || param == "q=0.00" || param == "q=0.000") {
        return false;
      }
    }
    return true;
  }
  return false;
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  while (!if_none_match.empty()) {
    auto comma = if_none_match.find(',');
    std::string_view item = trim(if_none_match.substr(0, comma));
    if_none_match =
        comma == std::string_view::npos ? std::string_view() : if_none_match.substr(comma + 1);
    if (item.rfind("W/", 0) == 0) item.remove_prefix(2);
    if (item == "*" || item == etag) return true;
  }
  return false;
}

// The asset's bytes for a client that does not take gzip (rare: every browser does).
std::string gunzip(const ConsoleAsset& a) {
  std::string out(a.size, '\0');
  z_stream z{};
  // 16 + MAX_WBITS: a gzip header, not zlib's.
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) throw Error(Exit::internal, "inflateInit2 failed");
  z.next_in = const_cast<Bytef*>(a.gzip.data());
  z.avail_in = static_cast<uInt>(a.gzip.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&z, Z_FINISH);
  inflateEnd(&z);
  if (rc != Z_STREAM_END || z.avail_out != 0) {
    throw Error(Exit::internal, fmt::format("console asset {} does not inflate", a.path));
  }
  return out;
}

void serve_asset(const ConsoleAsset& a, const httplib::Request& req, httplib::Response& res) {
  security_headers(res);
  res.set_header("ETag", std::string(a.etag));
  res.set_header("Vary", "Accept-Encoding");
  res.set_header("Cache-Control", a.caching == Caching::immutable
                                      ? "public, max-age=31536000, immutable"
                                      : "no-cache");
  if (etag_matches(req.get_header_value("If-None-Match"), a.etag)) {
    res.status = 304;
    return;
  }
  res.status = 200;
  // Both through a content provider: httplib compresses a text/* body set with set_content
  // itself (again, and ignoring q=0), never a provider's.
  auto send = [&res, &a](std::shared_ptr<const std::string> owned, const char* bytes,
                         std::size_t size) {
    res.set_content_provider(
        size, std::string(a.content_type),
        [owned, bytes](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
          return sink.write(bytes + offset, length);
        });
  };
  if (lists(req.get_header_value("Accept-Encoding"), "gzip")) {
    res.set_header("Content-Encoding", "gzip");
    send(nullptr, reinterpret_cast<const char*>(a.gzip.data()), a.gzip.size());
  } else {
    auto plain = std::make_shared<const std::string>(gunzip(a));
    send(plain, plain->data(), plain->size());
  }
}

// Over TLS (at the reverse proxy, which says so) the cookie must never travel in clear.
bool came_over_tls(const httplib::Request& req) {
  return lists(req.get_header_value("X-Forwarded-Proto"), "https");
}

std::string session_cookie(const httplib::Request& req, std::string_view value,
                           std::chrono::seconds max_age) {
  return fmt::format("{}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}", session_cookie_name,
                     value, max_age.count(), came_over_tls(req) ? "; Secure" : "");
}

json session_json(const ApiToken& who, std::string_view session_id,
                  const std::optional<std::string>& expires_at) {
  json out = {{"signed_in", true},
              {"tenant_id", who.tenant_id},
              {"token_id", who.id},
              {"csrf_token", session_csrf_token(session_id)}};
  if (expires_at) out["expires_at"] = *expires_at;
  return out;
}

// POST /console/api/session {"token": "..."}: the token is checked as a bearer token is
// (the same failure limit), then exchanged for a session cookie.
void post_session(Context& ctx, const httplib::Request& req, httplib::Response& res) {
  // A JSON body only: an HTML form on another site cannot send one without CORS, so no
  // other site can sign a browser in to its own tenant.
  std::string type = req.get_header_value("Content-Type");
  if (type.rfind("application/json", 0) != 0) {
    throw Error(Exit::usage, "the sign-in body must be application/json");
  }
  json body = parse_body(req, Body::required);
  std::string token = string_field(body, {"token"}).value_or("");
  BearerAuth auth(ctx.limiter, [&ctx](int status, std::string_view reason,
                                      const std::string& address, std::string_view detail) {
    ctx.refusals.refuse("api", reason, status, address, detail);
  });
  PresentedToken presented;
  if (!token.empty()) presented = {PresentedToken::Kind::token, token};
  auto store = ctx.readers.lease();
  auto outcome = auth.authenticate(presented, client_address(req), [&](std::string_view t) {
    return authenticate_token(*store, t);
  });
  if (const auto* refusal = std::get_if<AuthRefusal>(&outcome)) {
    if (refusal->header == "Retry-After") {
      res.set_header(std::string(refusal->header), std::string(refusal->value));
    }
    send_error(res, refusal->status, refusal->code,
               presented.kind == PresentedToken::Kind::none ? "a token is required"
                                                            : refusal->message);
    return;
  }
  const ApiToken& who = std::get<ApiToken>(outcome);
  CreatedSession session = create_session(*store, who);
  res.set_header("Set-Cookie", session_cookie(req, session.id, session_lifetime));
  res.set_header("Cache-Control", "no-store");
  reply_json(res, 200, session_json(who, session.id, session.expires_at));
}

// GET /console/api/session: who the cookie signs in as, and its CSRF token (the page keeps
// it in memory only, so a reload asks again). Without a cookie: {"signed_in": false}, not
// 401, so that a first visit logs no failed request in the browser's console.
void get_session(Context& ctx, const httplib::Request& req, httplib::Response& res) {
  res.set_header("Cache-Control", "no-store");
  PresentedToken presented = presented_token(req);
  if (presented.kind == PresentedToken::Kind::none) {
    reply_json(res, 200, {{"signed_in", false}});
    return;
  }
  if (presented.kind != PresentedToken::Kind::session) {
    send_error(res, 401, "unauthorized", "the console signs in with a session cookie");
    return;
  }
  auto who = authenticate(ctx, req, res);
  if (!who) return;
  // The session slides (authenticate_session extended it): so does the cookie.
  res.set_header("Set-Cookie", session_cookie(req, presented.token, session_lifetime));
  reply_json(res, 200, session_json(*who, presented.token, std::nullopt));
}

// DELETE /console/api/session: signs out (the CSRF header required, as on every
// cookie-authenticated change).
void delete_session_route(Context& ctx, const httplib::Request& req, httplib::Response& res) {
  PresentedToken presented = presented_token(req);
  if (presented.kind != PresentedToken::Kind::session) {
    send_error(res, 401, "unauthorized", "not signed in");
    return;
  }
  if (!authenticate(ctx, req, res)) return;
  auto store = ctx.readers.lease();
  delete_session(*store, presented.token);
  res.set_header("Set-Cookie", session_cookie(req, "", std::chrono::seconds(0)));
  reply_json(res, 200, {{"signed_out", true}});
}

} // namespace

void register_console_routes(httplib::Server& http, Context& ctx) {
  http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_redirect("/console/", 302);
  });
  http.Get("/console", [](const httplib::Request&, httplib::Response& res) {
    res.set_redirect("/console/", 301);
  });
  for (const ConsoleAsset& a : console_assets()) {
    http.Get(std::string(a.path), [&a](const httplib::Request& req, httplib::Response& res) {
      guarded(res, req, [&] { serve_asset(a, req, res); });
    });
  }
  http.Post("/console/api/session", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(res, req, [&] { post_session(ctx, req, res); });
  });
  http.Get("/console/api/session", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(res, req, [&] { get_session(ctx, req, res); });
  });
  http.Delete("/console/api/session", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(res, req, [&] { delete_session_route(ctx, req, res); });
  });
}

} // namespace wabactl::server
