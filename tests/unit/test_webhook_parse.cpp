#include "support/fixtures.hpp"
#include "support/support.hpp"
#include "wabactl/error.hpp"
#include "wabactl/util.hpp"
#include "wabactl/webhook.hpp"

#include <doctest/doctest.h>

#include <functional>

using namespace wabactl;

namespace {

// The stored payload of a message or status, parsed back.
template <typename Record> nlohmann::json payload_of(const Record& r) {
  return nlohmann::json::parse(r.payload);
}

InboundMessage only_message(const std::string& name) {
  auto parsed = parse_delivery(fixtures::webhook(name));
  REQUIRE(parsed.messages.size() == 1);
  CHECK(parsed.skipped == 0);
  CHECK(parsed.changes == 1);
  CHECK(parsed.phone_number_ids == std::set<std::string>{fixtures::acme.phone_number_id});
  CHECK(parsed.messages[0].phone_number_id == fixtures::acme.phone_number_id);
  return parsed.messages[0];
}

} // namespace

TEST_CASE("webhook parse: every message type gives its type and the text a person reads") {
  struct Case {
    const char* file;
    const char* type;
    const char* text;
  };
  const Case cases[] = {
      {"text.json", "text", "Does it come in another color?"},
      {"image.json", "image", "Taj Mahal"},
      {"video.json", "video", "My vacation video"},
      {"audio_voice.json", "audio", ""},
      {"document.json", "document", "receipt.pdf"},
      {"sticker.json", "sticker", ""},
      {"location.json", "location", "Philz Coffee, 101 Forest Ave, Palo Alto, CA 94301"},
      {"contacts.json", "contacts", "Lucía Gómez, Barbara J. Johnson"},
      {"interactive_button_reply.json", "interactive", "Cancel"},
      {"interactive_list_reply.json", "interactive", "Priority Mail Express"},
      {"interactive_nfm_reply.json", "interactive", "Sent"},
      {"button.json", "button", "Unsubscribe"},
      {"reaction.json", "reaction", "👍"},
      {"reaction_removed.json", "reaction", ""},
      {"order.json", "order", "Order: 2 × di9ozbzfi4, 1 × nqryix03ez"},
      {"system_user_changed_number.json", "system",
       "User Sheena Nelson changed from 16505551234 to 12195555358"},
      {"system_user_changed_user_id.json", "system", "User A changed their user ID"},
      {"request_welcome.json", "request_welcome", ""},
      {"unsupported.json", "unsupported", "Message type is currently not supported."},
      {"referral.json", "text", "I saw your ad"},
      {"non_ascii_emoji.json", "text", "Olá, café às 9h? 👋🏽 你好 — ok"},
      {"special_chars.json", "text", "mail me @ a/b \"quoted\" back\\slash"},
      {"unknown_type.json", "poll", ""},
      {"edit_text.json", "edit", "Does it come in another colour, say blue?"},
      {"edit_image_caption.json", "edit", "Taj Mahal at dawn"},
      {"revoke.json", "revoke", ""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.file);
    auto m = only_message(c.file);
    CHECK(m.type == c.type);
    CHECK(m.text == c.text);
    CHECK(m.message_id.rfind("wamid.", 0) == 0);
    CHECK(m.timestamp > 1700000000);
    CHECK(payload_of(m).is_object());
    CHECK(payload_of(m)["type"] == c.type);
  }
}

TEST_CASE("webhook parse: sender, profile name, media and timestamp") {
  auto m = only_message("image.json");
  CHECK(m.from == "16505551234");
  CHECK_FALSE(m.from_user_id);
  CHECK(m.contact_name == "Sheena Nelson");
  CHECK(m.media_id == "1003383421387256");
  CHECK(m.media_type == "image/jpeg");
  CHECK(m.timestamp == 1749416383);
  auto audio = only_message("audio_voice.json");
  CHECK(audio.media_type == "audio/ogg; codecs=opus");
  CHECK(payload_of(audio)["audio"]["voice"] == true);
  auto doc = only_message("document.json");
  CHECK(doc.media_id == "1003383421387259");
  auto text = only_message("text.json");
  CHECK_FALSE(text.media_id);
  CHECK_FALSE(text.reply_to);
  CHECK_FALSE(text.forwarded);
  CHECK(only_message("non_ascii_emoji.json").contact_name == "José Ñúñez 😀");
}

TEST_CASE("webhook parse: replies, forwards, reactions and referrals") {
  auto parsed = parse_delivery(fixtures::webhook("context_reply_forwarded.json"));
  REQUIRE(parsed.messages.size() == 3);
  CHECK(parsed.messages[0].reply_to == "wamid.ORIGINAL");
  CHECK_FALSE(parsed.messages[0].forwarded);
  CHECK(parsed.messages[1].forwarded);
  CHECK_FALSE(parsed.messages[1].reply_to);
  CHECK(parsed.messages[2].forwarded);
  CHECK(only_message("reaction.json").reply_to ==
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0RTJEOTc2ODVERUY5RDlGNkYA");
  CHECK(only_message("button.json").reply_to ==
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJFNjk2OTMwNEZCQjhGMzUyQUYA");
  auto ad = only_message("referral.json");
  CHECK(payload_of(ad)["referral"]["source_id"] == "120226305854810726");
}

TEST_CASE("webhook parse: username users have a user id and no phone number") {
  auto parsed = parse_delivery(fixtures::webhook("username_user.json"));
  REQUIRE(parsed.messages.size() == 1);
  const auto& m = parsed.messages[0];
  CHECK_FALSE(m.from);
  CHECK(m.from_user_id == "US.13491208655302741918");
  CHECK(m.contact_name == "Anon User");
  REQUIRE(parsed.contacts.size() == 1);
  CHECK_FALSE(parsed.contacts[0].wa_id);
  CHECK(parsed.contacts[0].user_id == "US.13491208655302741918");
  CHECK(parsed.contacts[0].name == "Anon User");
  auto changed = only_message("system_user_changed_user_id.json");
  CHECK(changed.from_user_id == "US.13491208655302741918");
  CHECK(payload_of(changed)["system"]["type"] == "user_changed_user_id");
}

TEST_CASE("webhook parse: statuses with pricing, callback data, errors and user ids") {
  auto parsed = parse_delivery(fixtures::webhook("statuses.json"));
  REQUIRE(parsed.statuses.size() == 3);
  CHECK(parsed.messages.empty());
  CHECK(parsed.statuses[0].status == "sent");
  CHECK(parsed.statuses[1].status == "delivered");
  CHECK(parsed.statuses[2].status == "read");
  CHECK(parsed.statuses[0].callback_data == "invoice-42");
  CHECK(parsed.statuses[0].recipient_id == "16505551234");
  CHECK(parsed.statuses[0].timestamp == 1749416400);
  CHECK(payload_of(parsed.statuses[0])["pricing"]["category"] == "utility");
  CHECK(payload_of(parsed.statuses[0])["conversation"]["id"] == "c1f4a5b3d2e1");
  CHECK_FALSE(parsed.statuses[0].error_code);

  auto failed = parse_delivery(fixtures::webhook("status_failed.json"));
  REQUIRE(failed.statuses.size() == 1);
  CHECK(failed.statuses[0].status == "failed");
  CHECK(failed.statuses[0].error_code == 131047);
  CHECK(failed.statuses[0].error_title == "Re-engagement message");
  CHECK(failed.statuses[0].error_details->find("24 hours") != std::string::npos);

  auto username = parse_delivery(fixtures::webhook("status_username.json"));
  REQUIRE(username.statuses.size() == 1);
  CHECK_FALSE(username.statuses[0].recipient_id);
  CHECK(username.statuses[0].recipient_user_id == "US.13491208655302741918");
}

TEST_CASE("webhook parse: every entry and change of a batch, routed by phone number id") {
  auto parsed = parse_delivery(fixtures::webhook("multi_entry.json"));
  CHECK(parsed.changes == 4);
  CHECK(parsed.phone_number_ids ==
        std::set<std::string>{"106540352242922", "109876543210987", "199999999999999"});
  REQUIRE(parsed.messages.size() == 4);
  CHECK(parsed.messages[0].phone_number_id == "106540352242922");
  CHECK(parsed.messages[1].phone_number_id == "106540352242922");
  CHECK(parsed.messages[2].phone_number_id == "109876543210987");
  CHECK(parsed.messages[2].contact_name == "Olivia");
  CHECK(parsed.messages[3].phone_number_id == "199999999999999");
  REQUIRE(parsed.statuses.size() == 1);
  CHECK(parsed.contacts.size() == 3);
}

TEST_CASE("webhook parse: other fields are counted, value errors kept, never fatal") {
  auto other = parse_delivery(fixtures::webhook("unknown_field.json"));
  CHECK(other.changes == 2);
  CHECK(other.other_fields == 1); // account_update; the template status is read
  REQUIRE(other.templates.size() == 1);
  CHECK(other.templates[0].waba_id == "419561257915477");
  CHECK(other.templates[0].template_id == "12345678");
  CHECK(other.templates[0].name == "invoice_ready");
  CHECK(other.templates[0].language == "en_US");
  CHECK(other.templates[0].status == "APPROVED");
  CHECK_FALSE(other.templates[0].quality);
  CHECK(other.messages.empty());
  CHECK(other.statuses.empty());
  auto errors = parse_delivery(fixtures::webhook("value_errors.json"));
  REQUIRE(errors.errors.size() == 1);
  CHECK(errors.errors[0]["code"] == 131000);
  CHECK(errors.errors[0]["phone_number_id"] == fixtures::acme.phone_number_id);
  auto unknown = only_message("unknown_type.json");
  CHECK(payload_of(unknown)["poll"]["question"] == "Lunch?");
}

TEST_CASE("webhook parse: malformed records are skipped and the rest kept") {
  auto parsed = parse_delivery(fixtures::webhook("malformed.json"));
  REQUIRE(parsed.messages.size() == 2);
  CHECK(parsed.messages[0].message_id == "wamid.GOODONE");
  CHECK(parsed.messages[0].timestamp == 0); // out of range: unknown, not wrapped
  CHECK(parsed.messages[0].text == "kept, huge timestamp");
  CHECK(parsed.messages[1].message_id == "wamid.WRONGTEXT");
  CHECK(parsed.messages[1].timestamp == 1749416383);
  CHECK(parsed.messages[1].text.empty());
  REQUIRE(parsed.statuses.size() == 1);
  CHECK(parsed.statuses[0].message_id == "wamid.HUGECODE");
  CHECK_FALSE(parsed.statuses[0].error_code);
  CHECK_FALSE(parsed.statuses[0].error_title);
  // contacts string, 4 bad messages, 2 bad statuses, 2 bad changes, 1 bad entry.
  CHECK(parsed.skipped == 10);
  CHECK(parsed.changes == 3);
}

TEST_CASE("webhook parse: bodies that are not a delivery are refused with a usage error") {
  for (std::string body :
       {std::string(""), std::string("null"), std::string("[]"), std::string("{}"),
        std::string("{\"entry\":{}}"), std::string("{\"entry\":[] "), std::string("\xff\xfe"),
        std::string("{\"entry\":[],\"x\":\"\xff\"}")}) {
    CAPTURE(body);
    try {
      parse_delivery(body);
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == Exit::usage);
    }
  }
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK_THROWS_AS(parse_delivery("{\"entry\":" + deep + "}"), Error);
  // Brackets inside strings do not count as nesting.
  auto ok = parse_delivery("{\"entry\":[],\"x\":\"" + std::string(1000, '[') + "\\\"\"}");
  CHECK(ok.changes == 0);
  CHECK(parse_delivery("{\"entry\":[]}").messages.empty());
}

TEST_CASE("webhook parse: hostile values are bounded") {
  std::string long_id(10000, 'w');
  auto body = nlohmann::json{
      {"entry",
       {{{"changes",
          {{{"field", "messages"},
            {"value",
             {{"metadata", {{"phone_number_id", fixtures::acme.phone_number_id}}},
              {"messages",
               {{{"from", "16505551234"}, {"id", long_id}, {"type", "text"}},
                {{"from", "+1 555"}, {"id", "wamid.A"}, {"type", "text"}},
                {{"from", "16505551234"}, {"id", "wamid.B"}, {"type", "text"}, {"timestamp", "-5"}},
                {{"from", "16505551234"},
                 {"id", "wamid.C"},
                 {"type", "text"},
                 {"timestamp", -5}}}}}}}}}}}}};
  auto parsed = parse_delivery(body.dump());
  REQUIRE(parsed.messages.size() == 2);
  CHECK(parsed.messages[0].message_id == "wamid.B");
  CHECK(parsed.messages[0].timestamp == 0);
  CHECK(parsed.messages[1].timestamp == 0);
  CHECK(parsed.skipped == 2);
}

TEST_CASE("webhook parse: an edit names its original and carries the new text and media") {
  auto text = only_message("edit_text.json");
  CHECK(text.type == "edit");
  CHECK(text.message_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBEDITTEXT");
  CHECK(text.original_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBTEXT");
  CHECK(text.edited_type == "text");
  CHECK(text.text == "Does it come in another colour, say blue?");
  CHECK_FALSE(text.media_id);
  CHECK(text.from == "16505551234");
  CHECK(text.contact_name == "Sheena Nelson");
  CHECK(payload_of(text)["edit"]["message"]["text"]["body"] == text.text);

  auto image = only_message("edit_image_caption.json");
  CHECK(image.original_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBIMAGE");
  CHECK(image.edited_type == "image");
  CHECK(image.text == "Taj Mahal at dawn");
  CHECK(image.media_id == "1003383421387256");
  CHECK(image.media_type == "image/jpeg");

  auto revoke = only_message("revoke.json");
  CHECK(revoke.type == "revoke");
  CHECK(revoke.original_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBTEXT");
  CHECK_FALSE(revoke.edited_type);
  CHECK(revoke.text.empty());

  // Ordinary messages name no original.
  CHECK_FALSE(only_message("text.json").original_id);
}

TEST_CASE("webhook parse: an edit's content without a type is known by its member") {
  auto body = nlohmann::json::parse(fixtures::webhook("edit_text.json"));
  auto& edit = body["entry"][0]["changes"][0]["value"]["messages"][0]["edit"];
  edit["message"].erase("type");
  auto parsed = parse_delivery(body.dump());
  REQUIRE(parsed.messages.size() == 1);
  CHECK(parsed.messages[0].edited_type == "text");
  CHECK(parsed.messages[0].text == "Does it come in another colour, say blue?");
}

TEST_CASE("webhook parse: an edit or revoke that cannot be applied is left to the archive") {
  using nlohmann::json;
  auto with = [](const char* fixture, const std::function<void(json&)>& spoil) {
    auto body = json::parse(fixtures::webhook(fixture));
    spoil(body["entry"][0]["changes"][0]["value"]["messages"][0]);
    return parse_delivery(body.dump());
  };
  const std::vector<std::pair<const char*, std::function<void(json&)>>> spoilers = {
      {"edit_text.json", [](json& m) { m["edit"].erase("original_message_id"); }},
      {"edit_text.json", [](json& m) { m["edit"]["original_message_id"] = 42; }},
      {"edit_text.json", [](json& m) { m["edit"]["original_message_id"] = ""; }},
      {"edit_text.json",
       [](json& m) { m["edit"]["original_message_id"] = std::string(10000, 'w'); }},
      {"edit_text.json", [](json& m) { m["edit"].erase("message"); }},
      {"edit_text.json", [](json& m) { m["edit"]["message"] = "new text"; }},
      {"edit_text.json", [](json& m) { m["edit"]["message"] = json::object(); }},
      {"edit_text.json", [](json& m) { m["edit"]["message"]["type"] = "revoke"; }},
      {"edit_text.json",
       [](json& m) { m["edit"]["message"]["text"]["body"] = std::string(20000, 'x'); }},
      {"edit_text.json", [](json& m) { m["edit"] = "wamid.X"; }},
      {"edit_text.json", [](json& m) { m.erase("edit"); }},
      {"revoke.json", [](json& m) { m["revoke"] = json::object(); }},
      {"revoke.json", [](json& m) { m["revoke"]["original_message_id"] = json::array({"a"}); }},
      {"revoke.json", [](json& m) { m.erase("revoke"); }},
  };
  for (std::size_t i = 0; i < spoilers.size(); ++i) {
    CAPTURE(i);
    auto parsed = with(spoilers[i].first, spoilers[i].second);
    CHECK(parsed.messages.empty());
    CHECK(parsed.skipped == 1);
  }
  // Text at Meta's own limit is an edit like any other.
  auto at_limit = with("edit_text.json", [](json& m) {
    m["edit"]["message"]["text"]["body"] = std::string(16384, 'x');
  });
  REQUIRE(at_limit.messages.size() == 1);
  CHECK(at_limit.messages[0].text.size() == 16384);
}

TEST_CASE("webhook parse: template status and quality updates name their business account") {
  auto paused = parse_delivery(fixtures::webhook("template_status_paused.json"));
  REQUIRE(paused.templates.size() == 1);
  CHECK(paused.templates[0].waba_id == "102290129340398");
  CHECK(paused.templates[0].template_id == "594425479261596");
  CHECK(paused.templates[0].status == "PAUSED");
  CHECK_FALSE(paused.templates[0].reason);    // null
  CHECK(paused.templates[0].tenants.empty()); // the route decides whose it is
  auto quality = parse_delivery(fixtures::webhook("template_quality_update.json"));
  REQUIRE(quality.templates.size() == 1);
  CHECK(quality.templates[0].quality == "YELLOW");
  CHECK_FALSE(quality.templates[0].status);
  // Nothing to name the template by, or nothing to change: skipped, never fatal.
  auto bad = parse_delivery(
      R"({"entry":[{"id":"1","changes":[{"field":"message_template_status_update","value":{"event":"PAUSED"}},)"
      R"({"field":"message_template_quality_update","value":{"message_template_id":"7"}},)"
      R"({"field":"message_template_status_update","value":"x"}]},)"
      R"({"changes":[{"field":"message_template_status_update","value":{"event":"PAUSED","message_template_id":7}}]}]})");
  CHECK(bad.templates.empty());
  CHECK(bad.skipped == 4);
}
