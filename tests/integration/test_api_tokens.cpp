#include "integration/test_stream_support.hpp"

#include <doctest/doctest.h>

using testsupport::TempDir;
using testsupport::Wabactl;

TEST_CASE("token CLI: create prints the token once, list never shows it, revoke ends it") {
  TempDir dir;
  Wabactl w(dir);
  REQUIRE(w({"key", "init"}).exit_code == 0);
  REQUIRE(w({"tenant", "add", "acme"}).exit_code == 0);
  REQUIRE(w({"tenant", "add", "globex"}).exit_code == 0);

  auto human = w({"token", "create", "--tenant", "acme"});
  REQUIRE(human.exit_code == 0);
  std::string token = human.out.substr(0, human.out.find('\n'));
  CHECK(token.rfind("wbt_", 0) == 0);
  CHECK(human.out == token + "\n");
  CHECK(human.err.find("shown only this once") != std::string::npos);

  auto json = w({"token", "create", "--tenant", "acme", "--label", "front end", "--json"});
  REQUIRE(json.exit_code == 0);
  auto j = nlohmann::json::parse(json.out);
  for (const char* k : {"id", "tenant_id", "label", "token", "created_at"}) CHECK(j.contains(k));
  CHECK(j["tenant_id"] == "acme");
  CHECK(j["label"] == "front end");
  std::string id = j["id"];

  auto list = w({"token", "list", "--tenant", "acme", "--json"});
  REQUIRE(list.exit_code == 0);
  CHECK(list.out.find(token) == std::string::npos);
  CHECK(list.out.find(j["token"].get<std::string>()) == std::string::npos);
  int rows = 0;
  for (std::size_t pos = 0; (pos = list.out.find('\n', pos)) != std::string::npos; ++pos) ++rows;
  CHECK(rows == 2);
  auto table = w({"token", "list", "--tenant", "acme"});
  CHECK(table.out.find("front end") != std::string::npos);
  CHECK(table.out.find("never") != std::string::npos);

  // Another tenant's token id, an unknown one, an unknown tenant: exit 3.
  CHECK(w({"token", "revoke", "--tenant", "globex", id}).exit_code == 3);
  CHECK(w({"token", "revoke", "--tenant", "acme", "tok_000000000000"}).exit_code == 3);
  CHECK(w({"token", "list", "--tenant", "nobody"}).exit_code == 3);
  CHECK(w({"token", "create", "--tenant", "nobody"}).exit_code == 3);
  // Malformed input: exit 2.
  CHECK(w({"token", "revoke", "--tenant", "acme", "../../x"}).exit_code == 2);
  CHECK(w({"token", "create", "--tenant", "Bad Tenant"}).exit_code == 2);
  CHECK(w({"token", "create", "--tenant", "acme", "--label", std::string(500, 'x')}).exit_code ==
        2);
  CHECK(w({"token", "create"}).exit_code == 2);

  auto revoked = w({"token", "revoke", "--tenant", "acme", id, "--json"});
  REQUIRE(revoked.exit_code == 0);
  CHECK(nlohmann::json::parse(revoked.out)["revoked"] == true);
  auto after = w({"token", "list", "--tenant", "acme", "--json"});
  CHECK(after.out.find("\"revoked\":true") != std::string::npos);

  // Neither token's plaintext is anywhere in the database files.
  for (const char* suffix : {"", "-wal", "-shm"}) {
    auto path = w.db.string() + suffix;
    if (!std::filesystem::exists(path)) continue;
    std::string bytes = testsupport::slurp(path);
    CHECK(bytes.find(token.substr(4)) == std::string::npos);
    CHECK(bytes.find(j["token"].get<std::string>().substr(4)) == std::string::npos);
  }
}

TEST_CASE("API tokens: missing, malformed, revoked and other-tenant tokens get 401 or 404") {
  streamtest::Setup s;
  auto ok = s.request("GET", "/api/whatsapp/unread-count", s.acme_token);
  REQUIRE(ok);
  CHECK(ok->status == 200);
  for (const std::string& bad : {std::string(), std::string("wbt_nope"), std::string("x"),
                                 s.acme_token + "x", std::string(5000, 'a')}) {
    auto r = s.request("GET", "/api/whatsapp/unread-count", bad);
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK(nlohmann::json::parse(r->body)["error"]["code"] == "unauthorized");
    CHECK(r->get_header_value("WWW-Authenticate") == "Bearer");
  }
  // Not a Bearer scheme.
  auto c = s.daemon->client();
  auto basic = c.Get("/api/whatsapp/unread-count", {{"Authorization", "Basic " + s.acme_token}});
  REQUIRE(basic);
  CHECK(basic->status == 401);
  // The query parameter works as well (EventSource cannot set headers).
  auto q = c.Get("/api/whatsapp/unread-count?access_token=" + s.acme_token);
  REQUIRE(q);
  CHECK(q->status == 200);

  REQUIRE(s.w({"token", "revoke", "--tenant", "acme", s.acme_token_id}).exit_code == 0);
  auto revoked = s.request("GET", "/api/whatsapp/unread-count", s.acme_token);
  REQUIRE(revoked);
  CHECK(revoked->status == 401);

  auto listed = s.w({"token", "list", "--tenant", "acme", "--json"});
  CHECK(nlohmann::json::parse(listed.out)["last_used_at"].is_string());
}

TEST_CASE("API tokens: wrong tokens get 429 after 30 a minute, a valid one from there is served") {
  streamtest::Setup s;
  int first_429 = -1;
  for (int i = 0; i < 40 && first_429 < 0; ++i) {
    auto r = s.request("GET", "/api/whatsapp/unread-count", "wbt_guessed-token");
    REQUIRE(r);
    if (r->status == 429) {
      first_429 = i;
      CHECK(r->get_header_value("Retry-After") == "60");
    } else {
      CHECK(r->status == 401);
    }
  }
  CHECK(first_429 == 30);
  for (int i = 0; i < 3; ++i) {
    auto ok = s.request("GET", "/api/whatsapp/unread-count", s.acme_token);
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(s.request("GET", "/api/whatsapp/unread-count", "wbt_guessed-token")->status == 429);
  }
  // Refusals are logged (never the token) and counted by reason.
  std::string log = s.daemon->log();
  CHECK(log.find("api request refused: 401 the API token is invalid or revoked (token) from "
                 "127.0.0.1") != std::string::npos);
  CHECK(log.find("(rate_limited) from 127.0.0.1") != std::string::npos);
  CHECK(log.find("wbt_guessed-token") == std::string::npos);
  auto metrics = s.daemon->client().Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->body.find("wabactl_requests_refused_total{route=\"api\",reason=\"token\"} 30\n") !=
        std::string::npos);
  CHECK(metrics->body.find(
            "wabactl_requests_refused_total{route=\"api\",reason=\"rate_limited\"} 4\n") !=
        std::string::npos);
}
