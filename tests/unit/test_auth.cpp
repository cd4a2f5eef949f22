// Unit tests of the one bearer authentication every door uses: which token a request
// presents, and what a request that does not authenticate is answered and how it counts.
#include "server/auth.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <httplib.h>

#include <string>
#include <vector>

using wabactl::ApiToken;
using wabactl::server::AuthRefusal;
using wabactl::server::BearerAuth;
using wabactl::server::FailureLimiter;
using wabactl::server::presented_token;
using wabactl::server::PresentedToken;
using Kind = PresentedToken::Kind;

namespace {

PresentedToken from_header(std::string_view value) {
  return presented_token({value}, std::nullopt);
}

struct Refusal {
  int status;
  std::string reason;
  std::string address;
  std::string detail;
};

// A BearerAuth whose only valid token is "good", recording lookups and refusals.
struct AuthFixture {
  FailureLimiter limiter;
  std::vector<Refusal> refusals;
  std::vector<std::string> looked_up;
  BearerAuth auth{limiter, [this](int status, std::string_view reason, const std::string& address,
                                  std::string_view detail) {
                    refusals.push_back({status, std::string(reason), address, std::string(detail)});
                  }};

  explicit AuthFixture(std::size_t limit = 30) : limiter(limit) {}

  std::variant<ApiToken, AuthRefusal> check(const PresentedToken& t,
                                            const std::string& address = "198.51.100.7") {
    return auth.authenticate(t, address, [this](std::string_view token) {
      looked_up.emplace_back(token);
      std::optional<ApiToken> who;
      if (token == "good") who = ApiToken{"tok_1", "acme", std::nullopt, "", {}, {}};
      return who;
    });
  }
};

// A refusal in one line: status, reason, code, message and header, as a door answers it.
std::string answer(const std::variant<ApiToken, AuthRefusal>& outcome) {
  const auto* r = std::get_if<AuthRefusal>(&outcome);
  if (r == nullptr) return "passed";
  return fmt::format("{} {} {} '{}' {}: {}", r->status, r->reason, r->code, r->message, r->header,
                     r->value);
}

const std::string missing = "401 no_token unauthorized 'an API token is required: "
                            "'Authorization: Bearer <token>'' WWW-Authenticate: Bearer";
const std::string wrong =
    "401 token unauthorized 'the API token is invalid or revoked' WWW-Authenticate: Bearer";
const std::string limited = "429 rate_limited rate_limited 'too many failed authentications; "
                            "retry later' Retry-After: 60";

} // namespace

TEST_CASE("bearer token: the scheme is matched in any case, the token's spaces trimmed") {
  for (const char* value : {"Bearer wbt_x", "bearer wbt_x", "BEARER wbt_x", "bEaReR wbt_x",
                            "Bearer    wbt_x  ", "  Bearer wbt_x"}) {
    CAPTURE(value);
    auto t = from_header(value);
    CHECK(t.kind == Kind::token);
    CHECK(t.token == "wbt_x");
  }
}

TEST_CASE("bearer token: another scheme, no space or an empty token is no credential") {
  for (const char* value : {"", "Bearer", "Bearer ", "Bearer    ", "Bearerwbt_x", "Bearer\twbt_x",
                            "Basic d2J0Ong=", "Bear wbt_x", "Bearers wbt_x", "Token wbt_x"}) {
    CAPTURE(value);
    auto t = from_header(value);
    CHECK(t.kind == Kind::none);
    CHECK(t.token.empty());
  }
}

TEST_CASE("bearer token: the header wins over ?access_token=, which counts without one") {
  auto header = presented_token({"Bearer from-header"}, "from-query");
  CHECK(header.token == "from-header");
  // A header with another scheme is the client's choice: the query is not looked at.
  CHECK(presented_token({"Basic abc"}, "from-query").kind == Kind::none);
  auto query = presented_token({}, "from-query");
  CHECK(query.kind == Kind::token);
  CHECK(query.token == "from-query");
  CHECK(presented_token({}, "").kind == Kind::none);
  CHECK(presented_token({}, std::nullopt).kind == Kind::none);
}

TEST_CASE("bearer token: two Authorization headers are ambiguous, whatever they hold") {
  CHECK(presented_token({"Bearer good", "Bearer good"}, std::nullopt).kind == Kind::ambiguous);
  CHECK(presented_token({"Bearer good", "Basic x"}, "good").kind == Kind::ambiguous);
}

TEST_CASE("bearer token: huge or control-character tokens are presented as they are") {
  // The lookup refuses what no issued token looks like; the parser neither cuts nor cleans.
  std::string huge(100000, 'a');
  auto big = from_header("Bearer " + huge);
  CHECK(big.kind == Kind::token);
  CHECK(big.token == huge);
  auto ctl = from_header(std::string("Bearer wbt_\x01\x7f"
                                     "x"));
  CHECK(ctl.kind == Kind::token);
  CHECK(ctl.token == "wbt_\x01\x7fx");
  AuthFixture f;
  CHECK(answer(f.check(ctl)) == wrong);
  CHECK(answer(f.check(big)) == wrong);
}

TEST_CASE("bearer auth: a valid token passes, a missing one is 401 no_token and not counted") {
  AuthFixture f(1);
  auto ok = f.check({Kind::token, "good"});
  REQUIRE(std::holds_alternative<ApiToken>(ok));
  CHECK(std::get<ApiToken>(ok).tenant_id == "acme");
  CHECK(f.refusals.empty());

  for (int i = 0; i < 3; ++i) CHECK(answer(f.check({})) == missing);
  // Nothing was presented, so nothing was looked up, and nothing counted towards the limit.
  CHECK(f.looked_up == std::vector<std::string>{"good"});
  REQUIRE(f.refusals.size() == 3);
  CHECK(f.refusals[0].status == 401);
  CHECK(f.refusals[0].reason == "no_token");
  CHECK(f.refusals[0].address == "198.51.100.7");
  CHECK(answer(f.check({Kind::token, "bad"})) == wrong);
}

TEST_CASE("bearer auth: wrong tokens beyond the limit get 429, a valid token still passes") {
  AuthFixture f(2);
  for (int i = 0; i < 2; ++i) CHECK(answer(f.check({Kind::token, "bad"})) == wrong);
  CHECK(answer(f.check({Kind::ambiguous, {}})) == limited);
  // An ambiguous credential is never looked up.
  CHECK(f.looked_up == std::vector<std::string>{"bad", "bad"});
  CHECK(answer(f.check({Kind::token, "good"})) == "passed");
  // Another address has its own count.
  CHECK(answer(f.check({Kind::token, "bad"}, "203.0.113.9")) == wrong);
  REQUIRE(f.refusals.size() == 4);
  CHECK(f.refusals[2].reason == "rate_limited");
  CHECK(f.refusals[2].status == 429);
  CHECK(f.refusals[3].address == "203.0.113.9");
}

TEST_CASE("bearer token: an httplib request's headers are read in any case, all of them") {
  httplib::Request one;
  one.headers.emplace("authorization", "BEARER wbt_x");
  one.params.emplace("access_token", "ignored");
  CHECK(presented_token(one).token == "wbt_x");
  httplib::Request two = one;
  two.headers.emplace("Authorization", "Bearer wbt_y");
  CHECK(presented_token(two).kind == Kind::ambiguous);
  httplib::Request query;
  query.params.emplace("access_token", "wbt_q");
  CHECK(presented_token(query).token == "wbt_q");
}

TEST_CASE("session cookie: found among other cookies and headers, ambiguous when two differ") {
  using wabactl::server::presented_session;
  auto one = presented_session({"theme=dark; wabactl_session=wbs_a ; lang=en"});
  CHECK(one.kind == Kind::session);
  CHECK(one.token == "wbs_a");
  CHECK(presented_session({"a=b", "wabactl_session=wbs_a"}).token == "wbs_a");
  CHECK(presented_session({"wabactl_session=wbs_a; wabactl_session=wbs_a"}).kind == Kind::session);
  CHECK(presented_session({"wabactl_session=wbs_a", "wabactl_session=wbs_b"}).kind ==
        Kind::ambiguous);
  CHECK(presented_session({"xwabactl_session=wbs_a; wabactl_sessionx=wbs_b"}).kind == Kind::none);
  CHECK(presented_session({"wabactl_session="}).kind == Kind::none);
  CHECK(presented_session({}).kind == Kind::none);
}

TEST_CASE("session cookie: counts only without a bearer token, which wins over it") {
  httplib::Request cookie;
  cookie.headers.emplace("Cookie", "wabactl_session=wbs_c");
  CHECK(presented_token(cookie).kind == Kind::session);
  httplib::Request both = cookie;
  both.headers.emplace("Authorization", "Bearer wbt_x");
  CHECK(presented_token(both).kind == Kind::token);
  CHECK(presented_token(both).token == "wbt_x");
  httplib::Request query = cookie;
  query.params.emplace("access_token", "wbt_q");
  CHECK(presented_token(query).token == "wbt_q");
}

TEST_CASE("a session is looked up like a token and refused like one: wrong ones count") {
  AuthFixture f(1);
  CHECK(answer(f.check({Kind::session, "good"})) == "passed");
  CHECK(answer(f.check({Kind::session, "wbs_wrong"})) == wrong);
  CHECK(answer(f.check({Kind::session, "wbs_wrong"})) == limited);
  CHECK(f.looked_up == std::vector<std::string>{"good", "wbs_wrong", "wbs_wrong"});
}

TEST_CASE("changes_state: the methods whose cookie requests need the CSRF header") {
  using wabactl::server::changes_state;
  for (const char* m : {"POST", "PUT", "PATCH", "DELETE"}) CHECK(changes_state(m));
  for (const char* m : {"GET", "HEAD", "OPTIONS"}) CHECK_FALSE(changes_state(m));
}
