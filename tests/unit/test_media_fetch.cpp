#include "support/fixtures.hpp"
#include "support/support.hpp"
#include "support/temp_store.hpp"
#include "wabactl/error.hpp"
#include "wabactl/inbox.hpp"
#include "wabactl/media.hpp"
#include "wabactl/media_fetch.hpp"
#include "wabactl/media_queue.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/secrets.hpp"
#include "wabactl/util.hpp"
#include "wabactl/webhook.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <array>

using namespace wabactl;
using testsupport::FakeGraph;
using testsupport::Recorded;
using testsupport::Reply;

namespace {

MasterKey test_key() {
  std::array<unsigned char, MasterKey::size> bytes{};
  bytes.fill(7);
  return MasterKey(bytes.data(), "test key");
}

// A delivery with one inbound image whose media id is `media_id`, sent `age` seconds ago.
std::string image_delivery(const std::string& wamid, const std::string& media_id,
                           std::optional<std::string> sha256 = std::nullopt, std::int64_t age = 0) {
  nlohmann::json image = {{"mime_type", "image/jpeg"}, {"id", media_id}};
  if (sha256) image["sha256"] = *sha256;
  nlohmann::json value = {{"messaging_product", "whatsapp"},
                          {"metadata",
                           {{"display_phone_number", "15550000000"},
                            {"phone_number_id", fixtures::acme.phone_number_id}}},
                          {"messages",
                           {{{"from", "16505551234"},
                             {"id", wamid},
                             {"timestamp", std::to_string(now_ms() / 1000 - age)},
                             {"type", "image"},
                             {"image", image}}}}};
  return nlohmann::json{
      {"object", "whatsapp_business_account"},
      {"entry", {{{"id", "1"}, {"changes", {{{"field", "messages"}, {"value", value}}}}}}}}
      .dump();
}

struct Fixture {
  FakeGraph graph;
  testsupport::TempStore store{};
  MasterKey key = test_key();
  MediaCaps caps;
  Fixture() {
    fixtures::add_tenant_config(store, key, fixtures::acme, graph.url());
    graph.accept_token(fixtures::acme.access_token);
  }
  std::int64_t ingest(const std::string& body) {
    store.transaction([&] {
      record_delivery(store, body, parse_delivery(body), fixtures::numbers({fixtures::acme}),
                      "/api/whatsapp/webhook", "app-secret");
    });
    return testsupport::query_int(store, "SELECT max(id) FROM whatsapp_messages");
  }
  Message message(std::int64_t id) { return *find_message_by_local_id(store, "acme", id); }
  // Claims the message's job and runs one attempt.
  MediaOutcome attempt(std::int64_t id) {
    auto job =
        claim_media_job(store, "acme", id, "test", now_ms() / 1000, std::chrono::seconds(60));
    REQUIRE(job);
    return process_media_job(
        store, *job, caps, [this](const Config& c) { return open_secrets(c, key); }, "test");
  }
};

std::string bytes_of(std::size_t n, char fill = 'x') {
  std::string s(n, fill);
  for (std::size_t i = 0; i < n; i += 97) s[i] = static_cast<char>(i & 0xff);
  return s;
}

} // namespace

TEST_CASE("sha256_hex reads Meta's hex and base64 digests and refuses anything else") {
  CHECK(sha256_hex("SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=") ==
        "49f22763480629"
        "3b0995459bc310b593e1400f41591efcf07e9bced335f41942");
  CHECK(sha256_hex(std::string(64, 'A')) == std::string(64, 'a'));
  CHECK_FALSE(sha256_hex(""));
  CHECK_FALSE(sha256_hex("abe="));
  CHECK_FALSE(sha256_hex(std::string(63, 'a')));
  CHECK_FALSE(sha256_hex(std::string(64, 'g')));
  CHECK_FALSE(sha256_hex("SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GU*="));
}

TEST_CASE("webhook parsing keeps the media's announced sha256, size and filename") {
  auto parsed = parse_delivery(fixtures::webhook("image.json"));
  REQUIRE(parsed.messages.size() == 1);
  CHECK(parsed.messages[0].media_sha256 ==
        "49f227634806293b0995459bc310b593e1400f41591efcf07e9bced335f41942");
  auto doc = parse_delivery(fixtures::webhook("document.json"));
  CHECK(doc.messages[0].media_filename == "receipt.pdf");
  CHECK_FALSE(doc.messages[0].media_sha256); // "abe=" is no digest
}

TEST_CASE("media hosts: https on Meta's domains, or exactly a custom Graph base's origin") {
  const std::string meta = "https://graph.facebook.com";
  CHECK(media_url_allowed("https://lookaside.fbsbx.com/whatsapp_business/x?mid=1", meta));
  CHECK(media_url_allowed("https://scontent.xx.fbcdn.net/v/t1/1.jpg", meta));
  CHECK(media_url_allowed("https://mmg.whatsapp.net/d/f/1.enc", meta));
  CHECK_FALSE(media_url_allowed("http://lookaside.fbsbx.com/x", meta));
  CHECK_FALSE(media_url_allowed("https://evilfbsbx.com/x", meta));
  CHECK_FALSE(media_url_allowed("https://fbsbx.com.evil.example/x", meta));
  CHECK_FALSE(media_url_allowed("https://lookaside.fbsbx.com@evil.example/x", meta));
  CHECK_FALSE(media_url_allowed("https://127.0.0.1/x", meta));
  CHECK_FALSE(media_url_allowed("", meta));
  CHECK_FALSE(media_url_allowed("https://lookaside.fbsbx.com/a b", meta));
  const std::string custom = "http://127.0.0.1:4000";
  CHECK(media_url_allowed("http://127.0.0.1:4000/download/1", custom));
  CHECK_FALSE(media_url_allowed("http://127.0.0.1:4001/download/1", custom));
  CHECK_FALSE(media_url_allowed("https://lookaside.fbsbx.com/x", custom));
}

TEST_CASE("--media-max takes TYPE=BYTES for the five media types only") {
  MediaCaps caps;
  CHECK(caps.cap_for("image") == 5 << 20);
  set_media_cap(caps, "image=1000");
  CHECK(caps.cap_for("image") == 1000);
  for (const char* bad : {"", "image", "image=", "image=0", "image=-1", "image=12x", "text=100",
                          "image=99999999999999999999", "=100"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(set_media_cap(caps, bad), Error);
  }
}

TEST_CASE("media queue: ingest queues a pending job, and a lease keeps a second claimant out") {
  Fixture f;
  auto id = f.ingest(image_delivery("wamid.IMG1", "1001"));
  CHECK(f.message(id).media->state == "pending");
  CHECK(queued_media_jobs(f.store) == 1);
  const std::int64_t now = now_ms() / 1000;
  CHECK(media_job_due(f.store, now));
  auto first = claim_media_jobs(f.store, "daemon-a", 4, now, std::chrono::seconds(60));
  REQUIRE(first.size() == 1);
  CHECK(first[0].media_id == "1001");
  CHECK(claim_media_jobs(f.store, "daemon-b", 4, now, std::chrono::seconds(60)).empty());
  CHECK_FALSE(claim_media_job(f.store, "acme", id, "cli", now, std::chrono::seconds(60)));
  // The lease lapses (its holder died): claimable again.
  CHECK(claim_media_jobs(f.store, "daemon-b", 4, now + 61, std::chrono::seconds(60)).size() == 1);
  // Another tenant never claims it by id.
  CHECK_FALSE(claim_media_job(f.store, "beta", id, "cli", now + 200, std::chrono::seconds(60)));
  // A duplicate delivery queues nothing more.
  f.ingest(image_delivery("wamid.IMG1", "1001"));
  CHECK(queued_media_jobs(f.store) == 1);
}

TEST_CASE("media queue: retries back off, doubling to an hour, and fail once the id expires") {
  CHECK(media_retry_delay(1) == 30);
  CHECK(media_retry_delay(2) == 60);
  CHECK(media_retry_delay(8) == 3600);
  CHECK(media_retry_delay(100) == 3600);
  Fixture f;
  auto id = f.ingest(image_delivery("wamid.IMG2", "1002"));
  const std::int64_t now = now_ms() / 1000;
  auto jobs = claim_media_jobs(f.store, "d", 1, now, std::chrono::seconds(60));
  REQUIRE(jobs.size() == 1);
  CHECK_FALSE(record_media_retry(f.store, jobs[0], "Meta answered 503", now));
  CHECK(f.message(id).media->state == "pending");
  CHECK(f.message(id).media->error == "Meta answered 503");
  auto due = next_media_due(f.store);
  REQUIRE(due);
  CHECK(*due >= now + 30);
  CHECK(*due <= now + 36);
  CHECK_FALSE(media_job_due(f.store, now + 29));
  // Claimed again near the end of Meta's 7 days: the next retry would come too late.
  auto late = claim_media_jobs(f.store, "d", 1, now + media_id_lifetime_seconds - 10,
                               std::chrono::seconds(60));
  REQUIRE(late.size() == 1);
  CHECK(record_media_retry(f.store, late[0], "Meta answered 503",
                           now + media_id_lifetime_seconds - 10));
  CHECK(f.message(id).media->state == "failed");
  CHECK(f.message(id).media->error->find("7 days") != std::string::npos);
  CHECK(queued_media_jobs(f.store) == 0);
}

TEST_CASE("media queue: a job already past Meta's 7 days fails instead of being claimed") {
  Fixture f;
  auto id = f.ingest(image_delivery("wamid.IMG3", "1003", std::nullopt, 8 * 24 * 3600));
  CHECK(claim_media_jobs(f.store, "d", 4, now_ms() / 1000, std::chrono::seconds(60)).empty());
  CHECK(f.message(id).media->state == "failed");
  CHECK(f.message(id).media->error->find("expired") != std::string::npos);
}

TEST_CASE("media fetch: the bytes are stored content-addressed, 0600, with event media.stored") {
  Fixture f;
  const std::string bytes = bytes_of(100 * 1024);
  f.graph.add_media("2001", bytes);
  auto id = f.ingest(image_delivery("wamid.OK1", "2001"));
  auto outcome = f.attempt(id);
  REQUIRE(outcome.result == MediaResult::stored);
  Message m = f.message(id);
  CHECK(m.media->state == "stored");
  CHECK(m.media->sha256 == FakeGraph::sha256_hex(bytes));
  CHECK(m.media->size == static_cast<std::int64_t>(bytes.size()));
  CHECK(m.media_url == fmt::format("/api/whatsapp/media/{}", id));
  auto file = media_file(f.store, *m.media->sha256);
  CHECK(testsupport::slurp(file) == bytes);
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto events = testsupport::events_after(f.store, "acme", 0, 100);
  CHECK(events.back().type == "media.stored");
  CHECK(events.back().data["message"]["media"]["state"] == "stored");
  // Meta was asked for its media with the tenant's token, scoped to its number.
  bool asked = false;
  for (const auto& r : f.graph.requests()) {
    if (r.path == "/v25.0/2001") {
      asked = r.query == "phone_number_id=" + fixtures::acme.phone_number_id &&
              r.authorization == "Bearer " + fixtures::acme.access_token;
    }
  }
  CHECK(asked);
  CHECK(queued_media_jobs(f.store) == 0);
}

TEST_CASE("media fetch: each bad answer ends with its reason and the message intact") {
  struct Case {
    const char* name;
    std::function<std::optional<Reply>(const Recorded&, const std::string&)> reply;
    MediaResult result;
    const char* reason;
  };
  const std::string bytes = bytes_of(4096);
  auto info = [&](const std::string& url, const std::string& sha, const std::string& size) {
    return Reply{200, nlohmann::json{{"url", url},
                                     {"mime_type", "image/jpeg"},
                                     {"sha256", sha},
                                     {"file_size", size},
                                     {"id", "3001"}}
                          .dump()};
  };
  const std::string good_sha = FakeGraph::sha256_hex(bytes);
  std::vector<Case> cases = {
      {"html info",
       [](const Recorded& r, const std::string&) -> std::optional<Reply> {
         if (r.path == "/v25.0/3001")
           return Reply{200, "<html>login</html>", {{"Content-Type", "text/html"}}};
         return std::nullopt;
       },
       MediaResult::failed, "HTML page, not JSON"},
      {"wrong shape",
       [](const Recorded& r, const std::string&) -> std::optional<Reply> {
         if (r.path == "/v25.0/3001") return Reply{200, R"({"id":"3001"})"};
         return std::nullopt;
       },
       MediaResult::failed, "not the JSON"},
      {"expired id",
       [](const Recorded& r, const std::string&) -> std::optional<Reply> {
         if (r.path == "/v25.0/3001")
           return Reply{404, FakeGraph::error_body(100, "no such object")};
         return std::nullopt;
       },
       MediaResult::failed, "404"},
      {"token rejected",
       [](const Recorded& r, const std::string&) -> std::optional<Reply> {
         if (r.path == "/v25.0/3001") return Reply{401, FakeGraph::error_body(190, "expired", 463)};
         return std::nullopt;
       },
       MediaResult::failed, "access token"},
      {"meta 503",
       [](const Recorded& r, const std::string&) -> std::optional<Reply> {
         if (r.path == "/v25.0/3001") return Reply{503, "busy", {{"Content-Type", "text/plain"}}};
         return std::nullopt;
       },
       MediaResult::retry, "503"},
      {"html download",
       [&](const Recorded& r, const std::string& base) -> std::optional<Reply> {
         if (r.path == "/v25.0/3001") return info(base + "/dl", good_sha, "4096");
         if (r.path == "/dl") return Reply{200, "<html>hi</html>", {{"Content-Type", "text/html"}}};
         return std::nullopt;
       },
       MediaResult::failed, "HTML page"},
      {"larger than announced",
       [&](const Recorded& r, const std::string& base) -> std::optional<Reply> {
         if (r.path == "/v25.0/3001") return info(base + "/dl", good_sha, "100");
         if (r.path == "/dl") return Reply{200, bytes, {{"Content-Type", "image/jpeg"}}};
         return std::nullopt;
       },
       MediaResult::failed, "larger than the 100 bytes Meta announced"},
      {"wrong sha256",
       [&](const Recorded& r, const std::string& base) -> std::optional<Reply> {
         if (r.path == "/v25.0/3001") return info(base + "/dl", std::string(64, 'a'), "4096");
         if (r.path == "/dl") return Reply{200, bytes, {{"Content-Type", "image/jpeg"}}};
         return std::nullopt;
       },
       MediaResult::failed, "sha256"},
      {"other host",
       [&](const Recorded& r, const std::string&) -> std::optional<Reply> {
         if (r.path == "/v25.0/3001") return info("http://127.0.0.2:9/dl", good_sha, "4096");
         return std::nullopt;
       },
       MediaResult::failed, "refused to download"},
      {"redirect loop",
       [&](const Recorded& r, const std::string& base) -> std::optional<Reply> {
         if (r.path == "/v25.0/3001") return info(base + "/dl", good_sha, "4096");
         if (r.path == "/dl") return Reply{302, "", {{"Location", base + "/dl"}}};
         return std::nullopt;
       },
       MediaResult::failed, "redirected more than 3"},
      {"redirect to another host",
       [&](const Recorded& r, const std::string& base) -> std::optional<Reply> {
         if (r.path == "/v25.0/3001") return info(base + "/dl", good_sha, "4096");
         if (r.path == "/dl") return Reply{302, "", {{"Location", "http://127.0.0.2:9/x"}}};
         return std::nullopt;
       },
       MediaResult::failed, "refused to download"},
      {"truncated",
       [&](const Recorded& r, const std::string& base) -> std::optional<Reply> {
         if (r.path == "/v25.0/3001") return info(base + "/dl", good_sha, "4096");
         if (r.path == "/dl")
           return Reply{200, bytes.substr(0, 1000), {{"Content-Type", "image/jpeg"}}};
         return std::nullopt;
       },
       MediaResult::retry, "truncated"},
      {"download 500",
       [&](const Recorded& r, const std::string& base) -> std::optional<Reply> {
         if (r.path == "/v25.0/3001") return info(base + "/dl", good_sha, "4096");
         if (r.path == "/dl") return Reply{500, "oops", {{"Content-Type", "text/plain"}}};
         return std::nullopt;
       },
       MediaResult::retry, "HTTP 500"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    Fixture f;
    const std::string base = f.graph.url();
    f.graph.set_handler([&](const Recorded& r) { return c.reply(r, base); });
    auto id = f.ingest(image_delivery("wamid.BAD", "3001"));
    auto outcome = f.attempt(id);
    CHECK(outcome.result == c.result);
    CHECK(outcome.reason.find(c.reason) != std::string::npos);
    Message m = f.message(id);
    CHECK(m.media->state == (c.result == MediaResult::failed ? "failed" : "pending"));
    CHECK(m.media->error == outcome.reason);
    CHECK(m.type == "image");
    CHECK(m.media_id == "3001");
    // Nothing half-written is left in the media folder.
    std::size_t files = 0;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(media_dir(f.store), ec);
         it != std::filesystem::recursive_directory_iterator(); ++it) {
      files += it->is_regular_file() ? 1 : 0;
    }
    CHECK(files == 0);
  }
}

TEST_CASE("media fetch: a file over its type's cap is refused, before or during the transfer") {
  Fixture f;
  f.caps.bytes["image"] = 1000;
  f.graph.add_media("4001", bytes_of(5000));
  auto announced = f.ingest(image_delivery("wamid.BIG1", "4001"));
  auto outcome = f.attempt(announced);
  CHECK(outcome.result == MediaResult::failed);
  CHECK(outcome.reason.find("over its cap of 1000 bytes") != std::string::npos);

  // No size announced: the transfer is cut as soon as it passes the cap.
  const std::string base = f.graph.url();
  f.graph.set_handler([&](const Recorded& r) -> std::optional<Reply> {
    if (r.path == "/v25.0/4002") {
      return Reply{200, nlohmann::json{{"url", base + "/dl"}, {"id", "4002"}}.dump()};
    }
    if (r.path == "/dl") return Reply{200, bytes_of(1 << 20), {{"Content-Type", "image/jpeg"}}};
    return std::nullopt;
  });
  auto unannounced = f.ingest(image_delivery("wamid.BIG2", "4002"));
  outcome = f.attempt(unannounced);
  CHECK(outcome.result == MediaResult::failed);
  CHECK(outcome.reason.find("larger than its cap of 1000 bytes") != std::string::npos);
}

TEST_CASE("fetch_media_now stores a pending item, and answers for stored, failed and absent ones") {
  Fixture f;
  const std::string bytes = bytes_of(2048);
  f.graph.add_media("5001", bytes);
  auto id = f.ingest(image_delivery("wamid.NOW1", "5001"));
  Message m = fetch_media_now(f.store, f.key, "acme", id, f.caps);
  CHECK(m.media->state == "stored");
  CHECK(testsupport::slurp(media_file(f.store, *m.media->sha256)) == bytes);
  // Stored: no second request to Meta.
  auto asked = f.graph.count("GET", "/5001");
  CHECK(fetch_media_now(f.store, f.key, "acme", id, f.caps).media->state == "stored");
  CHECK(f.graph.count("GET", "/5001") == asked);
  // Another tenant's message is not found.
  try {
    fetch_media_now(f.store, f.key, "beta", id, f.caps);
    FAIL("another tenant's media was fetched");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::not_found);
  }
  // Failed: the reason, exit 5.
  auto gone = f.ingest(image_delivery("wamid.NOW2", "5002"));
  try {
    fetch_media_now(f.store, f.key, "acme", gone, f.caps);
    FAIL("a media id Meta does not know was fetched");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::rejected);
  }
  // Held by another claimant (the daemon): try again later.
  auto held = f.ingest(image_delivery("wamid.NOW3", "5003"));
  REQUIRE(
      claim_media_job(f.store, "acme", held, "daemon", now_ms() / 1000, std::chrono::seconds(600)));
  try {
    fetch_media_now(f.store, f.key, "acme", held, f.caps);
    FAIL("a claimed job was fetched twice");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::tempfail);
  }
}
