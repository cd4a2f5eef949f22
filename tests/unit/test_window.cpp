// The customer-service window (CONTRACT.md §8): 24 h after the customer's latest message of
// the conversation, by Meta's timestamp, shown as window_expires_at (null once closed).
#include "support/fixtures.hpp"
#include "support/ingest_store.hpp"
#include "support/support.hpp"
#include "wabactl/conversations.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/util.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>

#include <ctime>

using namespace wabactl;
using nlohmann::json;

namespace {

const std::string customer = "16505551234";
const std::string user_id = "US.13491208655302741918";

// The text fixture as a message `seconds_ago` old with its own wamid (and sender).
std::string text_at(const std::string& wamid, std::int64_t seconds_ago,
                    const std::string& from = customer) {
  auto body = json::parse(fixtures::webhook("text.json"));
  auto& msg = body["entry"][0]["changes"][0]["value"]["messages"][0];
  msg["id"] = wamid;
  msg["from"] = from;
  msg["timestamp"] = std::to_string(std::time(nullptr) - seconds_ago);
  body["entry"][0]["changes"][0]["value"]["contacts"][0]["wa_id"] = from;
  return body.dump();
}

std::string closes(std::int64_t seconds_ago) {
  return iso_from_unix(std::time(nullptr) - seconds_ago + 24 * 3600);
}

// Fixture `name` with every record of its `field` list `seconds_ago` old.
std::string fixture_at(const char* name, const char* field, std::int64_t seconds_ago) {
  auto body = json::parse(fixtures::webhook(name));
  for (auto& m : body["entry"][0]["changes"][0]["value"][field]) {
    m["timestamp"] = std::to_string(std::time(nullptr) - seconds_ago);
  }
  return body.dump();
}

} // namespace

TEST_CASE("window: open 24 h after the customer's latest message, in history, rows and JSON") {
  testsupport::IngestStore f;
  f.ingest(text_at("wamid.W1", 3 * 3600));
  auto m = find_message(f.store, "acme", "wamid.W1");
  REQUIRE(m);
  CHECK(m->window_expires_at == closes(3 * 3600));
  CHECK(to_json(*m)["window_expires_at"] == closes(3 * 3600));
  CHECK(json::parse(to_json_text(*m)) == to_json(*m));

  // A newer message moves it for every row of the conversation.
  f.ingest(text_at("wamid.W2", 3600));
  CHECK(find_message(f.store, "acme", "wamid.W1")->window_expires_at == closes(3600));
  auto rows = unread_by_conversation(f.store, "acme");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].window_expires_at == closes(3600));
  CHECK(to_json(rows[0])["window_expires_at"] == closes(3600));

  // Another customer's conversation has its own window; another tenant sees none of it.
  f.ingest(text_at("wamid.OTHER", 20 * 3600, "447700900123"));
  CHECK(find_message(f.store, "acme", "wamid.OTHER")->window_expires_at == closes(20 * 3600));
  CHECK(find_message(f.store, "acme", "wamid.W2")->window_expires_at == closes(3600));
  CHECK(unread_by_conversation(f.store, "beta").empty());
}

TEST_CASE("window: closed after 24 h, and never open for a customer who never wrote") {
  testsupport::IngestStore f;
  f.ingest(text_at("wamid.OLD", 24 * 3600 + 60));
  auto m = find_message(f.store, "acme", "wamid.OLD");
  CHECK_FALSE(m->window_expires_at);
  CHECK(to_json(*m)["window_expires_at"].is_null());
  CHECK(to_json_text(*m).find("\"window_expires_at\":null") != std::string::npos);
  CHECK_FALSE(unread_by_conversation(f.store, "acme")[0].window_expires_at);

  testsupport::insert_outgoing(f.store, {.tenant = "acme",
                                         .phone = "15557654321",
                                         .wamid = "wamid.SENTONLY",
                                         .timestamp = iso_from_unix(std::time(nullptr))});
  CHECK_FALSE(find_message(f.store, "acme", "wamid.SENTONLY")->window_expires_at);
}

TEST_CASE("window: our sends, echoes, statuses and Meta's notices never refresh it") {
  testsupport::IngestStore f;
  f.ingest(text_at("wamid.CUSTOMER", 23 * 3600));
  const std::string want = closes(23 * 3600);
  // A send of ours, the business's reply from its phone, statuses and a system notice,
  // all newer than the customer's message.
  testsupport::insert_outgoing(f.store, {.tenant = "acme",
                                         .phone = customer,
                                         .wamid = "wamid.OURS",
                                         .timestamp = iso_from_unix(std::time(nullptr))});
  f.ingest(fixture_at("smb_message_echoes.json", "message_echoes", 60));
  f.ingest(fixture_at("statuses.json", "statuses", 30));
  f.ingest(fixture_at("system_user_changed_user_id.json", "messages", 10));
  for (const char* wamid : {"wamid.CUSTOMER", "wamid.OURS"}) {
    CAPTURE(wamid);
    auto m = find_message(f.store, "acme", wamid);
    REQUIRE(m);
    CHECK(m->window_expires_at == want);
  }
}

TEST_CASE("window: a merged contact's window is its latest message from either id") {
  testsupport::IngestStore f;
  f.ingest(text_at("wamid.BYPHONE", 5 * 3600));
  auto by_user = json::parse(fixtures::webhook("username_user.json"));
  auto& msg = by_user["entry"][0]["changes"][0]["value"]["messages"][0];
  msg["timestamp"] = std::to_string(std::time(nullptr) - 2 * 3600);
  f.ingest(by_user.dump());
  // The user id's window is its own until a delivery shows both ids belong to one person.
  CHECK(find_message(f.store, "acme", "wamid.BYPHONE")->window_expires_at == closes(5 * 3600));
  auto both = json::parse(fixtures::webhook("text.json"));
  auto& value = both["entry"][0]["changes"][0]["value"];
  value["contacts"][0]["user_id"] = user_id;
  value["messages"][0]["id"] = "wamid.BOTH";
  value["messages"][0]["timestamp"] = std::to_string(std::time(nullptr) - 10 * 3600);
  f.ingest(both.dump());
  CHECK(find_message(f.store, "acme", "wamid.BYPHONE")->window_expires_at == closes(2 * 3600));
  CHECK(find_message(f.store, "acme", "wamid.BOTH")->window_expires_at == closes(2 * 3600));
}

TEST_CASE("window: found by one index seek, not by reading the conversation") {
  testsupport::IngestStore f;
  auto db = testsupport::raw_db(f.store);
  SQLite::Statement plan(db, "EXPLAIN QUERY PLAN SELECT max(w.timestamp) FROM "
                             "whatsapp_messages w WHERE w.tenant_id = 'acme' AND w.conversation "
                             "= '1' AND w.direction = 'incoming' AND w.type <> 'system'");
  std::string details;
  while (plan.executeStep()) details += plan.getColumn(3).getString() + "\n";
  CAPTURE(details);
  CHECK(details.find("messages_customer_latest") != std::string::npos);
}
