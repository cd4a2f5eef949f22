// wabactl serve downloads inbound media (CONTRACT.md §7), against the real binary and the
// fake Graph API.
#include "integration/test_serve_support.hpp"
#include "integration/test_stream_support.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sys/stat.h>

using namespace servetest;
using testsupport::FakeGraph;
using testsupport::Recorded;
using testsupport::Reply;
using testsupport::TempDir;
using testsupport::Wabactl;

namespace {

const std::string route = "/api/whatsapp/webhook";

// The image fixture as Meta sends it, with media id `media_id`, wamid `wamid` and a timestamp
// of now (Meta's media ids live 7 days from it).
std::string image_webhook(const std::string& media_id, const std::string& wamid) {
  auto body = nlohmann::json::parse(fixtures::webhook("image_with_sha.json"));
  auto& msg = body["entry"][0]["changes"][0]["value"]["messages"][0];
  msg["id"] = wamid;
  msg["image"]["id"] = media_id;
  msg["image"].erase("sha256");
  msg["timestamp"] = std::to_string(std::time(nullptr));
  return body.dump();
}

struct MediaRow {
  std::string state;
  std::string error;
  std::string sha256;
};

std::optional<MediaRow> media_of(const Wabactl& w, const std::string& wamid) {
  SQLite::Database db(w.db.string(), SQLite::OPEN_READONLY);
  db.setBusyTimeout(5000);
  SQLite::Statement q(db, "SELECT coalesce(media_state, ''), coalesce(media_error, ''), "
                          "coalesce(media_sha256, '') FROM whatsapp_messages WHERE message_id = ?");
  q.bind(1, wamid);
  if (!q.executeStep()) return std::nullopt;
  return MediaRow{q.getColumn(0).getString(), q.getColumn(1).getString(),
                  q.getColumn(2).getString()};
}

// Waits until the message's media leaves "pending" (or 20 s pass).
MediaRow settled(const Wabactl& w, const std::string& wamid) {
  for (int i = 0; i < 400; ++i) {
    auto m = media_of(w, wamid);
    if (m && m->state != "pending") return *m;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto m = media_of(w, wamid);
  return m.value_or(MediaRow{"absent", "", ""});
}

struct Setup {
  TempDir dir;
  Wabactl w{dir};
  FakeGraph graph;
  Setup() {
    REQUIRE(w({"key", "init"}).exit_code == 0);
    fixtures::add_tenant_config(w, dir, fixtures::acme, graph.url());
    graph.accept_token(fixtures::acme.access_token);
  }
};

} // namespace

TEST_CASE("serve answers an image webhook at once, then stores the image it fetches") {
  Setup s;
  const std::string bytes(100 * 1024, 'j');
  s.graph.add_media("7001", bytes);
  Daemon d(s.w, s.dir);
  auto r = d.post(route, image_webhook("7001", "wamid.MEDIA1"), fixtures::acme.app_secret);
  REQUIRE(r);
  CHECK(r->status == 200);
  MediaRow m = settled(s.w, "wamid.MEDIA1");
  CHECK(m.state == "stored");
  CHECK(m.sha256 == FakeGraph::sha256_hex(bytes));
  auto file = s.w.db.parent_path() / "media" / m.sha256.substr(0, 2) / m.sha256;
  CHECK(testsupport::slurp(file) == bytes);
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  auto history = s.w({"history", "--tenant", "acme", "--phone", "16505551234", "--json"});
  REQUIRE(history.exit_code == 0);
  CHECK(history.out.find("\"state\":\"stored\"") != std::string::npos);

  auto metrics = d.client().Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->body.find("wabactl_media_downloads_total{result=\"stored\"} 1") !=
        std::string::npos);
  CHECK(metrics->body.find("wabactl_media_queued 0") != std::string::npos);
  CHECK(d.stop() == 0);
}

TEST_CASE("serve ends a wrong sha256, an HTML download and a too large file as failed, healthy") {
  Setup s;
  const std::string base = s.graph.url();
  s.graph.set_handler([&](const Recorded& r) -> std::optional<Reply> {
    auto info = [&](const std::string& path, const std::string& sha, const std::string& size) {
      return Reply{
          200, nlohmann::json{{"url", base + path}, {"sha256", sha}, {"file_size", size}}.dump()};
    };
    if (r.path == "/v25.0/8001") return info("/sha", std::string(64, 'b'), "10");
    if (r.path == "/v25.0/8002") return info("/html", std::string(64, 'b'), "10");
    if (r.path == "/v25.0/8003") return info("/big", std::string(64, 'b'), "99999999");
    if (r.path == "/sha") return Reply{200, "0123456789", {{"Content-Type", "image/jpeg"}}};
    if (r.path == "/html") return Reply{200, "<html></html>", {{"Content-Type", "text/html"}}};
    return std::nullopt;
  });
  Daemon d(s.w, s.dir);
  for (const char* id : {"8001", "8002", "8003"}) {
    auto r =
        d.post(route, image_webhook(id, std::string("wamid.BAD") + id), fixtures::acme.app_secret);
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  CHECK(settled(s.w, "wamid.BAD8001").error.find("sha256") != std::string::npos);
  CHECK(settled(s.w, "wamid.BAD8002").error.find("HTML page") != std::string::npos);
  CHECK(settled(s.w, "wamid.BAD8003").error.find("over its cap") != std::string::npos);
  for (const char* id : {"8001", "8002", "8003"}) {
    CHECK(settled(s.w, std::string("wamid.BAD") + id).state == "failed");
  }
  CHECK(d.client().Get("/healthz")->status == 200);
  auto metrics = d.client().Get("/metrics");
  CHECK(metrics->body.find("wabactl_media_downloads_total{result=\"failed\"} 3") !=
        std::string::npos);
}

TEST_CASE("serve resumes the media queue after a restart") {
  Setup s;
  const std::string bytes(50 * 1024, 'r');
  s.graph.add_media("9001", bytes);
  std::atomic<bool> hold{true};
  // Meta is slow while the first daemon runs; it stops mid-download.
  s.graph.set_handler([&](const Recorded& r) -> std::optional<Reply> {
    if (hold && r.path == "/v25.0/9001")
      return Reply{503, "busy", {{"Content-Type", "text/plain"}}};
    return std::nullopt;
  });
  {
    Daemon d(s.w, s.dir);
    REQUIRE(
        d.post(route, image_webhook("9001", "wamid.RESUME"), fixtures::acme.app_secret)->status ==
        200);
    for (int i = 0; i < 200 && s.graph.count("GET", "/9001") == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    CHECK(d.stop() == 0);
  }
  CHECK(media_of(s.w, "wamid.RESUME")->state == "pending");
  hold = false;
  // The retry is due 30 s later: make it due now, as time passing would.
  {
    SQLite::Database db(s.w.db.string(), SQLite::OPEN_READWRITE);
    db.exec("UPDATE media_jobs SET due_at = 0");
  }
  Daemon again(s.w, s.dir);
  CHECK(settled(s.w, "wamid.RESUME").state == "stored");
}

TEST_CASE("serve: a daemon killed mid-download leaves the job to the next one, fetched at once") {
  Setup s;
  const std::string bytes(64 * 1024, 'k');
  s.graph.add_media("9101", bytes);
  std::atomic<bool> slow{true};
  // Meta's CDN hangs while the first daemon downloads.
  s.graph.set_handler([&](const Recorded& r) -> std::optional<Reply> {
    if (slow && r.path == FakeGraph::media_download_path("9101")) {
      return Reply{200, bytes, {{"Content-Type", "image/jpeg"}}, 4000};
    }
    return std::nullopt;
  });
  {
    Daemon d(s.w, s.dir);
    REQUIRE(
        d.post(route, image_webhook("9101", "wamid.KILLED"), fixtures::acme.app_secret)->status ==
        200);
    for (int i = 0; i < 200 && s.graph.count("GET", FakeGraph::media_download_path("9101")) == 0;
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    REQUIRE(s.graph.count("GET", FakeGraph::media_download_path("9101")) == 1);
    CHECK(d.stop(SIGKILL) == 128 + SIGKILL);
  }
  // Acknowledged, so kept; still pending, with no half file left under a real name.
  CHECK(media_of(s.w, "wamid.KILLED")->state == "pending");
  CHECK_FALSE(std::filesystem::exists(s.w.db.parent_path() / "media" /
                                      FakeGraph::sha256_hex(bytes).substr(0, 2) /
                                      FakeGraph::sha256_hex(bytes)));
  slow = false;
  // The claim names a process that no longer runs: the next daemon takes it now, not when
  // its 15-minute lease ends.
  Daemon again(s.w, s.dir);
  CHECK(settled(s.w, "wamid.KILLED").state == "stored");
  CHECK(again.log().find("claimable again") != std::string::npos);
}

TEST_CASE("serve announces media.stored on its tenant's event stream only") {
  FakeGraph graph;
  graph.accept_token(fixtures::acme.access_token);
  graph.accept_token(fixtures::globex.access_token);
  const std::string bytes(20 * 1024, 'e');
  graph.add_media("9201", bytes);
  streamtest::Setup s({}, graph.url());
  streamtest::SseClient acme(s.daemon->port(), "/api/whatsapp/events?access_token=" + s.acme_token);
  REQUIRE(acme.status() == 200);
  streamtest::SseClient globex(s.daemon->port(),
                               "/api/whatsapp/events?access_token=" + s.globex_token);
  REQUIRE(globex.status() == 200);
  REQUIRE(s.daemon->post(route, image_webhook("9201", "wamid.ANNOUNCED"), fixtures::acme.app_secret)
              ->status == 200);
  std::vector<std::string> types;
  std::optional<streamtest::SseEvent> stored;
  while (auto e = acme.event(10000)) {
    types.push_back(e->type);
    if (e->type == "media.stored") {
      stored = e;
      break;
    }
  }
  CAPTURE(types);
  REQUIRE(stored);
  CHECK(types.front() == "message.received");
  auto m = stored->json()["message"];
  CHECK(m["message_id"] == "wamid.ANNOUNCED");
  CHECK(m["media"]["state"] == "stored");
  CHECK(m["media"]["sha256"] == FakeGraph::sha256_hex(bytes));
  CHECK(m["media_url"] == "/api/whatsapp/media/" + m["id"].get<std::string>());
  // The route the event names answers the bytes.
  auto r = s.request("GET", m["media_url"].get<std::string>(), s.acme_token);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == bytes);
  CHECK_FALSE(globex.event(500));
}

TEST_CASE("serve refuses bad --media-workers and --media-max values with exit 2") {
  Setup s;
  for (const auto& args : std::vector<std::vector<std::string>>{{"--media-workers", "0"},
                                                                {"--media-workers", "65"},
                                                                {"--media-workers", "x"},
                                                                {"--media-max", "image"},
                                                                {"--media-max", "text=10"},
                                                                {"--media-max", "image=0"},
                                                                {"--media-max", "image=-5"}}) {
    std::vector<std::string> argv = {"serve", "--listen", "127.0.0.1:0"};
    argv.insert(argv.end(), args.begin(), args.end());
    CAPTURE(args.back());
    auto r = s.w(argv);
    CHECK(r.exit_code == 2);
  }
}
