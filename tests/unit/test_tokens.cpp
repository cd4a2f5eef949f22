#include "support/support.hpp"
#include "support/temp_store.hpp"
#include "wabactl/error.hpp"
#include "wabactl/store.hpp"
#include "wabactl/tenants.hpp"
#include "wabactl/tokens.hpp"
#include "wabactl/util.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>

using namespace wabactl;

using testsupport::TempStore;

TEST_CASE("a created token authenticates as its tenant and has the recognisable prefix") {
  TempStore s{"acme", "globex"};
  CreatedToken c = create_token(s, "acme", std::string("ci"));
  CHECK(c.token.rfind("wbt_", 0) == 0);
  CHECK(c.token.size() == 47);
  CHECK(c.record.tenant_id == "acme");
  CHECK(c.record.label == std::optional<std::string>("ci"));
  auto who = authenticate_token(s, c.token);
  REQUIRE(who);
  CHECK(who->tenant_id == "acme");
  CHECK(who->id == c.record.id);

  CreatedToken other = create_token(s, "acme", std::nullopt);
  CHECK(other.token != c.token);
  CHECK(other.record.id != c.record.id);
  CHECK_FALSE(other.record.label);
}

TEST_CASE("tokens are stored as hashes, never in plaintext") {
  testsupport::TempDir dir;
  std::string token;
  {
    Store s(dir / "t.db");
    add_tenant(s, "acme", std::nullopt);
    token = create_token(s, "acme", std::nullopt).token;
    REQUIRE(authenticate_token(s, token));
    auto db = testsupport::raw_db(s);
    SQLite::Statement q(db, "SELECT count(*) FROM api_tokens WHERE token_hash = ? OR id = ? "
                            "OR label = ?");
    q.bind(1, token);
    q.bind(2, token);
    q.bind(3, token);
    q.executeStep();
    CHECK(q.getColumn(0).getInt() == 0);
  }
  std::string secret_part = token.substr(4);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    auto path = dir / (std::string("t.db") + suffix);
    if (!std::filesystem::exists(path)) continue;
    CHECK(testsupport::slurp(path).find(secret_part) == std::string::npos);
  }
}

TEST_CASE("malformed, unknown and altered tokens do not authenticate") {
  TempStore s{"acme"};
  std::string token = create_token(s, "acme", std::nullopt).token;
  std::string altered = token;
  altered.back() = altered.back() == 'A' ? 'B' : 'A';
  for (const std::string& bad :
       {std::string(), std::string("wbt_"), std::string("Bearer ") + token, token + "x",
        token.substr(0, token.size() - 1), altered, std::string("xyz_") + token.substr(4),
        std::string(10000, 'a'), std::string("wbt_") + std::string(43, '\0'),
        std::string("wbt_") + std::string(43, '/')}) {
    CHECK_FALSE(authenticate_token(s, bad));
  }
}

TEST_CASE("a revoked token stops authenticating and keeps its first revocation date") {
  TempStore s{"acme"};
  CreatedToken c = create_token(s, "acme", std::nullopt);
  ApiToken r = revoke_token(s, "acme", c.record.id);
  REQUIRE(r.revoked_at);
  CHECK_FALSE(authenticate_token(s, c.token));
  ApiToken again = revoke_token(s, "acme", c.record.id);
  CHECK(again.revoked_at == r.revoked_at);
  auto list = list_tokens(s, "acme");
  REQUIRE(list.size() == 1);
  CHECK(list[0].revoked_at == r.revoked_at);
}

TEST_CASE("revoked_tokens names the revoked and the unknown ids among those asked") {
  TempStore s{"acme"};
  CreatedToken live = create_token(s, "acme", std::nullopt);
  CreatedToken gone = create_token(s, "acme", std::nullopt);
  revoke_token(s, "acme", gone.record.id);
  auto revoked = revoked_tokens(s, {live.record.id, gone.record.id, "no-such-id", ""});
  CHECK(revoked == std::set<std::string>{gone.record.id, "no-such-id", ""});
  CHECK(revoked_tokens(s, {}).empty());
}

TEST_CASE("a tenant cannot revoke or list another tenant's tokens") {
  TempStore s{"acme", "globex"};
  CreatedToken c = create_token(s, "acme", std::nullopt);
  try {
    revoke_token(s, "globex", c.record.id);
    FAIL("revoking another tenant's token must fail");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::not_found);
  }
  CHECK(authenticate_token(s, c.token));
  CHECK(list_tokens(s, "globex").empty());
  CHECK_THROWS_AS(revoke_token(s, "acme", "tok_000000000000"), Error);
  try {
    revoke_token(s, "acme", "../etc");
    FAIL("a malformed id must fail");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::usage);
  }
}

TEST_CASE("token creation validates the tenant and the label") {
  TempStore s{"acme"};
  try {
    create_token(s, "nobody", std::nullopt);
    FAIL("unknown tenant");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::not_found);
  }
  CHECK_THROWS_AS(create_token(s, "acme", std::string(129, 'x')), Error);
  CHECK_THROWS_AS(create_token(s, "acme", std::string("a\nb")), Error);
  CHECK_NOTHROW(create_token(s, "acme", std::string(128, 'x')));
}

TEST_CASE("authentication records last use at most once a minute") {
  TempStore s{"acme"};
  CreatedToken c = create_token(s, "acme", std::nullopt);
  CHECK_FALSE(list_tokens(s, "acme")[0].last_used_at);
  REQUIRE(authenticate_token(s, c.token));
  auto first = list_tokens(s, "acme")[0].last_used_at;
  REQUIRE(first);
  // A use recorded a minute ago (simulated) is refreshed; a recent one is left alone.
  auto db = testsupport::raw_db(s);
  db.exec("UPDATE api_tokens SET last_used_at = '2000-01-01T00:00:00Z'");
  REQUIRE(authenticate_token(s, c.token));
  auto refreshed = list_tokens(s, "acme")[0].last_used_at;
  CHECK(refreshed != std::optional<std::string>("2000-01-01T00:00:00Z"));
  db.exec("UPDATE api_tokens SET last_used_at = '2999-01-01T00:00:00Z'");
  REQUIRE(authenticate_token(s, c.token));
  CHECK(list_tokens(s, "acme")[0].last_used_at ==
        std::optional<std::string>("2999-01-01T00:00:00Z"));
}

TEST_CASE("removing a tenant removes its tokens") {
  TempStore s{"acme"};
  CreatedToken c = create_token(s, "acme", std::nullopt);
  remove_tenant(s, "acme");
  CHECK_FALSE(authenticate_token(s, c.token));
}

TEST_CASE("a console session authenticates as its token until signed out or the token is "
          "revoked") {
  TempStore s{"acme", "globex"};
  CreatedToken t = create_token(s, "acme", std::nullopt);
  auto token = authenticate_token(s, t.token);
  REQUIRE(token);
  CreatedSession a = create_session(s, *token);
  CreatedSession b = create_session(s, *token);
  CHECK(a.id.rfind("wbs_", 0) == 0);
  CHECK(a.id.size() == 47);
  CHECK(a.id != b.id);
  CHECK(a.expires_at > now_iso());
  auto who = authenticate_session(s, a.id);
  REQUIRE(who);
  CHECK(who->id == t.record.id);
  CHECK(who->tenant_id == "acme");
  // A session id is no bearer token, nor the other way round.
  CHECK_FALSE(authenticate_token(s, a.id));
  CHECK_FALSE(authenticate_session(s, t.token));
  CHECK_FALSE(authenticate_session(s, "wbs_" + std::string(43, 'A')));
  CHECK_FALSE(authenticate_session(s, a.id.substr(0, 46)));

  delete_session(s, a.id);
  CHECK_FALSE(authenticate_session(s, a.id));
  CHECK(authenticate_session(s, b.id));
  revoke_token(s, "acme", t.record.id);
  CHECK_FALSE(authenticate_session(s, b.id));
}

TEST_CASE("a session's CSRF token is derived from it: stable, its own, compared whole") {
  TempStore s{"acme"};
  CreatedToken t = create_token(s, "acme", std::nullopt);
  CreatedSession a = create_session(s, *authenticate_token(s, t.token));
  CreatedSession b = create_session(s, *authenticate_token(s, t.token));
  std::string csrf = session_csrf_token(a.id);
  CHECK(csrf == session_csrf_token(a.id));
  CHECK(csrf != session_csrf_token(b.id));
  CHECK(csrf.find(a.id.substr(4)) == std::string::npos);
  CHECK(csrf_token_matches(a.id, csrf));
  CHECK_FALSE(csrf_token_matches(b.id, csrf));
  CHECK_FALSE(csrf_token_matches(a.id, csrf.substr(1)));
  CHECK_FALSE(csrf_token_matches(a.id, ""));
}
