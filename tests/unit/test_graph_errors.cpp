// Unit tests of Meta's error decoding and classification, and of the credential check
// against the fake Graph API.
#include "support/support.hpp"
#include "wabactl/graph.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

using namespace wabactl;
using testsupport::FakeGraph;

namespace {

MetaError meta(int code, long status, const std::string& type = "OAuthException") {
  MetaError e;
  e.code = code;
  e.http_status = status;
  e.type = type;
  return e;
}

} // namespace

TEST_CASE("Meta error codes are classified by code") {
  CHECK(classify(meta(190, 401)) == ErrorClass::credentials);
  CHECK(classify(meta(0, 400)) == ErrorClass::credentials);
  CHECK(classify(meta(10, 403)) == ErrorClass::credentials);
  CHECK(classify(meta(200, 403)) == ErrorClass::credentials);
  CHECK(classify(meta(299, 403)) == ErrorClass::credentials);
  CHECK(classify(meta(100, 400)) == ErrorClass::permanent);
  CHECK(classify(meta(131047, 400)) == ErrorClass::permanent);
  CHECK(classify(meta(131026, 400)) == ErrorClass::permanent);
  CHECK(classify(meta(132001, 400)) == ErrorClass::permanent);
  CHECK(classify(meta(4, 400)) == ErrorClass::retry);
  CHECK(classify(meta(130429, 400)) == ErrorClass::retry);
  CHECK(classify(meta(131049, 400)) == ErrorClass::wait_day);
  CHECK(classify(meta(0, 503)) == ErrorClass::retry);
  auto transient = meta(100, 400);
  transient.is_transient = true;
  CHECK(classify(transient) == ErrorClass::retry);
}

TEST_CASE("answers that are not Meta's error object are classified by HTTP status") {
  for (long status : {400L, 403L, 404L, 405L}) {
    CAPTURE(status);
    HttpResult r;
    r.status = status;
    r.body = "<html>Not Found</html>";
    auto e = parse_meta_error(r);
    REQUIRE(e.has_value());
    CHECK(e->code == 0);
    CHECK(classify(*e) == ErrorClass::permanent);
    CHECK(describe(*e).find(std::to_string(status)) != std::string::npos);
    // The advice names the real suspect, not the token's permissions (code 0's advice).
    CHECK(advice_for(*e).find("did not come from Meta") != std::string::npos);
    CHECK(advice_for(*e).find("permission") == std::string::npos);
  }
  HttpResult unauthorized;
  unauthorized.status = 401;
  unauthorized.body = "nope";
  CHECK(classify(*parse_meta_error(unauthorized)) == ErrorClass::credentials);
  for (long status : {429L, 500L, 502L, 503L}) {
    HttpResult r;
    r.status = status;
    r.body = "busy";
    CHECK(classify(*parse_meta_error(r)) == ErrorClass::retry);
  }
}

TEST_CASE("Meta's error object is decoded whole") {
  HttpResult r;
  r.status = 400;
  r.body = FakeGraph::error_body(131047, "Re-engagement message", 2494010, "24 hours have passed");
  auto e = parse_meta_error(r);
  REQUIRE(e.has_value());
  CHECK(e->code == 131047);
  CHECK(e->subcode == 2494010);
  CHECK(e->type == "OAuthException");
  CHECK(e->details == "24 hours have passed");
  CHECK(e->fbtrace_id == "AbCdEfGhIjK");
  std::string text = describe(*e);
  CHECK(text.find("131047") != std::string::npos);
  CHECK(text.find("AbCdEfGhIjK") != std::string::npos);
  HttpResult ok;
  ok.status = 200;
  ok.body = "{}";
  CHECK_FALSE(parse_meta_error(ok).has_value());
  for (std::string hostile :
       {"", "{", "null", "[1,2]", R"({"error":"x"})", R"({"error":{"code":"190","message":5}})"}) {
    HttpResult h;
    h.status = 400;
    h.body = hostile;
    CAPTURE(hostile);
    auto d = parse_meta_error(h);
    REQUIRE(d.has_value());
    CHECK(d->code == 0);
  }
}

TEST_CASE("check_credentials: accepted, rejected, refused and unreachable") {
  FakeGraph graph;
  graph.accept_token("good");
  {
    GraphClient client(GraphTarget{graph.url(), "v25.0", "good"});
    auto check = check_credentials(client, "123");
    REQUIRE(check.result == CredentialCheck::Result::ok);
    CHECK(check.info->verified_name == "Acme Test");
    CHECK(check.info->display_phone_number == "+1 555-010-0000");
    CHECK(check.info->quality_rating == "GREEN");
  }
  {
    GraphClient client(GraphTarget{graph.url(), "v25.0", "bad"});
    auto check = check_credentials(client, "123");
    CHECK(check.result == CredentialCheck::Result::rejected_credentials);
    REQUIRE(check.error.has_value());
    CHECK(check.error->code == 190);
  }
  graph.set_handler([](const testsupport::Recorded&) -> std::optional<testsupport::Reply> {
    return testsupport::Reply{404, "<html>no such route</html>"};
  });
  {
    GraphClient client(GraphTarget{graph.url(), "v25.0", "good"});
    CHECK(check_credentials(client, "123").result == CredentialCheck::Result::rejected);
  }
  graph.set_handler([](const testsupport::Recorded&) -> std::optional<testsupport::Reply> {
    return testsupport::Reply{503, "<html>maintenance</html>"};
  });
  {
    GraphClient client(GraphTarget{graph.url(), "v25.0", "good"});
    CHECK(check_credentials(client, "123").result == CredentialCheck::Result::unreachable);
  }
}

TEST_CASE("no text of an answer that is not Meta's error object is kept") {
  for (long status : {400L, 401L, 404L, 500L}) {
    CAPTURE(status);
    HttpResult r;
    r.status = status;
    r.body = R"({"secret":"internal-page-text"} <html>internal-page-text</html>)";
    auto e = parse_meta_error(r);
    REQUIRE(e.has_value());
    for (const std::string& text : {e->message, e->title, e->details, describe(*e)}) {
      CHECK(text.find("internal-page-text") == std::string::npos);
    }
    CHECK(describe(*e) == fmt::format("Graph API answered HTTP {}", status));
  }
}
