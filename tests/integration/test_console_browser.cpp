// The console in a real browser (issue 21): Debian's Chromium, driven by puppeteer-core
// (tests/node/console_test.mjs), against the real daemon and the fake Graph API started
// here. Skipped only when node or chromium is missing; CI installs both. With
// $WABACTL_SCREENSHOTS set to a folder, the run also saves inbox.png, chat.png and
// settings.png there (docs/screenshots holds the committed ones).
#include "integration/test_serve_support.hpp"
#include "support/fixtures.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>
#include <zlib.h>

#include <cstdlib>
#include <set>

using nlohmann::json;

namespace {

const std::string waba = "102290129340398";

std::filesystem::path node_dir() {
  return std::filesystem::path(WABACTL_SOURCE_DIR) / "tests/node";
}

void put32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

void chunk(std::string& png, const char* type, const std::string& data) {
  put32(png, static_cast<std::uint32_t>(data.size()));
  std::string body = std::string(type, 4) + data;
  png += body;
  put32(png, static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(body.data()),
                                              static_cast<uInt>(body.size()))));
}

// A real PNG (a colour gradient), so that the browser decodes what the media route serves.
std::string gradient_png(std::uint32_t width, std::uint32_t height) {
  std::string raw;
  for (std::uint32_t y = 0; y < height; ++y) {
    raw.push_back('\0'); // filter: none
    for (std::uint32_t x = 0; x < width; ++x) {
      raw.push_back(static_cast<char>(20 + 200 * x / width));
      raw.push_back(static_cast<char>(128));
      raw.push_back(static_cast<char>(90 + 140 * y / height));
    }
  }
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::string packed(size, '\0');
  REQUIRE(compress(reinterpret_cast<Bytef*>(packed.data()), &size,
                   reinterpret_cast<const Bytef*>(raw.data()),
                   static_cast<uLong>(raw.size())) == Z_OK);
  packed.resize(size);
  std::string png = "\x89PNG\r\n\x1a\n";
  std::string ihdr;
  put32(ihdr, width);
  put32(ihdr, height);
  ihdr += std::string("\x08\x02\x00\x00\x00", 5); // 8-bit RGB
  chunk(png, "IHDR", ihdr);
  chunk(png, "IDAT", packed);
  chunk(png, "IEND", "");
  return png;
}

json catalogue() {
  return json::parse(R"([
    {"id": "594425479261601", "name": "appointment_reminder", "language": "en_US",
     "status": "APPROVED", "category": "UTILITY", "components": [
       {"type": "HEADER", "format": "TEXT", "text": "{{1}} hours",
        "example": {"header_text": ["Sunday"]}},
       {"type": "BODY", "text": "Hi {{1}}, we are open again: reply to this message to chat."},
       {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Book a visit",
        "url": "https://shop.example/book/{{1}}", "example": ["https://shop.example/book/x"]}]}]}
  ])");
}

std::string token_for(const testsupport::Wabactl& w, const std::string& tenant) {
  auto r = w({"token", "create", "--tenant", tenant});
  REQUIRE(r.exit_code == 0);
  return r.out.substr(0, r.out.find('\n'));
}

} // namespace

TEST_CASE("console in headless Chromium: sign-in, live inbox and bell, chat, ticks, failures, "
          "quotes, media, edits, older pages, templates, settings, fallback and tenant "
          "isolation") {
  auto node = testsupport::find_program("node");
  if (!node) {
    testsupport::skip("node is not installed: the console's browser tests did not run");
    return;
  }
  const std::filesystem::path chromium = "/usr/bin/chromium";
  if (!std::filesystem::exists(chromium)) {
    testsupport::skip("chromium is not installed: the console's browser tests did not run");
    return;
  }
  REQUIRE_MESSAGE(std::filesystem::exists(node_dir() / "node_modules/puppeteer-core"),
                  "run 'npm ci --prefix tests/node' to install puppeteer-core");

  testsupport::TempDir dir;
  testsupport::Wabactl w{dir};
  testsupport::FakeGraph graph;
  graph.accept_token(fixtures::acme.access_token);
  graph.set_templates(waba, catalogue());
  const std::string document = "%PDF-1.4\n% a receipt for the console test\n%%EOF\n";
  graph.add_media("7101", gradient_png(320, 200), "image/png");
  graph.add_media("7102", document, "application/pdf");
  REQUIRE(w({"key", "init"}).exit_code == 0);
  fixtures::add_tenant_config(w, dir, fixtures::acme, graph.url());
  fixtures::add_tenant_config(w, dir, fixtures::globex, graph.url());
  REQUIRE(w({"config", "set", "--tenant", "acme", "--phone-number-id",
             fixtures::acme.phone_number_id, "--business-account-id", waba, "--no-test"})
              .exit_code == 0);
  REQUIRE(w({"tenant", "add", "gamma"}).exit_code == 0);
  std::string acme = token_for(w, "acme");
  std::string globex = token_for(w, "globex");
  std::string gamma = token_for(w, "gamma");
  auto revocable = w({"--json", "token", "create", "--tenant", "acme", "--label", "revoked"});
  REQUIRE(revocable.exit_code == 0);
  json revocable_token = json::parse(revocable.out);
  // A config saved from the settings page has no Graph address of its own: the daemon's.
  servetest::Daemon daemon(w, dir, {}, {{"WABACTL_GRAPH_URL", graph.url()}});

  std::filesystem::create_directories(dir / "downloads");
  const char* shots = std::getenv("WABACTL_SCREENSHOTS");
  json cfg = {
      {"base", fmt::format("http://127.0.0.1:{}", daemon.port())},
      {"chromium", chromium.string()},
      {"profile", (dir / "profile").string()},
      {"downloads", (dir / "downloads").string()},
      {"screenshots", shots != nullptr && *shots != '\0'
                          ? json(std::filesystem::absolute(shots).string())
                          : json(nullptr)},
      {"failure_shot", (dir / "failure.png").string()},
      {"acme",
       {{"token", acme},
        {"phone_number_id", fixtures::acme.phone_number_id},
        {"app_secret", fixtures::acme.app_secret},
        {"access_token", fixtures::acme.access_token},
        {"waba", waba}}},
      {"globex", {{"token", globex}}},
      {"gamma", {{"token", gamma}}},
      {"revocable", {{"token", revocable_token["token"]}, {"id", revocable_token["id"]}}},
      // For `wabactl token revoke` from the test, as an admin would run it.
      {"wabactl", {{"binary", WABACTL_BINARY}, {"env", w.env}}},
      {"bad_access_token", "EAAGrejectedtoken0123456789"},
      {"media", {{"image", "7101"}, {"document", "7102"}, {"document_text", document}}},
  };
  auto r = testsupport::run_program(node->string(), {(node_dir() / "console_test.mjs").string()},
                                    {}, cfg.dump(), 300);
  MESSAGE("console_test.mjs:\n", r.out);
  INFO(r.err);
  INFO("the daemon's log:\n", daemon.log());
  REQUIRE(r.exit_code == 0);

  // Its last line: what it sent, checked here against what the fake Graph API received.
  std::string last = r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1);
  json results = json::parse(last);
  REQUIRE(results["sent"].size() == 2);
  std::set<std::string> unseen;
  for (const auto& s : results["sent"]) unseen.insert(s.get<std::string>());
  bool template_sent = false;
  for (const auto& req : graph.requests()) {
    if (req.method != "POST" || req.path.find("/messages") == std::string::npos) continue;
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) continue;
    if (body.value("type", "") == "text" && body.value("to", "") == "15551234567") {
      unseen.erase(body["text"].value("body", ""));
    }
    if (body.value("type", "") == "template") {
      // The header, body and button parameters as typed into the picker.
      template_sent = body["template"].value("name", "") == "appointment_reminder" &&
                      body.value("to", "") == "15550003333" &&
                      req.body.find("\"Sunday\"") != std::string::npos &&
                      req.body.find("\"Sam\"") != std::string::npos &&
                      req.body.find("\"visit-42\"") != std::string::npos;
    }
  }
  CHECK_MESSAGE(unseen.empty(), "the fake Graph API did not receive what was typed in the chat");
  CHECK_MESSAGE(template_sent, "the fake Graph API did not receive the template sent from the "
                               "closed window");
  MESSAGE("time to interactive (first load on loopback, signed in): ", results["tti_ms"], " ms");
}
