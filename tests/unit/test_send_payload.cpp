// The exact request bodies Meta receives for every content type, media uploads, and the
// validation that rejects bad input before any request.
#include "support/temp_store.hpp"
#include "unit/test_send_support.hpp"

#include "wabactl/messages.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <cmath>

#include <fstream>

using nlohmann::json;
using sendtest::Fixture;
using sendtest::text_to;
using namespace wabactl;

namespace {

SendRequest base(const std::string& to = "+1 (555) 123-4567") {
  SendRequest r;
  r.tenant = "acme";
  r.to = to;
  return r;
}

json envelope(const std::string& type, const json& object) {
  return {{"messaging_product", "whatsapp"},
          {"recipient_type", "individual"},
          {"to", "15551234567"},
          {"type", type},
          {type, object}};
}

void write_file(const std::filesystem::path& p, std::size_t size, char fill = 'x') {
  std::ofstream out(p, std::ios::binary);
  out << std::string(size, fill);
}

Exit usage_error(const SendRequest& r) {
  try {
    prepare_send(r);
  } catch (const Error& e) {
    return e.code();
  }
  return Exit::ok;
}

} // namespace

TEST_CASE("send: a text message is sent as Meta's text body and stored as sent") {
  Fixture f;
  auto r = text_to("+1 555 123 4567", "Your invoice INV-1001 is ready");
  r.content.preview_url = true;
  auto o = f.send(r);
  REQUIRE(o.exit == Exit::ok);
  auto bodies = f.message_bodies();
  REQUIRE(bodies.size() == 1);
  CHECK(bodies[0] ==
        envelope("text", {{"body", "Your invoice INV-1001 is ready"}, {"preview_url", true}}));
  CHECK(f.graph.requests()[0].authorization == "Bearer " + sendtest::token);
  REQUIRE(o.message);
  CHECK(o.message->status == "sent");
  CHECK(o.message->direction == "outgoing");
  CHECK(o.message->message_id.value_or("").rfind("wamid.", 0) == 0);
  auto found = find_message(f.store, "acme", *o.message->message_id);
  REQUIRE(found);
  CHECK(found->id == o.message->id);
  CHECK(found->text == std::optional<std::string>("Your invoice INV-1001 is ready"));
  CHECK(found->phone_number == std::optional<std::string>("15551234567"));
  CHECK(found->type == "text");
  CHECK(nlohmann::json::parse(found->payload) == bodies[0]);
  // Another tenant never sees it.
  CHECK_FALSE(find_message(f.store, "other", *o.message->message_id));
}

TEST_CASE("send: a business-scoped user id is sent as recipient, not to") {
  Fixture f;
  auto o = f.send(text_to("US.13491208655302741918", "hi"));
  REQUIRE(o.exit == Exit::ok);
  auto body = f.message_bodies().at(0);
  CHECK_FALSE(body.contains("to"));
  CHECK(body["recipient"] == "US.13491208655302741918");
  CHECK(o.message->user_id == std::optional<std::string>("US.13491208655302741918"));
  CHECK_FALSE(o.message->phone_number);
}

TEST_CASE("send: an invoice template with document header, body and button parameters") {
  Fixture f;
  auto r = base();
  r.content.kind = ContentKind::templated;
  r.content.template_name = "invoice_ready";
  r.content.language = "en_US";
  r.content.header = HeaderKind::document;
  r.content.header_value = "https://example.com/invoices/INV-1001.pdf";
  r.content.filename = "INV-1001.pdf";
  r.content.body_params = {"Jane", "$120.00"};
  r.content.button_params = {{0, "INV-1001"}};
  r.callback_data = "invoice:INV-1001";
  r.reply_to = "wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI=";
  REQUIRE(f.send(r).exit == Exit::ok);
  json expected = envelope(
      "template",
      {{"name", "invoice_ready"},
       {"language", {{"code", "en_US"}}},
       {"components",
        {{{"type", "header"},
          {"parameters",
           {{{"type", "document"},
             {"document",
              {{"link", "https://example.com/invoices/INV-1001.pdf"},
               {"filename", "INV-1001.pdf"}}}}}}},
         {{"type", "body"},
          {"parameters",
           {{{"type", "text"}, {"text", "Jane"}}, {{"type", "text"}, {"text", "$120.00"}}}}},
         {{"type", "button"},
          {"sub_type", "url"},
          {"index", "0"},
          {"parameters", {{{"type", "text"}, {"text", "INV-1001"}}}}}}}});
  expected["context"] = {{"message_id", "wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI="}};
  expected["biz_opaque_callback_data"] = "invoice:INV-1001";
  CHECK(f.message_bodies().at(0) == expected);
  auto m = find_message(f.store, "acme", "1");
  REQUIRE(m);
  CHECK(m->template_name == std::optional<std::string>("invoice_ready"));
  CHECK(m->reply_to == std::optional<std::string>("wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI="));
}

TEST_CASE("send: template headers of text, image and video, a template without parameters") {
  Fixture f;
  auto r = base();
  r.content.kind = ContentKind::templated;
  r.content.template_name = "hello_world";
  r.content.language = "en";
  REQUIRE(f.send(r).exit == Exit::ok);
  CHECK(f.message_bodies().back() ==
        envelope("template", {{"name", "hello_world"}, {"language", {{"code", "en"}}}}));

  r.content.header = HeaderKind::text;
  r.content.header_value = "Order 42";
  REQUIRE(f.send(r).exit == Exit::ok);
  CHECK(f.message_bodies().back()["template"]["components"] ==
        json{{{"type", "header"}, {"parameters", {{{"type", "text"}, {"text", "Order 42"}}}}}});

  r.content.header = HeaderKind::image;
  r.content.header_value = "https://example.com/a.png";
  REQUIRE(f.send(r).exit == Exit::ok);
  CHECK(f.message_bodies().back()["template"]["components"] ==
        json{{{"type", "header"},
              {"parameters",
               {{{"type", "image"}, {"image", {{"link", "https://example.com/a.png"}}}}}}}});

  r.content.header = HeaderKind::video;
  r.content.header_value = "https://example.com/a.mp4";
  REQUIRE(f.send(r).exit == Exit::ok);
  CHECK(f.message_bodies().back()["template"]["components"] ==
        json{{{"type", "header"},
              {"parameters",
               {{{"type", "video"}, {"video", {{"link", "https://example.com/a.mp4"}}}}}}}});
}

TEST_CASE("send: media by link for image, video, audio, document and sticker") {
  Fixture f;
  struct Case {
    ContentKind kind;
    std::string type;
    std::string url;
    std::optional<std::string> caption;
    std::optional<std::string> filename;
  } cases[] = {
      {ContentKind::image, "image", "https://example.com/p.jpg", "a photo", std::nullopt},
      {ContentKind::video, "video", "https://example.com/v.mp4", "a clip", std::nullopt},
      {ContentKind::audio, "audio", "https://example.com/a.ogg", std::nullopt, std::nullopt},
      {ContentKind::document, "document", "https://example.com/d.pdf", "your file", "d.pdf"},
      {ContentKind::sticker, "sticker", "https://example.com/s.webp", std::nullopt, std::nullopt},
  };
  for (const auto& c : cases) {
    CAPTURE(c.type);
    auto r = base();
    r.content.kind = c.kind;
    r.content.media = c.url;
    r.content.caption = c.caption;
    r.content.filename = c.filename;
    auto o = f.send(r);
    REQUIRE(o.exit == Exit::ok);
    json obj = {{"link", c.url}};
    if (c.caption) obj["caption"] = *c.caption;
    if (c.filename) obj["filename"] = *c.filename;
    CHECK(f.message_bodies().back() == envelope(c.type, obj));
    CHECK(o.message->type == c.type);
    CHECK(o.message->media_url == std::optional<std::string>(c.url));
    CHECK(o.message->text == c.caption);
  }
  // The key is "link": Meta rejects "url".
  for (const auto& b : f.message_bodies()) CHECK(b.dump().find("\"url\"") == std::string::npos);
}

TEST_CASE("send: a local file is uploaded as multipart first, then sent by media id") {
  Fixture f;
  auto path = f.dir / "Photo.JPG";
  write_file(path, 2048, '\xff');
  auto r = base();
  r.content.kind = ContentKind::image;
  r.content.media = path.string();
  r.content.caption = "look";
  auto o = f.send(r);
  REQUIRE(o.exit == Exit::ok);
  auto reqs = f.graph.requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].path == "/v25.0/" + sendtest::phone_number_id + "/media");
  CHECK(reqs[0].content_type.rfind("multipart/form-data", 0) == 0);
  std::map<std::string, testsupport::RecordedPart> parts;
  for (const auto& p : reqs[0].parts) parts[p.name] = p;
  REQUIRE(parts.size() == 3);
  CHECK(parts["messaging_product"].content == "whatsapp");
  CHECK(parts["type"].content == "image/jpeg");
  CHECK(parts["file"].filename == "Photo.JPG");
  CHECK(parts["file"].content_type == "image/jpeg");
  CHECK(parts["file"].content == std::string(2048, '\xff'));
  auto body = f.message_bodies().at(0);
  REQUIRE(body["image"].contains("id"));
  std::string media_id = body["image"]["id"];
  CHECK(body == envelope("image", {{"id", media_id}, {"caption", "look"}}));
  CHECK(o.message->media_id == std::optional<std::string>(media_id));
  CHECK(o.message->media_type == std::optional<std::string>("image/jpeg"));
}

TEST_CASE("send: a local PDF as template header and as document gets its file name") {
  Fixture f;
  auto path = f.dir / "INV-1002.pdf";
  write_file(path, 100);
  auto r = base();
  r.content.kind = ContentKind::templated;
  r.content.template_name = "invoice_ready";
  r.content.language = "en_US";
  r.content.header = HeaderKind::document;
  r.content.header_value = path.string();
  REQUIRE(f.send(r).exit == Exit::ok);
  auto doc = f.message_bodies().at(0)["template"]["components"][0]["parameters"][0]["document"];
  CHECK(doc["filename"] == "INV-1002.pdf");
  CHECK(doc["id"].is_string());
  CHECK_FALSE(doc.contains("link"));

  auto d = base();
  d.content.kind = ContentKind::document;
  d.content.media = path.string();
  d.content.filename = "Invoice.pdf";
  REQUIRE(f.send(d).exit == Exit::ok);
  auto obj = f.message_bodies().at(1)["document"];
  CHECK(obj["filename"] == "Invoice.pdf");
  CHECK(f.graph.count("POST", "/media") == 2);
}

TEST_CASE("send: reactions and locations") {
  Fixture f;
  auto r = base();
  r.content.kind = ContentKind::reaction;
  r.content.emoji = "\xF0\x9F\x91\x8D";
  r.reply_to = "wamid.ABC123";
  REQUIRE(f.send(r).exit == Exit::ok);
  CHECK(f.message_bodies().back() ==
        envelope("reaction", {{"message_id", "wamid.ABC123"}, {"emoji", "\xF0\x9F\x91\x8D"}}));

  r.content.emoji = "";
  REQUIRE(f.send(r).exit == Exit::ok);
  CHECK(f.message_bodies().back()["reaction"]["emoji"] == "");

  auto l = base();
  l.content.kind = ContentKind::location;
  l.content.latitude = 52.52;
  l.content.longitude = 13.405;
  l.content.location_name = "Office";
  l.content.location_address = "Alexanderplatz 1, Berlin";
  auto o = f.send(l);
  REQUIRE(o.exit == Exit::ok);
  CHECK(f.message_bodies().back() ==
        envelope("location", {{"latitude", 52.52},
                              {"longitude", 13.405},
                              {"name", "Office"},
                              {"address", "Alexanderplatz 1, Berlin"}}));
  CHECK(o.message->text == std::optional<std::string>("Office\nAlexanderplatz 1, Berlin"));
}

TEST_CASE("send: --reply-to with a local id is resolved to its wamid, within the tenant") {
  Fixture f;
  auto first = f.send(text_to("+15551234567", "first"));
  REQUIRE(first.exit == Exit::ok);
  auto r = text_to("+15551234567", "second");
  r.reply_to = std::to_string(first.message->id);
  REQUIRE(f.send(r).exit == Exit::ok);
  CHECK(f.message_bodies().back()["context"]["message_id"] == *first.message->message_id);

  auto react = base();
  react.content.kind = ContentKind::reaction;
  react.content.emoji = "\xE2\x9D\xA4";
  react.reply_to = std::to_string(first.message->id);
  REQUIRE(f.send(react).exit == Exit::ok);
  CHECK(f.message_bodies().back()["reaction"]["message_id"] == *first.message->message_id);

  auto missing = text_to("+15551234567", "x");
  missing.reply_to = "999999";
  auto before = f.graph.requests().size();
  try {
    f.send(missing);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::not_found);
  }
  CHECK(f.graph.requests().size() == before);
}

TEST_CASE("send: invalid input is refused before any request") {
  Fixture f;
  auto r = text_to("+15551234567", "ok");
  CHECK(usage_error(r) == Exit::ok);

  for (const std::string& bad_to :
       std::vector<std::string>{"", "hello", "+1 555", "12345678901234567", "0015551234567",
                                std::string(5000, '1'), "+1555\n1234567", "US.", "us.1234"}) {
    CAPTURE(bad_to);
    CHECK(usage_error(text_to(bad_to, "x")) == Exit::usage);
  }
  CHECK(usage_error(text_to("+15551234567", "")) == Exit::usage);
  CHECK(usage_error(text_to("+15551234567", std::string(4097, 'a'))) == Exit::usage);
  CHECK(usage_error(text_to("+15551234567", std::string(4096, 'a'))) == Exit::ok);
  // 4096 characters of 4 bytes each are fine: the limit counts characters.
  std::string emoji;
  for (int i = 0; i < 4096; ++i) emoji += "\xF0\x9F\x98\x80";
  CHECK(usage_error(text_to("+15551234567", emoji)) == Exit::ok);
  CHECK(usage_error(text_to("+15551234567", "bad \xC3\x28 utf8")) == Exit::usage);
  CHECK(usage_error(text_to("+15551234567", std::string("nul\0x", 5))) == Exit::usage);

  auto cb = text_to("+15551234567", "x");
  cb.callback_data = std::string(513, 'c');
  CHECK(usage_error(cb) == Exit::usage);
  cb.callback_data = std::string(512, 'c');
  CHECK(usage_error(cb) == Exit::ok);

  auto react = base();
  react.content.kind = ContentKind::reaction;
  react.content.emoji = "x";
  CHECK(usage_error(react) == Exit::usage); // no --reply-to
  react.reply_to = "not-a-wamid";
  CHECK(usage_error(react) == Exit::usage);

  auto loc = base();
  loc.content.kind = ContentKind::location;
  loc.content.latitude = 91;
  CHECK(usage_error(loc) == Exit::usage);
  loc.content.latitude = std::nan("");
  CHECK(usage_error(loc) == Exit::usage);

  auto audio = base();
  audio.content.kind = ContentKind::audio;
  audio.content.media = "https://example.com/a.mp3";
  audio.content.caption = "no captions on audio";
  CHECK(usage_error(audio) == Exit::usage);

  auto img = base();
  img.content.kind = ContentKind::image;
  img.content.media = "https://example.com/p.jpg";
  img.content.filename = "x.jpg";
  CHECK(usage_error(img) == Exit::usage);
  img.content.filename.reset();
  img.content.media = "https:// spaces.example.com/p.jpg";
  CHECK(usage_error(img) == Exit::usage);

  auto t = base();
  t.content.kind = ContentKind::templated;
  t.content.template_name = "Invoice Ready";
  t.content.language = "en_US";
  CHECK(usage_error(t) == Exit::usage);
  t.content.template_name = "invoice_ready";
  t.content.language = "english please";
  CHECK(usage_error(t) == Exit::usage);
  t.content.language = "en_US";
  t.content.body_params = {"line\nbreak"};
  CHECK(usage_error(t) == Exit::usage);
  t.content.body_params = {""};
  CHECK(usage_error(t) == Exit::usage);
  t.content.body_params = {"ok"};
  t.content.button_params = {{0, "a"}, {0, "b"}};
  CHECK(usage_error(t) == Exit::usage);
  t.content.button_params = {{0, "a"}};
  t.content.header = HeaderKind::text;
  t.content.header_value = std::string(61, 'h');
  CHECK(usage_error(t) == Exit::usage);
  t.content.header_value = "Order 42";
  CHECK(usage_error(t) == Exit::ok);
  t.content.filename = "x.pdf"; // a file name needs a document header
  CHECK(usage_error(t) == Exit::usage);

  auto key = text_to("+15551234567", "x");
  key.idempotency_key = "bad\nkey";
  CHECK(usage_error(key) == Exit::usage);
  auto tenant = text_to("+15551234567", "x");
  tenant.tenant = "../etc";
  CHECK(usage_error(tenant) == Exit::usage);
  CHECK(f.graph.requests().empty());
}

TEST_CASE("send: oversize, empty, missing, unsupported and non-regular files are refused with "
          "no request") {
  Fixture f;
  auto big = f.dir / "big.png";
  write_file(big, 5 * 1024 * 1024 + 1);
  auto ok = f.dir / "ok.png";
  write_file(ok, 5 * 1024 * 1024);
  auto empty = f.dir / "empty.pdf";
  write_file(empty, 0);
  auto gif = f.dir / "anim.gif";
  write_file(gif, 10);
  auto sticker = f.dir / "s.webp";
  write_file(sticker, 500 * 1024 + 1);
  std::filesystem::create_directory(f.dir / "dir.pdf");

  struct Case {
    MediaKind kind;
    std::string value;
    Exit expected;
  } cases[] = {
      {MediaKind::image, big.string(), Exit::usage},
      {MediaKind::image, ok.string(), Exit::ok},
      {MediaKind::image, gif.string(), Exit::usage},
      {MediaKind::document, empty.string(), Exit::usage},
      {MediaKind::document, (f.dir / "missing.pdf").string(), Exit::usage},
      {MediaKind::document, (f.dir / "dir.pdf").string(), Exit::usage},
      {MediaKind::document, "/dev/zero", Exit::usage},
      {MediaKind::sticker, sticker.string(), Exit::usage},
      {MediaKind::video, ok.string(), Exit::usage},
      {MediaKind::audio, "", Exit::usage},
  };
  for (const auto& c : cases) {
    CAPTURE(c.value);
    Exit got = Exit::ok;
    try {
      resolve_media(c.value, c.kind);
    } catch (const Error& e) {
      got = e.code();
    }
    CHECK(got == c.expected);
  }
  auto r = base();
  r.content.kind = ContentKind::image;
  r.content.media = big.string();
  CHECK(usage_error(r) == Exit::usage);
  CHECK(f.graph.requests().empty());
  CHECK(resolve_media(ok.string(), MediaKind::image).mime_type == "image/png");
  auto docx = f.dir / "a.DOCX";
  write_file(docx, 10);
  CHECK(resolve_media(docx.string(), MediaKind::document).mime_type ==
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
}

TEST_CASE("send: wa.me fallback link") {
  auto p = prepare_send(text_to("+49 (30) 1234-5678", "Hi & welcome?"));
  CHECK(wa_me_link(p) ==
        std::optional<std::string>("https://wa.me/493012345678?text=Hi%20%26%20welcome%3F"));
  CHECK_FALSE(wa_me_link(prepare_send(text_to("US.1349120865", "x"))));
}

TEST_CASE("send: a later status webhook finds the sent message by its wamid") {
  Fixture f;
  auto o = f.send(text_to("+15551234567", "hello"));
  REQUIRE(o.exit == Exit::ok);
  const std::string wamid = *o.message->message_id;
  auto events = testsupport::events_after(f.store, "acme", 0, 10);
  REQUIRE(events.size() == 1);
  CHECK(events[0].type == "message.sent");
  CHECK(events[0].data["message"]["message_id"] == wamid);
  CHECK(events[0].data["message"]["status"] == "sent");
  // What the webhook ingest does with {"id": wamid, "status": "delivered"}: the message is
  // found by (tenant, message_id) and moves forward.
  auto db = testsupport::raw_db(f.store);
  SQLite::Statement upd(db, "UPDATE whatsapp_messages SET status='delivered', status_rank=2 WHERE "
                            "tenant_id='acme' AND message_id=? AND status_rank < 2");
  upd.bind(1, wamid);
  CHECK(upd.exec() == 1);
  CHECK(find_message(f.store, "acme", wamid)->status == "delivered");
}

TEST_CASE("send: a status that arrived before Meta's answer is applied when the answer lands") {
  Fixture f;
  f.graph.set_handler([&](const testsupport::Recorded& r) -> std::optional<testsupport::Reply> {
    if (r.path.find("/messages") == std::string::npos) return std::nullopt;
    testsupport::raw_db(f.store).exec(
        "INSERT INTO message_statuses(tenant_id, message_id, status, timestamp) VALUES "
        "('acme', 'wamid.EARLY', 'delivered', '2026-11-24T10:00:00Z')");
    return testsupport::Reply{200, R"({"messages":[{"id":"wamid.EARLY"}]})"};
  });
  auto o = f.send(text_to("+15551234567", "hello"));
  REQUIRE(o.exit == Exit::ok);
  CHECK(o.message->status == "delivered");
}
