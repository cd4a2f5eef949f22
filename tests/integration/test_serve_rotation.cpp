// `wabactl key rotate` while `serve` runs: nothing is refused meanwhile, and the daemon takes
// the new key once its key file holds it (by itself, or at once on SIGHUP).
#include "integration/test_stream_support.hpp"

#include <doctest/doctest.h>

#include <csignal>

namespace {

// Signed deliveries for acme over `span`, each of which must be stored (200).
int deliveries_pass(streamtest::Setup& s, const std::string& prefix,
                    std::chrono::milliseconds span) {
  auto until = std::chrono::steady_clock::now() + span;
  int i = 0;
  do {
    s.inbound(fmt::format("wamid.{}{}", prefix, i++), "during the rotation");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < until);
  return i;
}

// Waits until the daemon has noticed the rotation (a signed delivery makes it look): it
// says so in its log. Returns the deliveries it stored meanwhile.
int rotation_noticed(streamtest::Setup& s) {
  for (int i = 0; i < 50; ++i) {
    s.inbound(fmt::format("wamid.N{}", i), "noticing the rotation");
    if (s.daemon->log().find("the stored key check changed") != std::string::npos) return i + 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL("the daemon did not notice the rotation");
  return 0;
}

// Waits until the daemon has the new key: a config write (which must seal under it) passes.
bool config_opens(streamtest::Setup& s, std::chrono::milliseconds within) {
  auto until = std::chrono::steady_clock::now() + within;
  for (;;) {
    auto r = s.request("POST", "/api/whatsapp/config", s.acme_token,
                       R"({"verify_token": "verify-acme", "test": false})");
    if (r && r->status == 200) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void replace_key_file(const std::filesystem::path& fresh, const std::filesystem::path& key) {
  std::filesystem::rename(fresh, key);
}

} // namespace

TEST_CASE("serve: a key rotation while it runs refuses no signed webhook, then the new key is "
          "taken from the key file") {
  streamtest::Setup s;
  s.inbound("wamid.K0", "before the rotation");
  auto fresh = s.dir / "config/fresh.key";
  auto r = s.w({"key", "rotate", "--new-key-file", fresh.string()});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  // The daemon still holds the old key: the secrets it has open keep verifying.
  int stored = 1 + deliveries_pass(s, "K1.", std::chrono::milliseconds(1500));
  stored += rotation_noticed(s);
  auto write = s.request("POST", "/api/whatsapp/config", s.acme_token,
                         R"({"phone_number_id": "106540352242922"})");
  REQUIRE(write);
  CHECK(write->status == 503); // it cannot seal under a key it does not have yet
  // The admin puts the new key where the daemon reads it: it is picked up by itself.
  replace_key_file(fresh, s.w.key);
  CHECK(config_opens(s, std::chrono::seconds(5)));
  stored += deliveries_pass(s, "K2.", std::chrono::milliseconds(300));
  CHECK(s.daemon->log().find("now using the key from") != std::string::npos);
  auto unread = s.w({"unread", "--tenant", "acme"});
  REQUIRE(unread.exit_code == 0);
  CHECK(unread.out == fmt::format("{}\n", stored));
}

TEST_CASE("serve: SIGHUP takes a rotated key at once") {
  streamtest::Setup s;
  auto fresh = s.dir / "config/fresh.key";
  REQUIRE(s.w({"key", "rotate", "--new-key-file", fresh.string()}).exit_code == 0);
  rotation_noticed(s);
  // Two failed retries later the next one is 4 s away: only the reload can be quick.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  replace_key_file(fresh, s.w.key);
  REQUIRE(::kill(s.daemon->pid(), SIGHUP) == 0);
  CHECK(config_opens(s, std::chrono::milliseconds(1000)));
  s.inbound("wamid.H0", "after the reload");
  CHECK(s.daemon->log().find("SIGHUP received") != std::string::npos);
  // A reload without a rotation changes nothing.
  REQUIRE(::kill(s.daemon->pid(), SIGHUP) == 0);
  CHECK(config_opens(s, std::chrono::seconds(2)));
  s.inbound("wamid.H1", "after a second reload");
}

TEST_CASE("serve: sends, receipts and the config go on while a rotation waits for its new key") {
  testsupport::FakeGraph graph;
  graph.accept_token(fixtures::acme.access_token);
  streamtest::Setup s({}, graph.url());
  s.inbound("wamid.S0", "before the rotation", false, "15551234567", 1764000000);
  auto fresh = s.dir / "config/fresh.key";
  REQUIRE(s.w({"key", "rotate", "--new-key-file", fresh.string()}).exit_code == 0);
  rotation_noticed(s);
  // The tenant's token, opened before the rotation, still sends.
  auto sent = s.request(
      "POST", "/api/whatsapp/send", s.acme_token,
      R"({"phoneNumber":"+15557654321","message":"during the rotation","outside_window":true})");
  REQUIRE(sent);
  INFO(sent->body);
  CHECK(sent->status == 200);
  CHECK(graph.count("POST", "/messages") == 1);
  auto config = s.request("GET", "/api/whatsapp/config", s.acme_token);
  REQUIRE(config);
  CHECK(config->status == 200);
  CHECK(config->body.find(fixtures::acme.access_token) == std::string::npos);
  auto read = s.request("POST", "/api/whatsapp/read-all", s.acme_token, "{}");
  REQUIRE(read);
  CHECK(read->status == 200);
  CHECK(nlohmann::json::parse(read->body)["receipts"] == 1);
  // Sealing needs the new key: a config write waits for it.
  auto write = s.request("POST", "/api/whatsapp/config", s.acme_token,
                         R"({"verify_token": "verify-acme", "test": false})");
  REQUIRE(write);
  CHECK(write->status == 503);
  replace_key_file(fresh, s.w.key);
  REQUIRE(::kill(s.daemon->pid(), SIGHUP) == 0);
  CHECK(config_opens(s, std::chrono::seconds(2)));
}
