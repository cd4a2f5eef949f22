// GET /api/whatsapp/media/{id} against the real daemon: headers, ranges, conditional
// requests, states and tenant isolation, with bytes kept by the test itself.
#include "integration/test_stream_support.hpp"
#include "support/media_rows.hpp"
#include "wabactl/media_index.hpp"

#include <doctest/doctest.h>

#include <fstream>

using nlohmann::json;
using streamtest::Setup;
using testsupport::insert_media_message;
using testsupport::keep_bytes;

namespace {

httplib::Result get(const Setup& s, const std::string& path, const std::string& token,
                    httplib::Headers h = {}) {
  h.emplace("Authorization", "Bearer " + token);
  return s.daemon->client().Get(path, h);
}

} // namespace

TEST_CASE("REST media: the bytes with their headers, ranges, 304, and each state's answer") {
  Setup s;
  wabactl::Store store(s.w.db);
  std::string bytes;
  for (int i = 0; i < 200000; ++i) bytes.push_back(static_cast<char>(i * 13 % 256));
  auto id = insert_media_message(
      store, {.wamid = "wamid.IMG", .filename = "x\"; filename=evil.html\r\nX-A: b/../ü.jpg"});
  auto kept = keep_bytes(store, "acme", id, bytes);
  auto path = "/api/whatsapp/media/" + std::to_string(id);

  auto r = get(s, path, s.acme_token);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == bytes);
  CHECK(r->get_header_value("Content-Type") == "image/jpeg");
  CHECK(r->get_header_value("Content-Length") == std::to_string(bytes.size()));
  CHECK(r->get_header_value("ETag") == "\"" + kept.sha256 + "\"");
  CHECK(r->get_header_value("X-Content-Type-Options") == "nosniff");
  CHECK(r->get_header_value("Accept-Ranges") == "bytes");
  CHECK(r->get_header_value("Cache-Control") == "private");
  // The hostile name: no quote, CR/LF or slash reaches the header; only its last component,
  // ASCII in filename= and UTF-8 in filename* (sent as %C3%BC: httplib's client decodes it).
  CHECK(r->get_header_value("Content-Disposition") ==
        "inline; filename=\"_.jpg\"; filename*=UTF-8''\xc3\xbc.jpg");
  CHECK_FALSE(r->has_header("X-A"));
  CHECK(get(s, "/api/whatsapp/media/wamid.IMG", s.acme_token)->body == bytes);

  auto range = [&](const std::string& value) {
    return get(s, path, s.acme_token, {{"Range", value}});
  };
  r = range("bytes=0-99");
  CHECK(r->status == 206);
  CHECK(r->body == bytes.substr(0, 100));
  CHECK(r->get_header_value("Content-Range") == "bytes 0-99/200000");
  CHECK(r->get_header_value("Content-Length") == "100");
  r = range("bytes=-10");
  CHECK(r->status == 206);
  CHECK(r->body == bytes.substr(bytes.size() - 10));
  CHECK(r->get_header_value("Content-Range") == "bytes 199990-199999/200000");
  r = range("bytes=150000-");
  CHECK(r->status == 206);
  CHECK(r->body == bytes.substr(150000));
  CHECK(r->get_header_value("Content-Range") == "bytes 150000-199999/200000");
  r = range("bytes=199000-999999"); // clamped to the end
  CHECK(r->status == 206);
  CHECK(r->body == bytes.substr(199000));
  for (const char* bad : {"bytes=200000-", "bytes=300000-300010"}) {
    CAPTURE(bad);
    r = range(bad);
    CHECK(r->status == 416);
    CHECK(r->get_header_value("Content-Range") == "bytes */200000");
    CHECK(r->body.find("range_not_satisfiable") != std::string::npos);
  }
  r = range("bytes=0-9,20-29"); // several ranges: the whole file
  CHECK(r->status == 200);
  CHECK(r->body == bytes);
  r = get(s, path, s.acme_token, {{"Range", "bytes=0-9"}, {"If-Range", "\"other\""}});
  CHECK(r->status == 200);
  CHECK(r->body == bytes);

  for (const std::string& etag : {"\"" + kept.sha256 + "\"", "W/\"" + kept.sha256 + "\"",
                                  "\"zzz\", \"" + kept.sha256 + "\"", std::string("*")}) {
    CAPTURE(etag);
    r = get(s, path, s.acme_token, {{"If-None-Match", etag}});
    CHECK(r->status == 304);
    CHECK(r->body.empty());
  }
  CHECK(get(s, path, s.acme_token, {{"If-None-Match", "\"other\""}})->status == 200);

  // Not shown inline: a document, an SVG, an unknown or malformed type.
  auto doc = insert_media_message(store, {.wamid = "wamid.SVG",
                                          .type = "document",
                                          .mime_type = "image/svg+xml",
                                          .filename = "a.svg"});
  keep_bytes(store, "acme", doc, "<svg onload=alert(1)>");
  r = get(s, "/api/whatsapp/media/wamid.SVG", s.acme_token);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Content-Disposition") == "attachment; filename=\"a.svg\"");
  CHECK(r->get_header_value("Content-Security-Policy") == "sandbox");
  auto odd = insert_media_message(
      store, {.wamid = "wamid.ODD", .type = "document", .mime_type = "text/html\r\nX-B: 1"});
  keep_bytes(store, "acme", odd, "odd");
  r = get(s, "/api/whatsapp/media/wamid.ODD", s.acme_token);
  CHECK(r->get_header_value("Content-Type") == "application/octet-stream");
  CHECK(r->get_header_value("Content-Disposition") ==
        "attachment; filename=\"media-" + std::to_string(odd) + ".bin\"");

  insert_media_message(store, {.wamid = "wamid.PEND"});
  r = get(s, "/api/whatsapp/media/wamid.PEND", s.acme_token);
  CHECK(r->status == 409);
  CHECK(json::parse(r->body)["state"] == "pending");
  insert_media_message(store, {.wamid = "wamid.FAIL", .state = "failed", .error = "too large"});
  r = get(s, "/api/whatsapp/media/wamid.FAIL", s.acme_token);
  CHECK(r->status == 410);
  CHECK(json::parse(r->body)["error"]["message"] == "too large");

  // Another tenant's, none, and the bytes gone from the folder: 404, no bytes.
  for (const std::string& p : {path, std::string("/api/whatsapp/media/wamid.IMG"),
                               std::string("/api/whatsapp/media/wamid.PEND")}) {
    CAPTURE(p);
    r = get(s, p, s.globex_token);
    CHECK(r->status == 404);
    CHECK(r->body.find(kept.sha256) == std::string::npos);
  }
  CHECK(get(s, "/api/whatsapp/media/wamid.none", s.acme_token)->status == 404);
  CHECK(get(s, "/api/whatsapp/media/" + std::string(600, 'x'), s.acme_token)->status == 404);
  CHECK(s.daemon->client().Get(path)->status == 401);
  wabactl::remove_media_file(store, kept.sha256);
  CHECK(get(s, path, s.acme_token)->status == 404);
}

TEST_CASE("REST media: a local image sent from the CLI is served back") {
  testsupport::FakeGraph graph;
  graph.accept_token(fixtures::acme.access_token);
  Setup s({}, graph.url());
  std::string png = "\x89PNG\r\n\x1a\n tiny";
  auto file = s.dir / "chart.png";
  std::ofstream(file, std::ios::binary) << png;
  auto r = s.w({"--json", "send", "--outside-window", "--tenant", "acme", "--to", "+15551234567",
                "--image", file.string()});
  REQUIRE(r.exit_code == 0);
  auto m = json::parse(r.out);
  REQUIRE(m["media_url"].is_string());
  auto got = get(s, m["media_url"].get<std::string>(), s.acme_token);
  REQUIRE(got);
  CHECK(got->status == 200);
  CHECK(got->body == png);
  CHECK(got->get_header_value("Content-Type") == "image/png");
  CHECK(got->get_header_value("Content-Disposition") == "inline; filename=\"chart.png\"");
}
