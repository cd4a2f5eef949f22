#pragma once
// One bearer authentication for every door of the daemon (REST, SSE, the WebSocket
// handshake on either port): which token a request presents, and what to answer when it
// does not authenticate, with the failure limit and the refusal report. The httplib door
// also takes the console's session cookie in place of a token, with a CSRF header on
// requests that change state. The doors parse
// their requests differently (httplib, the streams' own handshake parser), so the rules
// take plain values and the doors only carry the answer out.

#include "server/net.hpp"
#include "server/rate_limit.hpp"
#include "wabactl/tokens.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace httplib {
struct Request;
struct Response;
} // namespace httplib

namespace wabactl::server {

struct Context;

/// What a request presents as its bearer token.
struct PresentedToken {
  enum class Kind {
    none,      ///< no bearer credential: a client that has not logged in
    token,     ///< one token, to be looked up
    session,   ///< a console session id (the wabactl_session cookie), to be looked up
    ambiguous, ///< more than one Authorization header or session cookie: a wrong token
  };
  Kind kind = Kind::none;
  std::string token; ///< set when kind is token or session
};

/// The console's session cookie.
inline constexpr std::string_view session_cookie_name = "wabactl_session";
/// The header that carries the session's CSRF token on state-changing requests.
inline constexpr std::string_view csrf_header_name = "X-CSRF-Token";

/// The token of a request with these Authorization header values and this ?access_token=
/// value. The header wins when present: scheme "Bearer" in any case (RFC 7235), one space,
/// then the token (surrounding white space ignored); another scheme or an empty token is no
/// credential. Without the header the query parameter counts, as browsers' EventSource and
/// WebSocket cannot set headers (CONTRACT.md §4).
PresentedToken presented_token(const std::vector<std::string_view>& authorization,
                               std::optional<std::string_view> access_token);

/// The token an httplib request presents: its Authorization headers and ?access_token=,
/// or, when it has neither, its session cookie.
PresentedToken presented_token(const httplib::Request& req);

/// The console session these Cookie header values present (wabactl_session): none, one,
/// or ambiguous when they carry two different values.
PresentedToken presented_session(const std::vector<std::string_view>& cookie_headers);

/// Whether a request with this method changes state (and so needs the CSRF header when
/// signed in by cookie).
bool changes_state(const std::string& method);

/// The answer to a request whose token did not authenticate.
struct AuthRefusal {
  int status = 401;         ///< 401, or 429 once the address failed too often
  std::string_view reason;  ///< metrics label: no_token, token or rate_limited
  std::string_view code;    ///< the JSON error code: unauthorized or rate_limited
  std::string_view message; ///< the JSON error message (and the refusal's log detail)
  std::string_view header;  ///< the header the answer carries: WWW-Authenticate or Retry-After
  std::string_view value;   ///< its value
};

/// Looks a presented token up: its record when valid and not revoked, else nullopt.
using TokenLookup = std::function<std::optional<ApiToken>(std::string_view token)>;

/// Authenticates bearer tokens against one failure limiter, reporting refusals to one sink
/// (which names the door's route in the metrics and the log).
class BearerAuth {
public:
  BearerAuth(FailureLimiter& limiter, RefusalSink refused);

  /// The presented token's record, or the refusal to answer (already reported). `lookup`
  /// runs only when a token was presented, so a request without one costs no database
  /// connection; what it throws (a busy database) propagates. Only a wrong token counts
  /// towards the address's failure limit: a missing one is a client that has not logged
  /// in, not someone guessing. A valid token is never refused, whatever its address did.
  std::variant<ApiToken, AuthRefusal> authenticate(const PresentedToken& presented,
                                                   const std::string& address,
                                                   const TokenLookup& lookup) const;

private:
  FailureLimiter& limiter_;
  RefusalSink refused_;
};

/// The httplib door (REST and SSE, refusals reported as route "api"): the tenant token of
/// the request (presented as a bearer token, or as the session cookie of a console sign-in
/// made with it), or nullopt after answering `res` with the refusal. A POST, PUT, PATCH or
/// DELETE authenticated by the cookie must carry the session's CSRF token in X-CSRF-Token,
/// else it answers 403: a bearer token cannot be sent by another site, a cookie can.
std::optional<ApiToken> authenticate(Context& ctx, const httplib::Request& req,
                                     httplib::Response& res);

} // namespace wabactl::server
