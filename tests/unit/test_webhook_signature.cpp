#include "support/fixtures.hpp"
#include "support/signing.hpp"
#include "support/support.hpp"
#include "wabactl/configs.hpp"
#include "wabactl/secrets.hpp"
#include "wabactl/webhook.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>

using namespace wabactl;

namespace {

const std::string secret = "0123456789abcdef0123456789abcdef";

} // namespace

TEST_CASE("webhook signature: the HMAC of the exact bytes verifies") {
  for (const char* name : {"text.json", "special_chars.json", "non_ascii_emoji.json",
                           "multi_entry.json", "statuses.json"}) {
    CAPTURE(name);
    std::string body = fixtures::webhook(name);
    CHECK(testsupport::verifies(body, testsupport::signature_header(body, secret), secret));
  }
}

TEST_CASE("webhook signature: missing, malformed and wrong headers are refused") {
  std::string body = fixtures::webhook("text.json");
  std::string good = testsupport::signature_header(body, secret);
  CHECK_FALSE(testsupport::verifies(body, "", secret));
  CHECK_FALSE(testsupport::verifies(body, "sha256=", secret));
  CHECK_FALSE(testsupport::verifies(body, good.substr(7), secret));             // no prefix
  CHECK_FALSE(testsupport::verifies(body, "sha1=" + good.substr(7), secret));   // wrong prefix
  CHECK_FALSE(testsupport::verifies(body, "SHA256=" + good.substr(7), secret)); // prefix is exact
  CHECK_FALSE(testsupport::verifies(body, good.substr(0, good.size() - 1), secret)); // 63 hex
  CHECK_FALSE(testsupport::verifies(body, good + "0", secret));                      // 65 hex
  CHECK_FALSE(testsupport::verifies(body, good + good.substr(7), secret));           // 128 hex
  std::string not_hex = good;
  not_hex.back() = 'g';
  CHECK_FALSE(testsupport::verifies(body, not_hex, secret));
  std::string flipped = good;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  CHECK_FALSE(testsupport::verifies(body, flipped, secret));
  CHECK_FALSE(testsupport::verifies(body, good, "another-secret"));
  CHECK_FALSE(testsupport::verifies(body, testsupport::signature_header(body, ""),
                                    "")); // an empty secret never verifies
  CHECK_FALSE(testsupport::verifies(body, std::string(1 << 20, 'a'), secret)); // huge header
  std::string nul_header = good;
  nul_header[10] = '\0';
  CHECK_FALSE(testsupport::verifies(body, nul_header, secret));
}

TEST_CASE("webhook signature: uppercase hex and surrounding spaces are accepted") {
  std::string body = fixtures::webhook("text.json");
  std::string upper = testsupport::signature_header(body, secret);
  std::transform(upper.begin() + 7, upper.end(), upper.begin() + 7,
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  CHECK(testsupport::verifies(body, upper, secret));
  std::string padded = " ";
  padded += testsupport::signature_header(body, secret);
  padded += ' ';
  CHECK(testsupport::verifies(body, padded, secret));
}

TEST_CASE("webhook signature: a re-serialised body does not verify") {
  for (const char* name : {"special_chars.json", "non_ascii_emoji.json", "location.json"}) {
    CAPTURE(name);
    std::string body = fixtures::webhook(name);
    std::string header = testsupport::signature_header(body, secret);
    std::string reserialised = nlohmann::json::parse(body).dump();
    REQUIRE(reserialised != body);
    CHECK_FALSE(testsupport::verifies(reserialised, header, secret));
  }
}

TEST_CASE("webhook signature: the \\u-escaped form Meta signs verifies the raw UTF-8 body") {
  std::string body = fixtures::webhook("non_ascii_emoji.json");
  auto escaped = escape_non_ascii(body);
  REQUIRE(escaped);
  // Lowercase hex, emoji as a surrogate pair, the escaped text parses to the same JSON.
  CHECK(escaped->find("Ol\\u00e1") != std::string::npos);
  CHECK(escaped->find("\\ud83d\\udc4b\\ud83c\\udffd") != std::string::npos);
  CHECK(escaped->find("\\u4f60\\u597d") != std::string::npos);
  CHECK(nlohmann::json::parse(*escaped) == nlohmann::json::parse(body));
  CHECK(testsupport::verifies(body, testsupport::signature_header(*escaped, secret), secret));
  CHECK(testsupport::verifies(*escaped, testsupport::signature_header(*escaped, secret), secret));
  CHECK_FALSE(
      testsupport::verifies(body, testsupport::signature_header(*escaped, "other"), secret));
  // ASCII bodies have no second form: the escaped HMAC of another body does not help.
  std::string ascii = fixtures::webhook("text.json");
  CHECK(escape_non_ascii(ascii) == ascii);
}

TEST_CASE("webhook signature: invalid UTF-8 has no escaped form") {
  CHECK_FALSE(escape_non_ascii("\xff"));
  CHECK_FALSE(escape_non_ascii("a\xc3"));            // truncated
  CHECK_FALSE(escape_non_ascii("\xc0\xaf"));         // overlong '/'
  CHECK_FALSE(escape_non_ascii("\xed\xa0\x80"));     // a surrogate
  CHECK_FALSE(escape_non_ascii("\xf4\x90\x80\x80")); // past U+10FFFF
  CHECK(escape_non_ascii("\xf4\x8f\xbf\xbf") == "\\udbff\\udfff");
  std::string body = "{\"x\":\"\xff\"}";
  CHECK(testsupport::verifies(body, testsupport::signature_header(body, secret), secret));
  CHECK_FALSE(testsupport::verifies(
      body, testsupport::signature_header("{\"x\":\"\\u00ff\"}", secret), secret));
}

TEST_CASE("webhook authenticate: tenants of every secret that verifies") {
  std::string body = fixtures::webhook("multi_entry.json");
  std::vector<SecretCandidate> candidates = {
      {"shared-app-secret", {"acme", "beta"}, false},
      {"gamma-secret", {"gamma"}, false},
      {"fallback-secret", {"delta"}, true},
  };
  CHECK(authenticate(body, testsupport::signature_header(body, "shared-app-secret"), candidates) ==
        std::set<std::string>{"acme", "beta"});
  CHECK(authenticate(body, testsupport::signature_header(body, "gamma-secret"), candidates) ==
        std::set<std::string>{"gamma"});
  CHECK(authenticate(body, testsupport::signature_header(body, "fallback-secret"), candidates) ==
        std::set<std::string>{"delta"});
  CHECK(authenticate(body, testsupport::signature_header(body, "unknown"), candidates).empty());
  CHECK(authenticate(body, "", candidates).empty());
  CHECK(authenticate(body, testsupport::signature_header(body, "shared-app-secret"), {}).empty());
  // The escaped form Meta signs works for any candidate, not only the first one tried.
  std::string unicode = fixtures::webhook("non_ascii_emoji.json");
  auto escaped = escape_non_ascii(unicode);
  REQUIRE(escaped);
  CHECK(authenticate(unicode, testsupport::signature_header(*escaped, "gamma-secret"),
                     candidates) == std::set<std::string>{"gamma"});
  CHECK(authenticate(unicode, testsupport::signature_header(unicode, "fallback-secret"),
                     candidates) == std::set<std::string>{"delta"});
  // A fallback with nobody to vouch for authenticates nobody.
  CHECK(authenticate(body, testsupport::signature_header(body, "fb"), {{"fb", {}, true}}).empty());
}

TEST_CASE("webhook secret candidates: shared App Secrets group tenants, fallback covers the rest") {
  unsigned char bytes[MasterKey::size] = {7};
  MasterKey key(bytes, "test");
  auto config = [&](const std::string& tenant, const std::optional<std::string>& app_secret,
                    bool active) {
    Config c;
    c.tenant_id = tenant;
    c.phone_number_id = std::to_string(10 + tenant.size());
    c.is_active = active;
    if (app_secret) c.sealed_app_secret = seal(key, *app_secret, tenant, field_app_secret);
    return c;
  };
  std::vector<Config> configs = {config("acme", "shared", true), config("beta", "shared", true),
                                 config("gamma", "own", true), config("delta", std::nullopt, true),
                                 config("off", "inactive-secret", false)};
  auto with_fallback = secret_candidates(configs, key, std::string("env-secret"));
  REQUIRE(with_fallback.size() == 3);
  CHECK(with_fallback[0].secret == "own");
  CHECK(with_fallback[0].tenants == std::set<std::string>{"gamma"});
  CHECK(with_fallback[1].secret == "shared");
  CHECK(with_fallback[1].tenants == std::set<std::string>{"acme", "beta"});
  CHECK(with_fallback[2].fallback);
  CHECK(with_fallback[2].tenants == std::set<std::string>{"delta"});
  CHECK(secret_candidates(configs, key, std::nullopt).size() == 2);
  // The fallback never vouches for a tenant that has its own App Secret.
  std::string body = fixtures::webhook("text.json");
  CHECK(authenticate(body, testsupport::signature_header(body, "env-secret"), with_fallback) ==
        std::set<std::string>{"delta"});
  // A secret sealed for another tenant does not open: a credentials error, not a guess.
  configs[0].sealed_app_secret = configs[1].sealed_app_secret;
  CHECK_THROWS(secret_candidates(configs, key, std::nullopt));
}
