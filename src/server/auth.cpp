#include "server/auth.hpp"

#include "server/context.hpp"
#include "wabactl/store.hpp"
#include "wabactl/util.hpp"

#include <httplib.h>

#include <algorithm>
#include <cctype>

namespace wabactl::server {
namespace {

constexpr std::string_view bearer_scheme = "bearer";

bool scheme_is_bearer(std::string_view scheme) {
  return std::equal(
      scheme.begin(), scheme.end(), bearer_scheme.begin(), bearer_scheme.end(),
      [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
}

} // namespace

PresentedToken presented_token(const std::vector<std::string_view>& authorization,
                               std::optional<std::string_view> access_token) {
  using Kind = PresentedToken::Kind;
  if (authorization.size() > 1) return {Kind::ambiguous, {}};
  if (authorization.size() == 1) {
    std::string_view v = trim(authorization.front());
    std::size_t n = bearer_scheme.size();
    if (v.size() <= n || v[n] != ' ' || !scheme_is_bearer(v.substr(0, n))) return {};
    std::string_view token = trim(v.substr(n + 1));
    if (token.empty()) return {};
    return {Kind::token, std::string(token)};
  }
  if (access_token && !access_token->empty()) return {Kind::token, std::string(*access_token)};
  return {};
}

PresentedToken presented_token(const httplib::Request& req) {
  std::vector<std::string_view> authorization;
  auto [from, to] = req.headers.equal_range("Authorization");
  for (auto it = from; it != to; ++it) authorization.emplace_back(it->second);
  std::optional<std::string_view> access_token;
  if (auto it = req.params.find("access_token"); it != req.params.end()) {
    access_token = it->second;
  }
  PresentedToken presented = presented_token(authorization, access_token);
  if (presented.kind != PresentedToken::Kind::none) return presented;
  std::vector<std::string_view> cookies;
  auto [cfrom, cto] = req.headers.equal_range("Cookie");
  for (auto it = cfrom; it != cto; ++it) cookies.emplace_back(it->second);
  return presented_session(cookies);
}

PresentedToken presented_session(const std::vector<std::string_view>& cookie_headers) {
  using Kind = PresentedToken::Kind;
  std::optional<std::string_view> found;
  for (std::string_view header : cookie_headers) {
    while (!header.empty()) {
      auto semi = header.find(';');
      std::string_view pair = trim(header.substr(0, semi));
      header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
      auto eq = pair.find('=');
      if (eq == std::string_view::npos || trim(pair.substr(0, eq)) != session_cookie_name) {
        continue;
      }
      std::string_view value = trim(pair.substr(eq + 1));
      // Two different sessions (a cookie set for another path or domain as well): neither.
      if (found && *found != value) return {Kind::ambiguous, {}};
      found = value;
    }
  }
  if (!found || found->empty()) return {};
  return {Kind::session, std::string(*found)};
}

bool changes_state(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

BearerAuth::BearerAuth(FailureLimiter& limiter, RefusalSink refused)
    : limiter_(limiter), refused_(std::move(refused)) {}

std::variant<ApiToken, AuthRefusal> BearerAuth::authenticate(const PresentedToken& presented,
                                                             const std::string& address,
                                                             const TokenLookup& lookup) const {
  using Kind = PresentedToken::Kind;
  if (presented.kind == Kind::token || presented.kind == Kind::session) {
    if (auto who = lookup(presented.token)) return std::move(*who);
  }
  bool missing = presented.kind == Kind::none;
  AuthRefusal r;
  if (!missing && limiter_.failure(address)) {
    r = {429,
         "rate_limited",
         "rate_limited",
         "too many failed authentications; retry later",
         "Retry-After",
         "60"};
  } else if (missing) {
    r = {401,
         "no_token",
         "unauthorized",
         "an API token is required: 'Authorization: Bearer <token>'",
         "WWW-Authenticate",
         "Bearer"};
  } else {
    r = {
        401,     "token", "unauthorized", "the API token is invalid or revoked", "WWW-Authenticate",
        "Bearer"};
  }
  if (refused_) refused_(r.status, r.reason, address, r.message);
  return r;
}

std::optional<ApiToken> authenticate(Context& ctx, const httplib::Request& req,
                                     httplib::Response& res) {
  BearerAuth auth(ctx.limiter, [&ctx](int status, std::string_view reason,
                                      const std::string& address, std::string_view detail) {
    ctx.refusals.refuse("api", reason, status, address, detail);
  });
  PresentedToken presented = presented_token(req);
  bool session = presented.kind == PresentedToken::Kind::session;
  auto outcome =
      auth.authenticate(presented, client_address(req), [&ctx, session](std::string_view token) {
        auto store = ctx.readers.lease();
        return session ? authenticate_session(*store, token) : authenticate_token(*store, token);
      });
  if (auto* who = std::get_if<ApiToken>(&outcome)) {
    if (session && changes_state(req.method) &&
        !csrf_token_matches(presented.token, req.get_header_value(std::string(csrf_header_name)))) {
      ctx.refusals.refuse("api", "csrf", 403, client_address(req),
                          "a request signed in by cookie lacks its X-CSRF-Token");
      send_error(res, 403, "forbidden",
                 "this request needs the session's CSRF token in the X-CSRF-Token header");
      return std::nullopt;
    }
    return std::move(*who);
  }
  const auto& refusal = std::get<AuthRefusal>(outcome);
  res.set_header(std::string(refusal.header), std::string(refusal.value));
  send_error(res, refusal.status, refusal.code, refusal.message);
  return std::nullopt;
}

} // namespace wabactl::server
