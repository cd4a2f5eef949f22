#include "support/fixtures.hpp"
#include "support/ingest_store.hpp"
#include "support/signing.hpp"
#include "support/support.hpp"
#include "support/temp_store.hpp"
#include "wabactl/error.hpp"
#include "wabactl/inbox.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/store.hpp"
#include "wabactl/tenants.hpp"
#include "wabactl/webhook.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <sodium.h>

#include <array>

using namespace wabactl;

namespace {

const std::string outgoing_wamid = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJPVVRHT0lORzEA";
const std::string failed_wamid = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJPVVRHT0lORzIA";

struct Fixture : testsupport::IngestStore {
  std::string text(const std::string& sql) {
    return testsupport::raw_db(store).execAndGet(sql).getString();
  }
  void outgoing(const std::string& tenant, const std::string& wamid, const std::string& status) {
    testsupport::insert_outgoing(store, {tenant, "16505551234", wamid, status});
  }
  std::string status_of(const std::string& wamid) {
    return find_message(store, "acme", wamid)->status;
  }
};

std::array<unsigned char, crypto_hash_sha256_BYTES> sha256_of(const std::string& body) {
  std::array<unsigned char, crypto_hash_sha256_BYTES> out{};
  crypto_hash_sha256(out.data(), reinterpret_cast<const unsigned char*>(body.data()), body.size());
  return out;
}

} // namespace

TEST_CASE("webhook ingest: an inbound message is stored, archived and announced") {
  Fixture f;
  std::string body = fixtures::webhook("image.json");
  auto stats = f.ingest(body);
  CHECK(stats.messages == 1);
  CHECK(stats.duplicates == 0);
  CHECK(stats.tenants == std::set<std::string>{"acme"});
  CHECK_FALSE(stats.duplicate_delivery);
  auto m = find_message(f.store, "acme", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBIMAGE");
  REQUIRE(m);
  CHECK(m->direction == "incoming");
  CHECK(m->status == "received");
  CHECK(m->type == "image");
  CHECK(m->text == "Taj Mahal");
  CHECK(m->phone_number == "16505551234");
  CHECK(m->contact_name == "Sheena Nelson");
  CHECK(m->media_id == "1003383421387256");
  CHECK(m->media_type == "image/jpeg");
  CHECK(m->timestamp == "2025-06-08T20:59:43Z");
  CHECK(to_json(*m)["payload"]["image"]["caption"] == "Taj Mahal");
  // The conversation is the sender's contact.
  CHECK(f.text("SELECT conversation FROM whatsapp_messages") ==
        f.text("SELECT CAST(id AS TEXT) FROM contacts WHERE phone_number = '16505551234'"));
  // The raw bytes, exactly, linked to the tenant.
  CHECK(f.text("SELECT CAST(body AS TEXT) FROM webhook_deliveries") == body);
  CHECK(f.text("SELECT route FROM webhook_deliveries") == "/api/whatsapp/webhook");
  CHECK(f.text("SELECT verified_by FROM webhook_deliveries") == "app-secret");
  CHECK(f.text("SELECT tenant_id FROM delivery_tenants") == "acme");
  CHECK(f.count("SELECT count(*) FROM contacts WHERE tenant_id = 'acme' AND phone_number = "
                "'16505551234' AND name = 'Sheena Nelson'") == 1);
  CHECK(f.event_types("acme") ==
        std::vector<std::string>{event_message_received, event_unread_changed});
  auto events = testsupport::events_after(f.store, "acme", 0, 10);
  CHECK(events[0].data["message"]["text"] == "Taj Mahal");
  CHECK(events[0].data["message"]["id"] == std::to_string(m->id));
  CHECK(events[1].data["unread"] == 1);
  CHECK(stats.event_ids.size() == 2);
  CHECK(f.event_types("beta").empty());
}

TEST_CASE("webhook ingest: every fixture ingests, texts survive byte for byte") {
  Fixture f;
  for (const char* name :
       {"text.json", "image.json",
        // before the sender changes number below, as they would come
        "edit_text.json", "edit_image_caption.json", "revoke.json", "video.json",
        "audio_voice.json", "document.json", "sticker.json", "location.json", "contacts.json",
        "interactive_button_reply.json", "interactive_list_reply.json",
        "interactive_nfm_reply.json", "button.json", "reaction.json", "reaction_removed.json",
        "order.json", "system_user_changed_number.json", "system_user_changed_user_id.json",
        "request_welcome.json", "unsupported.json", "context_reply_forwarded.json", "referral.json",
        "username_user.json", "non_ascii_emoji.json", "special_chars.json", "unknown_type.json",
        "unknown_field.json", "value_errors.json", "malformed.json", "statuses.json",
        "status_failed.json", "status_username.json", "statuses_out_of_order.json",
        "multi_entry.json"}) {
    CAPTURE(name);
    CHECK_NOTHROW(f.ingest(fixtures::webhook(name)));
  }
  CHECK(find_message(f.store, "acme", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBUNICODE")->text ==
        "Olá, café às 9h? 👋🏽 你好 — ok");
  CHECK(find_message(f.store, "acme", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBSPECIAL")->text ==
        "mail me @ a/b \"quoted\" back\\slash");
  auto removed = find_message(f.store, "acme", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBUNREACT");
  CHECK(removed->text == "");
  CHECK(removed->reply_to == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0RTJEOTc2ODVERUY5RDlGNkYA");
  auto audio = find_message(f.store, "acme", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBAUDIO");
  CHECK_FALSE(audio->text);
  auto poll = find_message(f.store, "acme", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBPOLL");
  CHECK(poll->type == "poll");
  CHECK(to_json(*poll)["payload"]["poll"]["options"][1] == "sushi");
  // The malformed delivery kept its two good messages.
  CHECK(find_message(f.store, "acme", "wamid.GOODONE"));
  CHECK(find_message(f.store, "acme", "wamid.WRONGTEXT"));
  // The edits and the revoke changed their originals and added no message.
  CHECK(find_message(f.store, "acme", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBIMAGE")->text ==
        "Taj Mahal at dawn");
  CHECK(find_message(f.store, "acme", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBTEXT")->revoked_at);
  CHECK(f.count("SELECT count(*) FROM whatsapp_messages WHERE type IN ('edit', 'revoke')") == 0);
  CHECK(f.count("SELECT count(*) FROM webhook_deliveries") == 36);
}

TEST_CASE("webhook ingest: username users are keyed by user id") {
  Fixture f;
  f.ingest(fixtures::webhook("username_user.json"));
  auto m = find_message(f.store, "acme", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBUSERNAME");
  REQUIRE(m);
  CHECK_FALSE(m->phone_number);
  CHECK(m->user_id == "US.13491208655302741918");
  CHECK(m->contact_name == "Anon User");
  CHECK(f.text("SELECT conversation FROM whatsapp_messages") ==
        f.text("SELECT CAST(id AS TEXT) FROM contacts WHERE user_id = 'US.13491208655302741918'"));
  CHECK(f.count("SELECT count(*) FROM contacts WHERE phone_number IS NULL AND user_id = "
                "'US.13491208655302741918'") == 1);
  // The same user later shows a phone number: the contact is completed, not duplicated.
  auto body = nlohmann::json::parse(fixtures::webhook("username_user.json"));
  auto& value = body["entry"][0]["changes"][0]["value"];
  value["contacts"][0]["wa_id"] = "16505550000";
  value["messages"][0]["from"] = "16505550000";
  value["messages"][0]["id"] = "wamid.WITHPHONE";
  f.ingest(body.dump());
  CHECK(f.count("SELECT count(*) FROM contacts WHERE tenant_id = 'acme'") == 1);
  CHECK(f.count("SELECT count(*) FROM contacts WHERE phone_number = '16505550000' AND user_id = "
                "'US.13491208655302741918' AND name = 'Anon User'") == 1);
}

TEST_CASE("webhook ingest: every sender gets a contact, named when contacts[] names it") {
  Fixture f;
  nlohmann::json value = {
      {"messaging_product", "whatsapp"},
      {"metadata",
       {{"display_phone_number", "15550000000"},
        {"phone_number_id", fixtures::acme.phone_number_id}}},
      {"contacts", {{{"profile", {{"name", "Ann"}}}, {"wa_id", "16505550001"}}}},
      {"messages",
       {{{"from", "16505550001"},
         {"id", "wamid.FROMANN"},
         {"timestamp", "1764000000"},
         {"type", "text"},
         {"text", {{"body", "hi"}}}},
        {{"from", "16505550002"},
         {"id", "wamid.FROMBOB"},
         {"timestamp", "1764000001"},
         {"type", "text"},
         {"text", {{"body", "hello"}}}}}}};
  nlohmann::json body = {
      {"object", "whatsapp_business_account"},
      {"entry", {{{"id", "1"}, {"changes", {{{"field", "messages"}, {"value", value}}}}}}}};
  CHECK(f.ingest(body.dump()).messages == 2);
  CHECK(f.count("SELECT count(*) FROM contacts WHERE tenant_id = 'acme'") == 2);
  CHECK(f.text("SELECT name FROM contacts WHERE phone_number = '16505550001'") == "Ann");
  CHECK(f.count("SELECT count(*) FROM contacts WHERE phone_number = '16505550002' AND name IS "
                "NULL") == 1);
  CHECK(find_message(f.store, "acme", "wamid.FROMANN")->contact_name == "Ann");
  CHECK_FALSE(find_message(f.store, "acme", "wamid.FROMBOB")->contact_name);
}

TEST_CASE("webhook ingest: re-ingesting a delivery adds no rows and no events") {
  Fixture f;
  f.outgoing("acme", outgoing_wamid, "sent");
  std::string body = fixtures::webhook("multi_entry.json");
  auto first = f.ingest(body);
  CHECK(first.messages == 3);
  CHECK(first.statuses == 1);
  CHECK(first.archived_only == 1);
  auto tables = [&] {
    return std::vector<std::int64_t>{f.count("SELECT count(*) FROM whatsapp_messages"),
                                     f.count("SELECT count(*) FROM message_statuses"),
                                     f.count("SELECT count(*) FROM events"),
                                     f.count("SELECT count(*) FROM contacts"),
                                     f.count("SELECT count(*) FROM webhook_deliveries"),
                                     f.count("SELECT count(*) FROM delivery_tenants")};
  };
  auto before = tables();
  auto again = f.ingest(body);
  CHECK(again.duplicate_delivery);
  CHECK(again.delivery_id == first.delivery_id);
  CHECK(again.messages == 0);
  CHECK(again.statuses == 0);
  CHECK(again.duplicates == 4);
  CHECK(again.event_ids.empty());
  CHECK(tables() == before);
  // The same message inside a different body (a retry Meta re-batched) is still one row.
  std::string other = fixtures::webhook("text.json");
  f.ingest(other);
  auto text_count = f.count("SELECT count(*) FROM whatsapp_messages");
  auto rebatched = nlohmann::json::parse(other);
  rebatched["entry"][0]["id"] = "another-waba";
  auto stats = f.ingest(rebatched.dump());
  CHECK_FALSE(stats.duplicate_delivery);
  CHECK(stats.duplicates == 1);
  CHECK(f.count("SELECT count(*) FROM whatsapp_messages") == text_count);
}

TEST_CASE("webhook ingest: a retried body is found through its records or its hash") {
  Fixture f;
  auto rows = [&] {
    return std::vector<std::int64_t>{f.count("SELECT count(*) FROM whatsapp_messages"),
                                     f.count("SELECT count(*) FROM message_statuses"),
                                     f.count("SELECT count(*) FROM events"),
                                     f.count("SELECT count(*) FROM webhook_deliveries"),
                                     f.count("SELECT count(*) FROM delivery_tenants")};
  };
  // Posting `body` again is recognised as delivery `first` and adds no row anywhere.
  auto retry_is = [&](const std::string& body, std::int64_t first) {
    auto before = rows();
    auto again = f.ingest(body);
    CHECK(again.duplicate_delivery);
    CHECK(again.delivery_id == first);
    CHECK(rows() == before);
  };

  SUBCASE("a body that brought records is named by them and keeps no hash") {
    std::string body = fixtures::webhook("text.json");
    auto first = f.ingest(body);
    REQUIRE(first.messages == 1);
    CHECK(f.count("SELECT count(*) FROM webhook_deliveries WHERE body_hash IS NULL") == 1);
    CHECK(f.count("SELECT delivery_id FROM whatsapp_messages") == first.delivery_id);
    retry_is(body, first.delivery_id);
    // The next delivery gets the row id the retry's copy had.
    auto next = f.ingest(fixtures::webhook("image.json"));
    CHECK(next.delivery_id == first.delivery_id + 1);
    CHECK_FALSE(next.duplicate_delivery);
  }

  SUBCASE("statuses name their delivery too") {
    f.outgoing("acme", outgoing_wamid, "sent");
    std::string body = fixtures::webhook("statuses.json");
    auto first = f.ingest(body);
    REQUIRE(first.statuses > 0);
    CHECK(f.count(fmt::format("SELECT count(*) FROM message_statuses WHERE delivery_id = {}",
                              first.delivery_id)) == static_cast<std::int64_t>(first.statuses));
    retry_is(body, first.delivery_id);
  }

  SUBCASE("a body that brought nothing keeps its SHA-256 in the unique index") {
    std::string body = R"({"object":"whatsapp_business_account","entry":[]})";
    auto first = f.ingest(body);
    CHECK_FALSE(first.duplicate_delivery);
    CHECK(f.text("SELECT hex(body_hash) FROM webhook_deliveries") ==
          "9857FE35C06C25FC654F5B1BAAFF4D59C1485D4F042FCAEE4CEEFB314C14E7EA");
    retry_is(body, first.delivery_id);
    // One byte more is another delivery.
    auto other = f.ingest(body + " ");
    CHECK_FALSE(other.duplicate_delivery);
    CHECK(f.count("SELECT count(*) FROM webhook_deliveries") == 2);
  }

  SUBCASE("other bytes carrying records stored before are archived once") {
    std::string body = fixtures::webhook("text.json");
    f.ingest(body);
    auto rebatched = nlohmann::json::parse(body);
    rebatched["entry"][0]["id"] = "another-waba";
    std::string other = rebatched.dump();
    auto first = f.ingest(other);
    CHECK_FALSE(first.duplicate_delivery);
    CHECK(first.duplicates == 1);
    retry_is(other, first.delivery_id);
  }

  SUBCASE("a body mixing records stored before with its own is found through its own") {
    std::string body = fixtures::webhook("text.json");
    auto earlier = f.ingest(body);
    auto mixed = nlohmann::json::parse(body);
    auto& messages = mixed["entry"][0]["changes"][0]["value"]["messages"];
    auto added = messages[0];
    added["id"] = "wamid.MIXED0000000000000000000001";
    messages.push_back(added);
    std::string other = mixed.dump();
    auto first = f.ingest(other);
    CHECK(first.messages == 1);
    CHECK(first.duplicates == 1);
    // The old record names the earlier body, whose bytes differ; the new one names this one.
    CHECK(first.delivery_id != earlier.delivery_id);
    retry_is(other, first.delivery_id);
  }

  SUBCASE("a delivery archived before schema 6 is found by its hash") {
    std::string body = fixtures::webhook("text.json");
    auto first = f.ingest(body);
    // What migration 6 leaves: the archive's hash set, the records naming no delivery.
    auto db = testsupport::raw_db(f.store);
    db.exec("UPDATE whatsapp_messages SET delivery_id = NULL");
    SQLite::Statement set(db, "UPDATE webhook_deliveries SET body_hash = ?");
    auto hash = sha256_of(body);
    set.bind(1, hash.data(), static_cast<int>(hash.size()));
    set.exec();
    retry_is(body, first.delivery_id);
  }
}

TEST_CASE("webhook ingest: out-of-order and duplicate statuses never downgrade") {
  Fixture f;
  f.outgoing("acme", outgoing_wamid, "sent");
  auto stats =
      f.ingest(fixtures::webhook("statuses_out_of_order.json")); // read, delivered, sent, delivered
  CHECK(stats.statuses == 3);
  CHECK(stats.duplicates == 1);
  CHECK(f.status_of(outgoing_wamid) == "read");
  CHECK(f.count("SELECT count(*) FROM message_statuses WHERE message_id = '" + outgoing_wamid +
                "'") == 3);
  // One message.status event per new status row.
  CHECK(f.event_types("acme") == std::vector<std::string>(3, event_message_status));
  for (const auto& e : testsupport::events_after(f.store, "acme", 0, 10)) {
    CHECK(e.data["message"]["status"] == "read");
  }
  f.ingest(fixtures::webhook("statuses.json")); // sent, delivered, read again: all duplicates
  CHECK(f.status_of(outgoing_wamid) == "read");
  CHECK(f.count("SELECT count(*) FROM events") == 3);
}

TEST_CASE("webhook ingest: statuses in order move the message forward, read without delivered") {
  Fixture f;
  f.outgoing("acme", outgoing_wamid, "sent");
  auto body = nlohmann::json::parse(fixtures::webhook("statuses.json"));
  auto& list = body["entry"][0]["changes"][0]["value"]["statuses"];
  auto read = list[2];
  list.erase(1); // no delivered
  list.erase(1); // and read comes alone, later
  f.ingest(body.dump());
  CHECK(f.status_of(outgoing_wamid) == "sent");
  body["entry"][0]["changes"][0]["value"]["statuses"] = nlohmann::json::array({read});
  f.ingest(body.dump());
  CHECK(f.status_of(outgoing_wamid) == "read");
  CHECK(f.status_of(outgoing_wamid) == "read");
  // Unknown statuses are history only.
  read["status"] = "deleted";
  body["entry"][0]["changes"][0]["value"]["statuses"] = nlohmann::json::array({read});
  f.ingest(body.dump());
  CHECK(f.status_of(outgoing_wamid) == "read");
  CHECK(f.count("SELECT count(*) FROM message_statuses WHERE status = 'deleted'") == 1);
}

TEST_CASE("webhook ingest: failed records its error and wins over sent and delivered") {
  Fixture f;
  f.outgoing("acme", failed_wamid, "delivered");
  f.ingest(fixtures::webhook("status_failed.json"));
  auto m = find_message(f.store, "acme", failed_wamid);
  REQUIRE(m);
  CHECK(m->status == "failed");
  REQUIRE(m->error);
  CHECK(m->error->code == 131047);
  CHECK(m->error->title == "Re-engagement message");
  CHECK(m->error->details.find("24 hours") != std::string::npos);
  CHECK(f.count("SELECT count(*) FROM message_statuses WHERE status = 'failed' AND error_code = "
                "131047") == 1);
  // A late delivered does not undo the failure or erase its error.
  auto body = nlohmann::json::parse(fixtures::webhook("status_failed.json"));
  auto& st = body["entry"][0]["changes"][0]["value"]["statuses"][0];
  st["status"] = "delivered";
  st.erase("errors");
  f.ingest(body.dump());
  m = find_message(f.store, "acme", failed_wamid);
  CHECK(m->status == "failed");
  CHECK(m->error->code == 131047);
  auto events = testsupport::events_after(f.store, "acme", 0, 10);
  REQUIRE(events.size() == 2);
  CHECK(events[0].data["message"]["error"]["code"] == 131047);
}

TEST_CASE("webhook ingest: two tenants in one body each get their own records") {
  Fixture f;
  f.outgoing("acme", outgoing_wamid, "sent");
  auto stats = f.ingest(fixtures::webhook("multi_entry.json"));
  CHECK(stats.tenants == std::set<std::string>{"acme", "beta"});
  CHECK(f.count("SELECT count(*) FROM whatsapp_messages WHERE tenant_id = 'acme' AND "
                "direction = 'incoming'") == 2);
  CHECK(f.count("SELECT count(*) FROM whatsapp_messages WHERE tenant_id = 'beta'") == 1);
  CHECK(find_message(f.store, "beta", "wamid.HBgLNDQ3NzAwOTAwMTIzFQIAEhgUM0FCQkE")->contact_name ==
        "Olivia");
  CHECK_FALSE(find_message(f.store, "acme", "wamid.HBgLNDQ3NzAwOTAwMTIzFQIAEhgUM0FCQkE"));
  CHECK_FALSE(find_message(f.store, "beta", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBMULTI1"));
  CHECK(f.count("SELECT count(*) FROM contacts WHERE tenant_id = 'beta' AND name = 'Olivia'") == 1);
  CHECK(f.count("SELECT count(*) FROM contacts WHERE tenant_id = 'acme' AND name = 'Olivia'") == 0);
  CHECK(f.status_of(outgoing_wamid) == "delivered");
  CHECK(f.count("SELECT count(*) FROM delivery_tenants") == 2);
  CHECK(f.event_types("acme") ==
        std::vector<std::string>{event_message_received, event_message_received,
                                 event_message_status, event_unread_changed});
  CHECK(f.event_types("beta") ==
        std::vector<std::string>{event_message_received, event_unread_changed});
  auto beta_events = testsupport::events_after(f.store, "beta", 0, 10);
  CHECK(beta_events[1].data["unread"] == 1);
}

TEST_CASE("webhook ingest: unknown numbers and unauthenticated tenants reach only the archive") {
  Fixture f;
  f.outgoing("acme", outgoing_wamid, "sent");
  auto contacts_before = f.count("SELECT count(*) FROM contacts WHERE tenant_id = 'acme'");
  std::string body = fixtures::webhook("multi_entry.json");
  // Only beta's secret verified: acme's changes stay in the archive.
  auto stats =
      f.ingest(body, std::map<std::string, std::string>{{fixtures::beta.phone_number_id, "beta"}});
  CHECK(stats.tenants == std::set<std::string>{"beta"});
  CHECK(stats.archived_only == 4);
  CHECK(f.count("SELECT count(*) FROM whatsapp_messages WHERE tenant_id = 'acme' AND "
                "direction = 'incoming'") == 0);
  CHECK(f.status_of(outgoing_wamid) == "sent");
  CHECK(f.event_types("acme").empty());
  CHECK(f.count("SELECT count(*) FROM contacts WHERE tenant_id = 'acme'") == contacts_before);
  CHECK(f.count("SELECT count(*) FROM webhook_deliveries") == 1);

  Fixture g;
  auto none = g.ingest(fixtures::webhook("text.json"), std::map<std::string, std::string>{});
  CHECK(none.tenants.empty());
  CHECK(none.archived_only == 1);
  CHECK(g.count("SELECT count(*) FROM webhook_deliveries") == 1);
  CHECK(g.count("SELECT count(*) FROM delivery_tenants") == 0);
  CHECK(g.count("SELECT count(*) FROM whatsapp_messages") == 0);
  CHECK(g.count("SELECT count(*) FROM events") == 0);
  // Other fields are archived and linked, and store nothing else.
  auto other = g.ingest(fixtures::webhook("unknown_field.json"));
  CHECK(other.tenants.empty()); // those changes carry no phone_number_id
  CHECK(g.count("SELECT count(*) FROM webhook_deliveries") == 2);
  CHECK(g.count("SELECT count(*) FROM events") == 0);
}

TEST_CASE("webhook ingest: a status for a message that is not ours is history, event null") {
  Fixture f;
  auto stats = f.ingest(fixtures::webhook("status_username.json"));
  CHECK(stats.statuses == 1);
  auto events = testsupport::events_after(f.store, "acme", 0, 10);
  REQUIRE(events.size() == 1);
  CHECK(events[0].type == event_message_status);
  CHECK(events[0].data["message"].is_null());
  // A wamid that belongs to beta does not move or reveal beta's message.
  f.outgoing("beta", "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJPVVRHT0lORzMA", "sent");
  auto body = nlohmann::json::parse(fixtures::webhook("status_username.json"));
  body["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] = "read";
  f.ingest(body.dump());
  CHECK(find_message(f.store, "beta", "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJPVVRHT0lORzMA")->status ==
        "sent");
  CHECK(testsupport::events_after(f.store, "acme", 0, 10)[1].data["message"].is_null());
}

TEST_CASE("webhook ingest: a body of 1,000 updates lands in one transaction") {
  Fixture f;
  nlohmann::json messages = nlohmann::json::array();
  nlohmann::json statuses = nlohmann::json::array();
  for (int i = 0; i < 500; ++i) {
    messages.push_back({{"from", fmt::format("1650555{:04d}", i)},
                        {"id", fmt::format("wamid.BULK{:04d}", i)},
                        {"timestamp", "1749416383"},
                        {"type", "text"},
                        {"text", {{"body", fmt::format("message {}", i)}}}});
    f.outgoing("acme", fmt::format("wamid.OUT{:04d}", i), "sent");
    statuses.push_back({{"id", fmt::format("wamid.OUT{:04d}", i)},
                        {"status", "delivered"},
                        {"timestamp", "1749416400"},
                        {"recipient_id", "16505551234"}});
  }
  nlohmann::json body = {
      {"object", "whatsapp_business_account"},
      {"entry",
       {{{"id", "1"},
         {"changes",
          {{{"field", "messages"},
            {"value",
             {{"metadata", {{"phone_number_id", fixtures::acme.phone_number_id}}},
              {"messages", messages}}}},
           {{"field", "messages"},
            {"value",
             {{"metadata", {{"phone_number_id", fixtures::acme.phone_number_id}}},
              {"statuses", statuses}}}}}}}}}};
  auto stats = f.ingest(body.dump());
  CHECK(stats.messages == 500);
  CHECK(stats.statuses == 500);
  CHECK(unread_count(f.store, "acme") == 500);
  CHECK(f.count("SELECT count(*) FROM whatsapp_messages WHERE direction = 'outgoing' AND "
                "status = 'delivered'") == 500);
  // The 500 senders, and the one recipient of the outgoing messages.
  CHECK(f.count("SELECT count(*) FROM contacts") == 501);
  CHECK(f.count("SELECT count(*) FROM events WHERE type = 'message.received'") == 500);
  CHECK(f.count("SELECT count(*) FROM events WHERE type = 'message.status'") == 500);
  CHECK(f.count("SELECT count(*) FROM events WHERE type = 'unread.changed'") == 1);
}

TEST_CASE("webhook ingest: refuses to run outside a transaction and rolls back with it") {
  Fixture f;
  std::string body = fixtures::webhook("text.json");
  auto parsed = parse_delivery(body);
  CHECK_THROWS_AS(record_delivery(f.store, body, parsed, f.numbers, "r"), Error);
  CHECK(f.count("SELECT count(*) FROM webhook_deliveries") == 0);
  // A tenant_of_number naming a tenant that does not exist fails the whole transaction.
  CHECK_THROWS(f.ingest(
      body, std::map<std::string, std::string>{{fixtures::acme.phone_number_id, "ghost"}}));
  CHECK(f.count("SELECT count(*) FROM webhook_deliveries") == 0);
  CHECK(f.count("SELECT count(*) FROM whatsapp_messages") == 0);
}

TEST_CASE(
    "webhook ingest: a body signed with another tenant's secret stores nothing for the owner") {
  Fixture f;
  f.outgoing("acme", outgoing_wamid, "sent");
  std::vector<SecretCandidate> candidates = {{"acme-secret", {"acme"}, false},
                                             {"beta-secret", {"beta"}, false}};
  std::string body = fixtures::webhook("multi_entry.json");
  // The server's rule: only numbers of the tenants the signature authenticated are routed.
  auto route = [&](const std::set<std::string>& verified) {
    std::map<std::string, std::string> routed;
    for (const auto& [number, tenant] : f.numbers) {
      if (verified.count(tenant) != 0) routed.emplace(number, tenant);
    }
    return routed;
  };
  auto verified =
      authenticate(body, testsupport::signature_header(body, "beta-secret"), candidates);
  REQUIRE(verified == std::set<std::string>{"beta"});
  f.ingest(body, route(verified));
  CHECK(f.count("SELECT count(*) FROM whatsapp_messages WHERE tenant_id = 'acme' AND "
                "direction = 'incoming'") == 0);
  CHECK(f.status_of(outgoing_wamid) == "sent");
  CHECK(f.count("SELECT count(*) FROM whatsapp_messages WHERE tenant_id = 'beta'") == 1);
  // A forged signature authenticates nobody: the server stores nothing at all.
  CHECK(authenticate(body, testsupport::signature_header(body, "guess"), candidates).empty());
}
