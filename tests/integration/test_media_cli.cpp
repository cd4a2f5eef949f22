// `wabactl media get | list | prune` as users run them: the real binary on a database whose
// media the test keeps itself (the daemon's fetcher is not needed to have stored bytes).
#include "integration/test_cli_helpers.hpp"
#include "support/media_rows.hpp"
#include "support/temp_store.hpp"
#include "wabactl/media_index.hpp"

#include <fstream>
#include <sstream>

using namespace clitest;
using nlohmann::json;
using testsupport::insert_media_message;
using testsupport::keep_bytes;

namespace {

struct MediaEnv : Env {
  std::unique_ptr<wabactl::Store> store;
  std::int64_t stored = 0;
  std::int64_t pending = 0;
  std::int64_t failed = 0;
  std::string bytes;

  MediaEnv() {
    check_ok(w({"tenant", "add", "beta"}));
    store = std::make_unique<wabactl::Store>(w.db);
    for (int i = 0; i < 70000; ++i) bytes.push_back(static_cast<char>(i * 7 % 256));
    stored = insert_media_message(*store, {.wamid = "wamid.STORED",
                                           .timestamp = "2026-01-01T00:00:00Z",
                                           .filename = "../Receipt \"May\".jpg"});
    keep_bytes(*store, "acme", stored, bytes);
    pending = insert_media_message(*store, {.wamid = "wamid.PENDING",
                                            .type = "audio",
                                            .mime_type = "audio/ogg",
                                            .timestamp = "2026-01-02T00:00:00Z"});
    failed = insert_media_message(*store, {.wamid = "wamid.FAILED",
                                           .type = "document",
                                           .mime_type = "application/pdf",
                                           .timestamp = "2026-01-03T00:00:00Z",
                                           .state = "failed",
                                           .error = "Meta answered 404: the media id expired"});
  }

  RunResult media(std::vector<std::string> args) const {
    args.insert(args.begin(), "media");
    return w(args);
  }
};

} // namespace

TEST_CASE("cli media get: the bytes to a private file, stdout or a folder, never over a file") {
  MediaEnv e;
  auto out = e.dir / "receipt.jpg";
  auto r = e.media({"get", "--tenant", "acme", "wamid.STORED", "-o", out.string()});
  check_ok(r);
  CHECK(r.out == out.string() + "\n");
  CHECK(testsupport::slurp(out) == e.bytes);
  CHECK(testsupport::mode_of(out) == 0600U);

  // An existing file is kept unless --force (exit 8, as key init).
  std::ofstream(out, std::ios::trunc) << "my own file";
  r = e.media({"get", "--tenant", "acme", std::to_string(e.stored), "-o", out.string()});
  check_error(r, 8);
  CHECK(r.err.find("--force") != std::string::npos);
  CHECK(testsupport::slurp(out) == "my own file");
  check_ok(e.media({"get", "--tenant", "acme", "wamid.STORED", "-o", out.string(), "--force"}));
  CHECK(testsupport::slurp(out) == e.bytes);

  r = e.media({"get", "--tenant", "acme", "wamid.STORED", "-o", "-"});
  check_ok(r);
  CHECK(r.out == e.bytes);

  // A folder: the sender's name made safe, inside it.
  auto folder = e.dir / "downloads";
  std::filesystem::create_directory(folder);
  r = e.media({"--json", "get", "--tenant", "acme", "wamid.STORED", "-o", folder.string()});
  check_ok(r);
  auto j = json::parse(r.out);
  CHECK(j["path"] == (folder / "Receipt May.jpg").string());
  CHECK(j["size"] == e.bytes.size());
  CHECK(j["mime_type"] == "image/jpeg");
  CHECK(testsupport::slurp(folder / "Receipt May.jpg") == e.bytes);
  CHECK_FALSE(std::filesystem::exists(e.dir / "Receipt \"May\".jpg"));
}

TEST_CASE("cli media get: a pending item is fetched from Meta now and kept") {
  MediaEnv e;
  check_ok(e.set_config());
  const std::string voice = "OggS voice note bytes";
  e.graph.add_media("MEDIA-wamid.PENDING", voice, "audio/ogg");
  auto r = e.media({"--json", "get", "--tenant", "acme", "wamid.PENDING", "-o", "-"});
  check_ok(r);
  CHECK(r.out == voice);
  auto listed =
      json_lines(e.media({"--json", "list", "--tenant", "acme", "--state", "stored"}).out);
  REQUIRE(listed.size() == 2);
  CHECK(listed[0]["id"] == std::to_string(e.pending));
  CHECK(listed[0]["media"]["sha256"] == FakeGraph::sha256_hex(voice));
  // Kept: asked again, it is read from the media folder and Meta is not called.
  auto calls = e.graph.requests().size();
  check_ok(e.media({"get", "--tenant", "acme", "wamid.PENDING", "-o", "-"}));
  CHECK(e.graph.requests().size() == calls);
}

TEST_CASE("cli media get: pending, failed, another tenant's, none and bad input") {
  MediaEnv e;
  check_ok(e.set_config());
  // Meta fails for now: exit 75, the item stays pending for 'wabactl serve' to retry.
  e.graph.set_handler([](const testsupport::Recorded& q) -> std::optional<testsupport::Reply> {
    if (q.path.find("MEDIA-") != std::string::npos) {
      return testsupport::Reply{500, FakeGraph::error_body(1, "An unknown error occurred")};
    }
    return std::nullopt;
  });
  auto r = e.media({"get", "--tenant", "acme", "wamid.PENDING", "-o", "-"});
  check_error(r, 75);
  CHECK(r.err.find("could not be fetched yet") != std::string::npos);
  CHECK(r.out.empty());
  auto pending =
      json_lines(e.media({"--json", "list", "--tenant", "acme", "--state", "pending"}).out);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0]["media"]["error"].is_string());

  r = e.media({"get", "--tenant", "acme", "wamid.FAILED", "-o", "-"});
  check_error(r, 3);
  CHECK(r.err.find("the media id expired") != std::string::npos);

  for (const std::string& id : {std::string("wamid.STORED"), std::to_string(e.stored)}) {
    CAPTURE(id);
    r = e.media({"get", "--tenant", "beta", id, "-o", "-"});
    check_error(r, 3);
    CHECK(r.out.empty());
    CHECK(r.err.find("no message") != std::string::npos);
  }
  testsupport::insert_outgoing(*e.store,
                               {.tenant = "acme", .phone = "15551234567", .wamid = "wamid.TEXT"});
  r = e.media({"get", "--tenant", "acme", "wamid.TEXT"});
  check_error(r, 3);
  CHECK(r.err.find("has no media") != std::string::npos);

  check_error(e.media({"get", "--tenant", "acme", "", "-o", "-"}), 2);
  check_error(e.media({"get", "--tenant", "acme", std::string(600, 'x'), "-o", "-"}), 2);
  check_error(e.media({"get", "--tenant", "acme", "wamid.STORED", "-o", ""}), 2);
  check_error(e.media({"get", "--tenant", "acme", "wamid.STORED", "-o", "-", "--force"}), 2);
  check_error(e.media({"get", "--tenant", "Not A Tenant", "wamid.STORED"}), 2);
  check_error(e.media({"get", "--tenant", "nobody", "wamid.STORED"}), 3);
  check_error(e.media({"get", "wamid.STORED"}), 2);
  check_error(e.media({"get", "--tenant", "acme", "wamid.STORED", "-o",
                       (e.dir / "no-such-folder" / "x.jpg").string()}),
              2);
}

TEST_CASE("cli media list: newest first, by state, as a table or Message JSON lines") {
  MediaEnv e;
  auto r = e.media({"list", "--tenant", "acme"});
  check_ok(r);
  std::istringstream table(r.out);
  std::vector<std::string> rows;
  for (std::string line; std::getline(table, line);) rows.push_back(line);
  REQUIRE(rows.size() == 4);
  CHECK(rows[0].find("STATE") != std::string::npos);
  CHECK(rows[1].find("failed") != std::string::npos);
  CHECK(rows[1].find("the media id expired") != std::string::npos);
  CHECK(rows[2].find("pending") != std::string::npos);
  CHECK(rows[3].find("stored") != std::string::npos);
  CHECK(rows[3].find("Receipt May.jpg") != std::string::npos);
  CHECK(rows[3].find("68.4 KiB") != std::string::npos);

  r = e.media({"--json", "list", "--tenant", "acme", "--state", "stored"});
  check_ok(r);
  auto lines = json_lines(r.out);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["message_id"] == "wamid.STORED");
  CHECK(lines[0]["media"]["state"] == "stored");
  CHECK(lines[0]["media"]["size"] == e.bytes.size());
  CHECK(lines[0]["media_url"] == "/api/whatsapp/media/" + std::to_string(e.stored));

  r = e.media({"--json", "list", "--tenant", "acme", "--limit", "2"});
  check_ok(r);
  CHECK(json_lines(r.out).size() == 2);

  r = e.media({"list", "--tenant", "beta"});
  check_ok(r);
  CHECK(r.out.empty());
  CHECK(r.err.find("no media") != std::string::npos);

  check_error(e.media({"list", "--tenant", "acme", "--state", "done"}), 2);
  check_error(e.media({"list", "--tenant", "acme", "--state", ""}), 2);
  check_error(e.media({"list", "--tenant", "acme", "--limit", "0"}), 2);
  check_error(e.media({"list", "--tenant", "acme", "--limit", "1001"}), 2);
  check_error(e.media({"list", "--tenant", "acme", "--limit", "lots"}), 2);
  check_error(e.media({"list", "--tenant", "nobody"}), 3);
}

TEST_CASE("cli media prune: old bytes removed, the messages kept and marked, what was freed") {
  MediaEnv e;
  auto sha = *wabactl::find_media(*e.store, "acme", "wamid.STORED")->media->sha256;
  // Nothing is this old: nothing happens.
  auto r = e.media({"--json", "prune", "--tenant", "acme", "--older-than", "36500"});
  check_ok(r);
  auto j = json::parse(r.out);
  CHECK(j["messages"] == 0);
  CHECK(j["files"] == 0);
  CHECK(wabactl::media_stored(*e.store, sha));

  // Another tenant's prune leaves acme's bytes.
  check_ok(e.media({"prune", "--tenant", "beta", "--older-than", "0"}));
  CHECK(wabactl::media_stored(*e.store, sha));

  r = e.media({"prune", "--tenant", "acme", "--older-than", "30"});
  check_ok(r);
  CHECK(r.out.find("pruned the media of 1 message") != std::string::npos);
  CHECK(r.out.find("removed 1 file, freed 68.4 KiB") != std::string::npos);
  CHECK_FALSE(wabactl::media_stored(*e.store, sha));
  r = e.w({"--json", "history", "--tenant", "acme"});
  check_ok(r);
  auto lines = json_lines(r.out);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0]["message_id"] == "wamid.STORED");
  CHECK(lines[0]["media"]["state"] == "failed");
  CHECK(lines[0]["media"]["error"].get<std::string>().rfind("removed by media prune on ", 0) == 0);
  CHECK(lines[0]["media_url"].is_null());
  r = e.media({"get", "--tenant", "acme", "wamid.STORED", "-o", "-"});
  check_error(r, 3);
  CHECK(r.err.find("removed by media prune") != std::string::npos);

  for (const char* bad : {"-1", "36501", "ten", "", "1.5"}) {
    CAPTURE(bad);
    check_error(e.media({"prune", "--tenant", "acme", "--older-than", bad}), 2);
  }
  check_error(e.media({"prune", "--tenant", "acme"}), 2);
  check_error(e.media({"prune", "--tenant", "nobody", "--older-than", "1"}), 3);
}

TEST_CASE("cli media: a local image sent keeps its bytes, a link keeps none") {
  Env e;
  check_ok(e.set_config({"--no-test"}));
  std::string jpeg = "\xff\xd8\xff\xe0 a tiny jpeg";
  auto path = e.dir / "photo.jpg";
  std::ofstream(path, std::ios::binary) << jpeg;
  auto r = e.w({"--json", "send", "--outside-window", "--tenant", "acme", "--to", "+15551234567",
                "--image", path.string(), "--caption", "the shop"});
  check_ok(r);
  auto m = json::parse(r.out);
  CHECK(m["media"]["state"] == "stored");
  CHECK(m["media"]["size"] == jpeg.size());
  CHECK(m["media"]["filename"] == "photo.jpg");
  CHECK(m["media"]["mime_type"] == "image/jpeg");
  CHECK(m["media"]["id"].is_string()); // Meta's id of the upload
  CHECK(m["media_url"] == "/api/whatsapp/media/" + m["id"].get<std::string>());
  std::filesystem::remove(path);
  r = e.w({"media", "get", "--tenant", "acme", m["message_id"], "-o", "-"});
  check_ok(r);
  CHECK(r.out == jpeg);

  r = e.w({"--json", "send", "--outside-window", "--tenant", "acme", "--to", "+15551234567",
           "--image", "https://example.com/a.png"});
  check_ok(r);
  m = json::parse(r.out);
  CHECK(m["media"].is_null());
  CHECK(m["media_url"] == "https://example.com/a.png");
}
