// Coexistence (CONTRACT.md §6): echoes of what the business sent from the WhatsApp Business
// app, the app's history imported in the background, and the business's address book.

#include "server/history_import.hpp"
#include "support/fixtures.hpp"
#include "support/ingest_store.hpp"
#include "support/temp_store.hpp"
#include "wabactl/coexistence.hpp"
#include "wabactl/conversations.hpp"
#include "wabactl/identity.hpp"
#include "wabactl/inbox.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/store.hpp"
#include "wabactl/webhook.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>

using namespace wabactl;
using nlohmann::json;

namespace {

const std::string customer = "16505551234";
const std::string echo_text = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJFQ0hPVEVYVDEA";
const std::string echo_image = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJFQ0hPSU1BR0UA";
const std::string hist_in = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBJISVNUT1JZMDAxAA==";
const std::string hist_out = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJISVNUT1JZMDAyAA==";
const std::string hist_media = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBJISVNUT1JZMDAzAA==";
const std::string hist_other = "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAERgSSElTVE9SWTAwNAA=";
const std::string hist_error = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJISVNUT1JZMDA1AA==";

struct Fixture : testsupport::IngestStore {
  std::size_t import_all(std::size_t batch = 200) {
    return server::import_pending_history(store, batch, [] { return false; });
  }
  std::vector<Message> conversation(const std::string& phone) {
    HistoryQuery q;
    q.peer = parse_peer(phone);
    q.limit = 1000;
    return history(store, "acme", q);
  }
};

// A history delivery for acme with one chunk of `n` text messages in one thread, every
// third one from the business; ids are `prefix` and the message's number.
std::string big_history(std::size_t n, const std::string& prefix, int chunk_order = 1) {
  json messages = json::array();
  for (std::size_t i = 0; i < n; ++i) {
    bool business = i % 3 == 2;
    json m = {{"from", business ? "15550783881" : customer},
              {"id", fmt::format("{}{:06}", prefix, i)},
              {"timestamp", std::to_string(1700000000 + i)},
              {"type", "text"},
              {"text", {{"body", fmt::format("message {}", i)}}},
              {"history_context", {{"status", business ? "READ" : "DELIVERED"}}}};
    if (business) m["to"] = customer;
    messages.push_back(m);
  }
  json body = {
      {"object", "whatsapp_business_account"},
      {"entry",
       {{{"id", "419561257915477"},
         {"changes",
          {{{"field", "history"},
            {"value",
             {{"messaging_product", "whatsapp"},
              {"metadata",
               {{"display_phone_number", "15550783881"},
                {"phone_number_id", fixtures::acme.phone_number_id}}},
              {"history",
               {{{"metadata", {{"phase", 1}, {"chunk_order", chunk_order}, {"progress", 100}}},
                 {"threads", {{{"id", customer}, {"messages", messages}}}}}}}}}}}}}}}};
  return body.dump();
}

} // namespace

TEST_CASE("coexistence parse: echoes, history chunks and address-book syncs in Meta's shape") {
  auto echoes = parse_delivery(fixtures::webhook("smb_message_echoes.json"));
  CHECK(echoes.other_fields == 0);
  CHECK(echoes.skipped == 0);
  CHECK(echoes.messages.empty());
  REQUIRE(echoes.echoes.size() == 2);
  CHECK(echoes.echoes[0].to == customer);
  CHECK(echoes.echoes[0].message.from == "15550783881");
  CHECK(echoes.echoes[0].message.message_id == echo_text);
  CHECK(echoes.echoes[0].message.text == "Yes, it also comes in blue. Shall I keep one for you?");
  CHECK(echoes.echoes[0].message.timestamp == 1749416400);
  CHECK(echoes.echoes[1].message.type == "image");
  CHECK(echoes.echoes[1].message.text == "The blue one");
  CHECK(echoes.echoes[1].message.media_id == "1003383421387299");

  auto hist = parse_delivery(fixtures::webhook("history_phase0.json"));
  REQUIRE(hist.history.size() == 2);
  const HistoryChunk& first = hist.history[0];
  CHECK(first.phone_number_id == fixtures::acme.phone_number_id);
  CHECK(first.business_number == "15550783881");
  CHECK(first.phase == 0);
  CHECK(first.chunk_order == 1);
  CHECK(first.progress == 50);
  CHECK(first.messages == 4);
  CHECK_FALSE(first.error_code);
  CHECK(json::parse(first.payload)["threads"].size() == 2);

  auto declined = parse_delivery(fixtures::webhook("history_declined.json"));
  REQUIRE(declined.history.size() == 1);
  CHECK(declined.history[0].error_code == 2593109);
  CHECK(declined.history[0].error_title == "History sharing is turned off by user");
  CHECK(declined.history[0].messages == 0);

  auto sync = parse_delivery(fixtures::webhook("smb_app_state_sync.json"));
  REQUIRE(sync.contact_syncs.size() == 3);
  CHECK(sync.contact_syncs[0].phone == customer);
  CHECK(sync.contact_syncs[0].name == "Sheena Nelson (blue sofa)");
  CHECK_FALSE(sync.contact_syncs[0].remove);
  CHECK(sync.contact_syncs[0].timestamp == 1749416500);
  CHECK(sync.contact_syncs[1].remove);
  CHECK_FALSE(sync.contact_syncs[1].name);
  // first_name when there is no full_name; the number as people write it, as digits.
  CHECK(sync.contact_syncs[2].name == "Olu");
  CHECK(sync.contact_syncs[2].phone == "447700900123");
}

TEST_CASE("coexistence parse: history messages get their thread, direction, status, placeholder") {
  auto hist = parse_delivery(fixtures::webhook("history_phase0.json"));
  auto first = parse_history_messages(hist.history[0].payload, hist.history[0].business_number);
  CHECK(first.skipped == 0);
  REQUIRE(first.messages.size() == 4);
  CHECK(first.messages[0].thread == customer);
  CHECK_FALSE(first.messages[0].outgoing);
  CHECK(first.messages[0].status == "READ");
  CHECK(first.messages[0].message.text == "Is the shop open on Sunday?");
  CHECK(first.messages[1].outgoing);
  CHECK(first.messages[2].placeholder);
  CHECK(first.messages[3].thread == "447700900123");
  auto second = parse_history_messages(hist.history[1].payload, hist.history[1].business_number);
  REQUIRE(second.messages.size() == 2);
  CHECK_FALSE(second.messages[0].placeholder);
  CHECK(second.messages[0].message.media_id == "1003383421387300");
  // Without the business's number, what the thread's customer did not send is outgoing.
  auto guessed = parse_history_messages(hist.history[0].payload, std::nullopt);
  CHECK_FALSE(guessed.messages[0].outgoing);
  CHECK(guessed.messages[1].outgoing);
}

TEST_CASE("coexistence parse: malformed records are skipped and counted, never fatal") {
  auto change = [](const std::string& field, const json& value) {
    json v = value;
    v["metadata"] = {{"display_phone_number", "15550783881"},
                     {"phone_number_id", fixtures::acme.phone_number_id}};
    return json{{"entry", {{{"changes", {{{"field", field}, {"value", v}}}}}}}}.dump();
  };
  auto echoes = parse_delivery(change(
      "smb_message_echoes",
      {{"message_echoes",
        {"not an object",
         {{"from", "15550783881"}, {"id", "wamid.x"}, {"type", "text"}}, // no "to"
         {{"from", "15550783881"}, {"to", "+1 650"}, {"id", "wamid.y"}, {"type", "text"}},
         {{"to", customer}, {"id", "wamid.z"}, {"type", "text"}}, // no "from"
         {{"from", "15550783881"}, {"to", customer}, {"id", "wamid.ok"}, {"type", "text"}}}}}));
  CHECK(echoes.echoes.size() == 1);
  CHECK(echoes.skipped == 4);
  CHECK(parse_delivery(change("smb_message_echoes", {{"message_echoes", "x"}})).skipped == 1);

  auto hist =
      parse_delivery(change("history", {{"history", {42, json::object(), {{"threads", 3}}}}}));
  CHECK(hist.history.empty());
  CHECK(hist.skipped == 3);
  auto messages = parse_history_messages(
      json{{"threads",
            {{{"id", "not digits"}, {"messages", json::array()}},
             {{"id", customer}},
             {{"id", customer},
              {"messages",
               {7,
                {{"id", "wamid.a"}, {"type", "text"}}, // no "from"
                {{"from", customer}, {"id", "wamid.b"}, {"type", "text"}}}}}}}}
          .dump(),
      "15550783881");
  CHECK(messages.messages.size() == 1);
  CHECK(messages.skipped == 4);
  CHECK(parse_history_messages("[]", std::nullopt).messages.empty());

  auto sync = parse_delivery(change(
      "smb_app_state_sync",
      {{"state_sync",
        {{{"type", "contact"}, {"action", "add"}}, // no contact
         {{"type", "contact"}, {"action", "rename"}, {"contact", {{"phone_number", customer}}}},
         {{"type", "contact"}, {"action", "add"}, {"contact", {{"phone_number", "abc"}}}},
         {{"type", "label"}, {"action", "add"}},                         // another kind
         {{"action", "add"}, {"contact", {{"phone_number", customer}}}}, // no type
         {{"type", "contact"}, {"action", "add"}, {"contact", {{"phone_number", customer}}}}}}}));
  CHECK(sync.contact_syncs.empty());
  CHECK(sync.skipped == 5); // all but the other kind, the last for want of a name
}

TEST_CASE("echoes: outgoing in the customer's conversation, source business_app, never unread") {
  Fixture f;
  f.ingest(fixtures::webhook("text.json")); // the customer wrote first: one unread
  auto stats = f.ingest(fixtures::webhook("smb_message_echoes.json"));
  CHECK(stats.echoes == 2);
  CHECK(stats.messages == 0);
  auto m = find_message(f.store, "acme", echo_text);
  REQUIRE(m);
  CHECK(m->direction == "outgoing");
  CHECK(m->status == "sent");
  CHECK(m->source == "business_app");
  CHECK(m->phone_number == customer);
  CHECK(m->text == "Yes, it also comes in blue. Shall I keep one for you?");
  CHECK(m->timestamp == "2025-06-08T21:00:00Z");
  CHECK_FALSE(m->read_at);
  auto image = find_message(f.store, "acme", echo_image);
  REQUIRE(image);
  CHECK(image->media_id == "1003383421387299");
  // The photo the business sent from its phone is fetched and kept like a customer's.
  REQUIRE(image->media);
  CHECK(image->media->state == "pending");
  CHECK(f.count(fmt::format("SELECT count(*) FROM media_jobs WHERE message_id = {}", image->id)) ==
        1);
  CHECK(unread_count(f.store, "acme") == 1);
  // The same conversation as the customer's own message.
  auto conv = f.conversation("+" + customer);
  REQUIRE(conv.size() == 3);
  CHECK(conv[0].direction == "incoming");
  auto types = f.event_types("acme");
  CHECK(std::count(types.begin(), types.end(), std::string(event_message_echoed)) == 2);
  // A status update for an echo moves it like any outgoing message.
  json status = json::parse(fixtures::webhook("statuses.json"));
  json& list = status["entry"][0]["changes"][0]["value"]["statuses"];
  list = json::array({list[0]});
  list[0]["id"] = echo_text;
  list[0]["status"] = "read";
  f.ingest(status.dump());
  CHECK(find_message(f.store, "acme", echo_text)->status == "read");
  CHECK(unread_count(f.store, "acme") == 1);
}

TEST_CASE("echoes: a retry or an echo of a stored message adds nothing") {
  Fixture f;
  std::string body = fixtures::webhook("smb_message_echoes.json");
  f.ingest(body);
  auto events = f.count("SELECT count(*) FROM events");
  auto again = f.ingest(body);
  CHECK(again.echoes == 0);
  CHECK(again.duplicate_delivery);
  CHECK(f.count("SELECT count(*) FROM webhook_deliveries") == 1);
  // The same wamid in another body (Meta may send it again with other records).
  json other = json::parse(body);
  other["entry"][0]["changes"][0]["value"]["message_echoes"].erase(1);
  auto same = f.ingest(other.dump());
  CHECK(same.echoes == 0);
  CHECK(same.duplicates == 1);
  CHECK(f.count("SELECT count(*) FROM whatsapp_messages") == 2);
  CHECK(f.count("SELECT count(*) FROM events") == events);
}

TEST_CASE("coexistence: another tenant's number reaches the archive only") {
  Fixture f;
  std::map<std::string, std::string> beta_only = fixtures::numbers({fixtures::beta});
  for (const char* name : {"smb_message_echoes.json", "history_phase0.json",
                           "smb_app_state_sync.json", "history_declined.json"}) {
    CAPTURE(name);
    auto stats = f.ingest(fixtures::webhook(name), beta_only);
    CHECK(stats.archived_only > 0);
    CHECK(stats.echoes + stats.history_chunks + stats.contact_syncs == 0);
  }
  CHECK(f.count("SELECT count(*) FROM webhook_deliveries") == 4);
  CHECK(f.count("SELECT count(*) FROM whatsapp_messages") == 0);
  CHECK(f.count("SELECT count(*) FROM history_chunks") == 0);
  CHECK(f.count("SELECT count(*) FROM contacts") == 0);
  CHECK(f.count("SELECT count(*) FROM events") == 0);
}

TEST_CASE("history: stored by the webhook, imported in the background, each message once") {
  Fixture f;
  auto stats = f.ingest(fixtures::webhook("history_phase0.json"));
  CHECK(stats.history_chunks == 2);
  // The webhook's transaction stores the chunks only.
  CHECK(f.count("SELECT count(*) FROM whatsapp_messages") == 0);
  CHECK(f.count("SELECT count(*) FROM history_chunks WHERE state = 'pending'") == 2);
  auto events = f.count("SELECT count(*) FROM events");
  CHECK(f.import_all(2) == 6); // 5 new messages and 1 placeholder filled in
  CHECK(f.count("SELECT count(*) FROM history_chunks WHERE state = 'imported' AND imported > 0 "
                "AND finished_at IS NOT NULL") == 2);
  CHECK(f.count("SELECT count(*) FROM whatsapp_messages") == 5);
  CHECK(f.count("SELECT count(*) FROM whatsapp_messages WHERE source = 'history'") == 5);
  CHECK(unread_count(f.store, "acme") == 0);
  CHECK(f.count("SELECT count(*) FROM events") == events); // no event per imported message

  auto in = find_message(f.store, "acme", hist_in);
  REQUIRE(in);
  CHECK(in->direction == "incoming");
  CHECK(in->status == "received");
  CHECK(in->read_at);
  CHECK(in->source == "history");
  auto out = find_message(f.store, "acme", hist_out);
  REQUIRE(out);
  CHECK(out->direction == "outgoing");
  CHECK(out->status == "delivered");
  CHECK_FALSE(out->read_at);
  CHECK(find_message(f.store, "acme", hist_other)->status == "delivered"); // unknown word
  CHECK(find_message(f.store, "acme", hist_other)->phone_number == "447700900123");
  CHECK(find_message(f.store, "acme", hist_error)->status == "failed");
  // The placeholder of the first chunk holds the second chunk's photo.
  auto media = find_message(f.store, "acme", hist_media);
  REQUIRE(media);
  CHECK(media->type == "image");
  CHECK(media->media_id == "1003383421387300");
  CHECK(media->text == "This one");
  CHECK(f.conversation(customer).size() == 4);
  // Its bytes are queued; Meta issued the id with the chunk, so it lives a week from now,
  // not from 2025 when the photo was taken.
  REQUIRE(media->media);
  CHECK(media->media->state == "pending");
  CHECK(f.count("SELECT count(*) FROM media_jobs") == 1);
  CHECK(f.count("SELECT expires_at - unixepoch() FROM media_jobs") >= 7 * 24 * 3600 - 60);

  // The same chunks again (Meta resends) store and import nothing.
  auto again = f.ingest(fixtures::webhook("history_phase0.json"));
  CHECK(again.history_chunks == 0);
  CHECK(f.count("SELECT count(*) FROM history_chunks") == 2);
  CHECK(f.import_all() == 0);
  CHECK(f.count("SELECT count(*) FROM whatsapp_messages") == 5);
}

TEST_CASE("history: chunks in any order, a later chunk's media fills the placeholder") {
  Fixture f;
  json body = json::parse(fixtures::webhook("history_phase0.json"));
  json& list = body["entry"][0]["changes"][0]["value"]["history"];
  json first = body;
  first["entry"][0]["changes"][0]["value"]["history"] = json::array({list[1]});
  json second = body;
  second["entry"][0]["changes"][0]["value"]["history"] = json::array({list[0]});
  // Chunk 2 (with the photo) arrives and is imported before chunk 1 (its placeholder).
  f.ingest(first.dump());
  CHECK(f.import_all() == 2);
  f.ingest(second.dump());
  CHECK(f.import_all() == 3);
  auto media = find_message(f.store, "acme", hist_media);
  CHECK(media->type == "image");
  CHECK(media->media_id == "1003383421387300");
  CHECK(f.count("SELECT count(*) FROM whatsapp_messages") == 5);
  // A placeholder stored first, then the media: filled in once, the row kept.
  Fixture g;
  g.ingest(second.dump());
  g.import_all();
  auto local_id = find_message(g.store, "acme", hist_media)->id;
  CHECK(find_message(g.store, "acme", hist_media)->type == "media_placeholder");
  g.ingest(first.dump());
  g.import_all();
  CHECK(find_message(g.store, "acme", hist_media)->id == local_id);
  CHECK(find_message(g.store, "acme", hist_media)->media_id == "1003383421387300");
}

TEST_CASE("history: an edit that came live before the import applies to the imported message") {
  Fixture f;
  json edit = json::parse(fixtures::webhook("edit_text.json"));
  edit["entry"][0]["changes"][0]["value"]["messages"][0]["edit"]["original_message_id"] = hist_in;
  CHECK(f.ingest(edit.dump()).revisions == 1);
  CHECK(f.count("SELECT count(*) FROM message_revisions WHERE state = 'pending'") == 1);
  f.ingest(fixtures::webhook("history_phase0.json"));
  f.import_all();
  auto in = find_message(f.store, "acme", hist_in);
  REQUIRE(in);
  CHECK(in->text == "Does it come in another colour, say blue?");
  CHECK(in->edited_at == "2025-06-08T21:00:43Z");
  CHECK(f.count("SELECT count(*) FROM message_revisions WHERE state = 'applied'") == 1);
  CHECK(f.event_types("acme").back() == event_message_edited);
  CHECK(f.count("SELECT count(*) FROM whatsapp_messages") == 5);
}

TEST_CASE("history: a message stored live is not imported again nor changed") {
  Fixture f;
  f.ingest(fixtures::webhook("smb_message_echoes.json"));
  json body = json::parse(big_history(3, "unused"));
  json& messages = body["entry"][0]["changes"][0]["value"]["history"][0]["threads"][0]["messages"];
  messages[2]["id"] = echo_text; // the app's history holds the echo too
  messages[2]["text"]["body"] = "changed";
  f.ingest(body.dump());
  CHECK(f.import_all() == 2);
  auto echo = find_message(f.store, "acme", echo_text);
  CHECK(echo->source == "business_app");
  CHECK(echo->text == "Yes, it also comes in blue. Shall I keep one for you?");
}

TEST_CASE("history: a big chunk imports in bounded batches and resumes where it stopped") {
  Fixture f;
  f.ingest(big_history(1000, "wamid.big"));
  int transactions = 0;
  // Stop after three batches, as a daemon stopping mid-import does.
  auto stopped = server::import_pending_history(f.store, 100, [&] { return ++transactions > 3; });
  CHECK(stopped == 300);
  CHECK(f.count("SELECT imported FROM history_chunks") == 300);
  CHECK(f.count("SELECT count(*) FROM history_chunks WHERE state = 'pending'") == 1);
  CHECK(f.import_all(100) == 700);
  CHECK(f.count("SELECT count(*) FROM whatsapp_messages") == 1000);
  CHECK(f.count("SELECT count(*) FROM whatsapp_messages WHERE direction = 'outgoing'") == 333);
  CHECK(f.count("SELECT count(DISTINCT conversation) FROM whatsapp_messages") == 1);
  CHECK(unread_count(f.store, "acme") == 0);
  // A chunk's progress lost in a crash (imported reset) imports nothing twice.
  testsupport::raw_db(f.store).exec(
      "UPDATE history_chunks SET state = 'pending', imported = 0, finished_at = NULL");
  CHECK(f.import_all(100) == 0);
  CHECK(f.count("SELECT count(*) FROM whatsapp_messages") == 1000);
}

TEST_CASE("history: a declined share is stored and logged, and nothing else happens") {
  Fixture f;
  auto stats = f.ingest(fixtures::webhook("history_declined.json"));
  CHECK(stats.history_chunks == 1);
  CHECK(f.count("SELECT count(*) FROM history_chunks WHERE state = 'declined' AND error_code = "
                "2593109") == 1);
  CHECK(f.import_all() == 0);
  CHECK(f.count("SELECT count(*) FROM whatsapp_messages") == 0);
  CHECK(f.count("SELECT count(*) FROM events") == 0);
  CHECK(f.count("SELECT count(*) FROM history_chunks WHERE state = 'declined'") == 1);
}

TEST_CASE("history status: Meta's words mapped to ours") {
  CHECK(history_status("SENT", true) == "sent");
  CHECK(history_status("pending", true) == "sent");
  CHECK(history_status("DELIVERED", true) == "delivered");
  CHECK(history_status("READ", true) == "read");
  CHECK(history_status("PLAYED", true) == "played");
  CHECK(history_status("ERROR", true) == "failed");
  CHECK(history_status("", true) == "delivered");
  CHECK(history_status("SOMETHING_NEW", true) == "delivered");
  CHECK(history_status("READ", false) == "received");
  CHECK(history_status("", false) == "received");
}

TEST_CASE("address book: the business's name shows as contact_name, remove restores the "
          "profile name") {
  Fixture f;
  f.ingest(fixtures::webhook("text.json")); // profile name "Sheena Nelson"
  const std::string wamid = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBTEXT";
  auto stats = f.ingest(fixtures::webhook("smb_app_state_sync.json"));
  CHECK(stats.contact_syncs == 3);
  CHECK(find_message(f.store, "acme", wamid)->contact_name == "Sheena Nelson (blue sofa)");
  CHECK(unread_by_conversation(f.store, "acme")[0].contact_name == "Sheena Nelson (blue sofa)");

  auto sync = [&](const std::string& action, std::int64_t at, const std::string& name) {
    json contact = {{"phone_number", customer}};
    if (!name.empty()) contact["full_name"] = name;
    json body = json::parse(fixtures::webhook("smb_app_state_sync.json"));
    body["entry"][0]["changes"][0]["value"]["state_sync"] =
        json::array({{{"type", "contact"},
                      {"contact", contact},
                      {"action", action},
                      {"metadata", {{"timestamp", std::to_string(at)}}}}});
    return f.ingest(body.dump());
  };
  CHECK(sync("remove", 1749416600, "").contact_syncs == 1);
  CHECK(find_message(f.store, "acme", wamid)->contact_name == "Sheena Nelson");
  // An older add arriving late does not undo the newer remove.
  CHECK(sync("add", 1749416550, "Stale name").contact_syncs == 0);
  CHECK(find_message(f.store, "acme", wamid)->contact_name == "Sheena Nelson");
  CHECK(sync("add", 1749416700, "Sheena (VIP)").contact_syncs == 1);
  CHECK(find_message(f.store, "acme", wamid)->contact_name == "Sheena (VIP)");
  // Within one delivery the newest wins, whatever the order of the list.
  json body = json::parse(fixtures::webhook("smb_app_state_sync.json"));
  body["entry"][0]["changes"][0]["value"]["state_sync"] =
      json::array({{{"type", "contact"},
                    {"contact", {{"phone_number", customer}, {"full_name", "Newest"}}},
                    {"action", "add"},
                    {"metadata", {{"timestamp", "1749416900"}}}},
                   {{"type", "contact"},
                    {"contact", {{"phone_number", customer}}},
                    {"action", "remove"},
                    {"metadata", {{"timestamp", "1749416800"}}}}});
  f.ingest(body.dump());
  CHECK(find_message(f.store, "acme", wamid)->contact_name == "Newest");
  // Beta's contacts are beta's: acme's sync names nobody there.
  CHECK(f.count("SELECT count(*) FROM contacts WHERE tenant_id = 'beta'") == 0);
}
