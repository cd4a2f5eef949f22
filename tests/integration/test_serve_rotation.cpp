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

// Waits until the daemon has noticed the rotation: its config answers 503.
void rotation_noticed(streamtest::Setup& s) {
  for (int i = 0; i < 50; ++i) {
    auto r = s.request("GET", "/api/whatsapp/config", s.acme_token);
    REQUIRE(r);
    if (r->status == 503) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL("the daemon did not notice the rotation");
}

// Waits until GET /api/whatsapp/config answers 200 (the daemon opens the re-sealed secrets).
bool config_opens(streamtest::Setup& s, std::chrono::milliseconds within) {
  auto until = std::chrono::steady_clock::now() + within;
  for (;;) {
    auto r = s.request("GET", "/api/whatsapp/config", s.acme_token);
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
  rotation_noticed(s);
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
