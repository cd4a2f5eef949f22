#include "support/fixtures.hpp"
#include "support/ingest_store.hpp"
#include "support/support.hpp"
#include "support/temp_store.hpp"
#include "wabactl/conversations.hpp"
#include "wabactl/inbox.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/store.hpp"
#include "wabactl/webhook.hpp"

#include <doctest/doctest.h>

#include <functional>

using namespace wabactl;
using nlohmann::json;

namespace {

const std::string text_wamid = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBTEXT";
const std::string image_wamid = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBIMAGE";
const std::string original_text = "Does it come in another color?";
const std::string edited_text = "Does it come in another colour, say blue?";

struct Fixture : testsupport::IngestStore {
  Message message(const std::string& wamid, const std::string& tenant = "acme") {
    auto m = find_message(store, tenant, wamid);
    REQUIRE(m);
    return *m;
  }
  std::int64_t messages() { return count("SELECT count(*) FROM whatsapp_messages"); }
};

// A fixture's body with its one message changed by `change`.
std::string changed(const char* fixture, const std::function<void(json&)>& change) {
  auto body = json::parse(fixtures::webhook(fixture));
  change(body["entry"][0]["changes"][0]["value"]["messages"][0]);
  return body.dump();
}

// An edit of `original` with its own wamid, timestamp and new text.
std::string edit(const std::string& original, const std::string& wamid, const std::string& ts,
                 const std::string& text) {
  return changed("edit_text.json", [&](json& m) {
    m["id"] = wamid;
    m["timestamp"] = ts;
    m["edit"]["original_message_id"] = original;
    m["edit"]["message"]["text"]["body"] = text;
  });
}

std::string revoke(const std::string& original, const std::string& wamid, const std::string& ts) {
  return changed("revoke.json", [&](json& m) {
    m["id"] = wamid;
    m["timestamp"] = ts;
    m["revoke"]["original_message_id"] = original;
  });
}

json history_of(const Message& m) {
  return to_json(m)["payload_history"];
}

} // namespace

TEST_CASE("revisions: an edit changes the original's text, keeps the old payload, announces it") {
  Fixture f;
  f.ingest(fixtures::webhook("text.json"));
  auto before = f.message(text_wamid);
  auto stats = f.ingest(fixtures::webhook("edit_text.json"));
  CHECK(stats.revisions == 1);
  CHECK(stats.messages == 0);
  CHECK(stats.duplicates == 0);
  CHECK(f.messages() == 1);
  auto m = f.message(text_wamid);
  CHECK(m.id == before.id);
  CHECK(m.text == edited_text);
  CHECK(m.type == "text");
  CHECK(m.edited_at == "2025-06-08T21:00:43Z");
  CHECK_FALSE(m.revoked_at);
  CHECK(m.timestamp == before.timestamp);
  CHECK(to_json(m)["payload"]["type"] == "edit");
  auto history = history_of(m);
  REQUIRE(history.is_array());
  REQUIRE(history.size() == 1);
  CHECK(history[0]["text"]["body"] == original_text);
  // Never unread: the message stays the one unread message it was.
  CHECK(unread_count(f.store, "acme") == 1);
  CHECK(f.event_types() == std::vector<std::string>{event_message_received, event_unread_changed,
                                                    event_message_edited});
  auto events = testsupport::events_after(f.store, "acme", 0, 10);
  CHECK(events[2].data["message"]["text"] == edited_text);
  CHECK(events[2].data["message"]["id"] == std::to_string(m.id));
  CHECK(events[2].data["message"]["edited_at"] == "2025-06-08T21:00:43Z");
  CHECK(events[2].data["unread"].is_null());
  CHECK(stats.event_ids.size() == 1);
  // The edit itself is in the archive.
  CHECK(f.count("SELECT count(*) FROM webhook_deliveries") == 2);
}

TEST_CASE("revisions: a new caption keeps the image, new media resets what was known of it") {
  Fixture f;
  f.ingest(fixtures::webhook("image.json"));
  testsupport::raw_db(f.store).exec(
      "UPDATE whatsapp_messages SET media_state = 'stored', media_sha256 = 'abc', media_size = 9, "
      "media_filename = 'a.jpg'");
  f.ingest(fixtures::webhook("edit_image_caption.json"));
  auto m = f.message(image_wamid);
  CHECK(m.text == "Taj Mahal at dawn");
  CHECK(m.type == "image");
  CHECK(m.media_id == "1003383421387256");
  REQUIRE(m.media);
  CHECK(m.media->state == "stored");
  CHECK(m.media->sha256 == "abc");

  f.ingest(changed("edit_image_caption.json", [](json& msg) {
    msg["id"] = "wamid.EDITIMAGE2";
    msg["timestamp"] = "1749416600";
    msg["edit"]["message"]["image"]["id"] = "2222";
    msg["edit"]["message"]["image"]["mime_type"] = "image/png";
    msg["edit"]["message"]["image"]["caption"] = "Another photo";
  }));
  m = f.message(image_wamid);
  CHECK(m.text == "Another photo");
  CHECK(m.media_id == "2222");
  CHECK(m.media_type == "image/png");
  REQUIRE(m.media);
  CHECK(m.media->state == "pending");
  CHECK_FALSE(m.media->sha256);
  CHECK_FALSE(m.media->size);
  CHECK_FALSE(m.media->filename);
  CHECK(history_of(m).size() == 2);
  // The new bytes are queued, their id living 7 days from the edit; the old job is gone.
  CHECK(f.count("SELECT count(*) FROM media_jobs") == 1);
  CHECK(f.count("SELECT expires_at FROM media_jobs") == 1749416600 + 7 * 24 * 3600);

  // An edit to text only leaves no media behind.
  f.ingest(edit(image_wamid, "wamid.EDITIMAGE3", "1749416700", "just words"));
  m = f.message(image_wamid);
  CHECK(m.type == "text");
  CHECK(m.text == "just words");
  CHECK_FALSE(m.media_id);
  CHECK_FALSE(m.media);
  CHECK(f.count("SELECT count(*) FROM media_jobs") == 0);
}

TEST_CASE("revisions: a revoke clears text and media, keeps the history, unread stays one") {
  Fixture f;
  f.ingest(fixtures::webhook("image.json"));
  testsupport::raw_db(f.store).exec(
      "UPDATE whatsapp_messages SET media_state = 'stored', media_sha256 = 'abc'");
  f.ingest(fixtures::webhook("edit_image_caption.json"));
  auto stats = f.ingest(revoke(image_wamid, "wamid.REVOKEIMAGE", "1749416700"));
  CHECK(stats.revisions == 1);
  auto m = f.message(image_wamid);
  CHECK(m.revoked_at == "2025-06-08T21:05:00Z");
  CHECK(m.edited_at == "2025-06-08T21:01:43Z");
  CHECK_FALSE(m.text);
  CHECK_FALSE(m.media_id);
  CHECK_FALSE(m.media_type);
  CHECK_FALSE(m.media);
  CHECK(f.count("SELECT count(*) FROM media_jobs") == 0);
  auto j = to_json(m);
  CHECK(j["text"].is_null());
  CHECK(j["media"].is_null());
  CHECK(j["payload"]["type"] == "revoke");
  auto history = history_of(m);
  REQUIRE(history.size() == 2);
  CHECK(history[0]["type"] == "image");
  CHECK(history[1]["type"] == "edit");
  CHECK(unread_count(f.store, "acme") == 1);
  CHECK(f.messages() == 1);
  CHECK(f.event_types().back() == event_message_revoked);
  auto events = testsupport::events_after(f.store, "acme", 0, 10);
  CHECK(events.back().data["message"]["revoked_at"] == "2025-06-08T21:05:00Z");
  CHECK(events.back().data["message"]["text"].is_null());
}

TEST_CASE("revisions: Meta's retries of an edit or revoke apply it once") {
  Fixture f;
  f.ingest(fixtures::webhook("text.json"));
  f.ingest(fixtures::webhook("edit_text.json"));
  auto again = f.ingest(fixtures::webhook("edit_text.json"));
  CHECK(again.revisions == 0);
  CHECK(again.duplicates == 1);
  CHECK(again.duplicate_delivery);
  CHECK(again.event_ids.empty());
  // The same edit inside another body (retried with a status beside it) is still one.
  auto body = json::parse(fixtures::webhook("edit_text.json"));
  body["entry"][0]["id"] = "another-body";
  auto other = f.ingest(body.dump());
  CHECK(other.duplicates == 1);
  CHECK(history_of(f.message(text_wamid)).size() == 1);

  f.ingest(fixtures::webhook("revoke.json"));
  CHECK(f.ingest(fixtures::webhook("revoke.json")).duplicates == 1);
  CHECK(history_of(f.message(text_wamid)).size() == 2);
  CHECK(f.count("SELECT count(*) FROM events WHERE type = 'message.edited'") == 1);
  CHECK(f.count("SELECT count(*) FROM events WHERE type = 'message.revoked'") == 1);
  CHECK(f.count("SELECT count(*) FROM message_revisions") == 2);
  CHECK(f.messages() == 1);
}

TEST_CASE("revisions: an older edit arriving after a newer one does not win") {
  Fixture f;
  f.ingest(fixtures::webhook("text.json"));
  f.ingest(edit(text_wamid, "wamid.E2", "1749416500", "second"));
  auto late = f.ingest(edit(text_wamid, "wamid.E1", "1749416400", "first"));
  CHECK(late.revisions == 1);
  CHECK(late.event_ids.empty());
  auto m = f.message(text_wamid);
  CHECK(m.text == "second");
  CHECK(m.edited_at == "2025-06-08T21:01:40Z");
  CHECK(history_of(m).size() == 1);
  CHECK(f.count("SELECT count(*) FROM message_revisions WHERE state = 'ignored'") == 1);
  // A later one still does.
  f.ingest(edit(text_wamid, "wamid.E3", "1749416600", "third"));
  CHECK(f.message(text_wamid).text == "third");
}

TEST_CASE("revisions: changes arriving before their original wait and apply in time order") {
  Fixture f;
  auto stats = f.ingest(edit(text_wamid, "wamid.E2", "1749416500", "second"));
  CHECK(stats.revisions == 1);
  CHECK(stats.event_ids.empty());
  f.ingest(edit(text_wamid, "wamid.E1", "1749416400", "first"));
  CHECK(f.messages() == 0);
  CHECK(f.event_types().empty());
  CHECK(f.count("SELECT count(*) FROM message_revisions WHERE state = 'pending'") == 2);

  auto original = f.ingest(fixtures::webhook("text.json"));
  CHECK(original.messages == 1);
  auto m = f.message(text_wamid);
  CHECK(m.text == "second");
  CHECK(m.edited_at == "2025-06-08T21:01:40Z");
  auto history = history_of(m);
  REQUIRE(history.size() == 2);
  CHECK(history[0]["type"] == "text");
  CHECK(history[1]["edit"]["message"]["text"]["body"] == "first");
  CHECK(f.event_types() == std::vector<std::string>{event_message_received, event_message_edited,
                                                    event_message_edited, event_unread_changed});
  CHECK(unread_count(f.store, "acme") == 1);
  CHECK(f.count("SELECT count(*) FROM message_revisions WHERE state = 'pending'") == 0);
}

TEST_CASE("revisions: a revoke then an edit stays revoked, whichever comes first") {
  SUBCASE("after the original") {
    Fixture f;
    f.ingest(fixtures::webhook("text.json"));
    f.ingest(revoke(text_wamid, "wamid.R", "1749416500"));
    auto stats = f.ingest(edit(text_wamid, "wamid.E", "1749416600", "too late"));
    CHECK(stats.event_ids.empty());
    auto m = f.message(text_wamid);
    CHECK(m.revoked_at);
    CHECK_FALSE(m.edited_at);
    CHECK_FALSE(m.text);
  }
  SUBCASE("before the original, the edit newer") {
    Fixture f;
    f.ingest(edit(text_wamid, "wamid.E", "1749416600", "too late"));
    f.ingest(revoke(text_wamid, "wamid.R", "1749416500"));
    f.ingest(fixtures::webhook("text.json"));
    auto m = f.message(text_wamid);
    CHECK(m.revoked_at == "2025-06-08T21:01:40Z");
    CHECK_FALSE(m.edited_at);
    CHECK_FALSE(m.text);
    CHECK(f.event_types() == std::vector<std::string>{event_message_received, event_message_revoked,
                                                      event_unread_changed});
  }
  SUBCASE("an edit then a revoke of it") {
    Fixture f;
    f.ingest(fixtures::webhook("text.json"));
    f.ingest(fixtures::webhook("edit_text.json"));
    f.ingest(fixtures::webhook("revoke.json"));
    auto m = f.message(text_wamid);
    CHECK(m.revoked_at);
    CHECK(m.edited_at);
    CHECK_FALSE(m.text);
  }
}

TEST_CASE("revisions: no tenant or customer changes another's message") {
  Fixture f;
  f.ingest(fixtures::webhook("text.json"));
  // beta's number delivers an edit naming acme's wamid: acme's message is untouched.
  auto for_beta = [](std::string body) {
    auto j = json::parse(body);
    j["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] =
        fixtures::beta.phone_number_id;
    return j.dump();
  };
  f.ingest(for_beta(fixtures::webhook("edit_text.json")));
  f.ingest(for_beta(fixtures::webhook("revoke.json")));
  auto m = f.message(text_wamid);
  CHECK(m.text == original_text);
  CHECK_FALSE(m.edited_at);
  CHECK_FALSE(m.revoked_at);
  CHECK(f.event_types() == std::vector<std::string>{event_message_received, event_unread_changed});
  CHECK(f.event_types("beta").empty());

  // Another customer of acme names the message: nothing happens either.
  f.ingest(changed("edit_text.json", [](json& msg) {
    msg["id"] = "wamid.OTHERCUSTOMER";
    msg["from"] = "14155550000";
  }));
  CHECK(f.message(text_wamid).text == original_text);

  // beta's own message with that wamid takes beta's waiting changes, acme's stays as it is.
  f.ingest(for_beta(fixtures::webhook("text.json")));
  auto in_beta = f.message(text_wamid, "beta");
  CHECK(in_beta.revoked_at);
  CHECK(f.message(text_wamid).text == original_text);
  CHECK(f.event_types("beta") ==
        std::vector<std::string>{event_message_received, event_message_edited,
                                 event_message_revoked, event_unread_changed});
}

TEST_CASE("revisions: reactions, read marks and statuses still work on a revoked message") {
  Fixture f;
  f.ingest(fixtures::webhook("text.json"));
  f.ingest(fixtures::webhook("revoke.json"));
  auto reaction = f.ingest(changed("reaction.json", [](json& msg) {
    msg["timestamp"] = "1749416900";
    msg["reaction"]["message_id"] = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBTEXT";
  }));
  CHECK(reaction.messages == 1);
  auto r = f.message("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBREACTION");
  CHECK(r.reply_to == text_wamid);
  CHECK(unread_count(f.store, "acme") == 2);

  auto marked = mark_read(f.store, "acme", MarkTarget{{text_wamid}, std::nullopt, false});
  CHECK(marked.marked == 1);
  CHECK(f.message(text_wamid).read_at);
  CHECK(f.message(text_wamid).revoked_at);
  CHECK(unread_count(f.store, "acme") == 1);

  // An edit naming one of our outgoing messages changes nothing, and its statuses go on.
  const std::string outgoing = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJPVVRHT0lORzEA";
  testsupport::insert_outgoing(f.store, {"acme", "16505551234", outgoing, "sent"});
  f.ingest(edit(outgoing, "wamid.EDITOUT", "1749416600", "hijack"));
  auto out = f.message(outgoing);
  CHECK(out.text == "Your invoice");
  CHECK_FALSE(out.edited_at);
  auto statuses = json::parse(fixtures::webhook("statuses.json"));
  auto& list = statuses["entry"][0]["changes"][0]["value"]["statuses"];
  auto first = list[0];
  first["status"] = "delivered";
  list = json::array({first});
  f.ingest(statuses.dump());
  CHECK(f.message(outgoing).status == "delivered");
}

TEST_CASE("revisions: an edit that cannot be applied is archived, stores nothing, never fails") {
  Fixture f;
  f.ingest(fixtures::webhook("text.json"));
  const std::vector<std::function<void(json&)>> spoilers = {
      [](json& m) { m["edit"].erase("original_message_id"); },
      [](json& m) { m["edit"]["original_message_id"] = 7; },
      [](json& m) { m["edit"].erase("message"); },
      [](json& m) { m["edit"]["message"]["text"]["body"] = std::string(1 << 20, 'x'); },
      [](json& m) { m["edit"]["message"] = json::array(); },
  };
  for (std::size_t i = 0; i < spoilers.size(); ++i) {
    CAPTURE(i);
    auto body = changed("edit_text.json", spoilers[i]);
    IngestStats stats;
    CHECK_NOTHROW(stats = f.ingest(body));
    CHECK(stats.revisions == 0);
    CHECK(stats.messages == 0);
    CHECK(f.count("SELECT count(*) FROM webhook_deliveries WHERE length(body) = " +
                  std::to_string(body.size())) == 1);
  }
  CHECK(f.messages() == 1);
  CHECK(f.message(text_wamid).text == original_text);
  CHECK(f.count("SELECT count(*) FROM message_revisions") == 0);
  CHECK(f.event_types() == std::vector<std::string>{event_message_received, event_unread_changed});
}
