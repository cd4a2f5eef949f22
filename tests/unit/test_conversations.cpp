#include "support/fixtures.hpp"
#include "support/temp_store.hpp"
#include "wabactl/conversations.hpp"
#include "wabactl/error.hpp"
#include "wabactl/inbox.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/store.hpp"
#include "wabactl/tenants.hpp"
#include "wabactl/webhook.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

using namespace wabactl;

namespace {

struct Inbound {
  std::string from; // digits, or a user id when it starts with a letter
  std::string wamid;
  std::int64_t ts;
  std::string text;
  std::string name = "Jane";
};

std::string delivery(const std::string& number, const std::vector<Inbound>& msgs) {
  nlohmann::json messages = nlohmann::json::array();
  nlohmann::json contacts = nlohmann::json::array();
  for (const auto& m : msgs) {
    bool user = !m.from.empty() && (m.from[0] < '0' || m.from[0] > '9');
    nlohmann::json j = {{"id", m.wamid},
                        {"timestamp", std::to_string(m.ts)},
                        {"type", "text"},
                        {"text", {{"body", m.text}}}};
    nlohmann::json c = {{"profile", {{"name", m.name}}}};
    if (user) {
      j["from_user_id"] = m.from;
      c["user_id"] = m.from;
    } else {
      j["from"] = m.from;
      c["wa_id"] = m.from;
    }
    messages.push_back(j);
    contacts.push_back(c);
  }
  nlohmann::json value = {
      {"messaging_product", "whatsapp"},
      {"metadata", {{"display_phone_number", "15550000000"}, {"phone_number_id", number}}},
      {"contacts", contacts},
      {"messages", messages}};
  return nlohmann::json{
      {"object", "whatsapp_business_account"},
      {"entry", {{{"id", "1"}, {"changes", {{{"field", "messages"}, {"value", value}}}}}}}}
      .dump();
}

struct Fixture {
  testsupport::TempStore store{"acme", "beta"};
  void receive(const std::string& number, const std::vector<Inbound>& msgs) {
    std::string body = delivery(number, msgs);
    store.transaction([&] {
      record_delivery(store, body, parse_delivery(body),
                      fixtures::numbers({fixtures::acme, fixtures::beta}), "test", "test");
    });
  }
  void outgoing(const std::string& tenant, const std::string& phone, const std::string& wamid,
                const std::string& ts, const std::string& text) {
    testsupport::insert_outgoing(store, {tenant, phone, wamid, "sent", ts, text});
  }
  std::vector<std::string> texts(const std::vector<Message>& page) {
    std::vector<std::string> out;
    for (const auto& m : page) out.push_back(m.text.value_or(""));
    return out;
  }
  std::int64_t events_of(const std::string& type) {
    auto db = testsupport::raw_db(store);
    SQLite::Statement q(db, "SELECT count(*) FROM events WHERE type = ?");
    q.bind(1, type);
    q.executeStep();
    return q.getColumn(0).getInt64();
  }
};

// 10 messages from one number, one a minute, texts m0..m9.
void ten_messages(Fixture& f) {
  std::vector<Inbound> msgs;
  for (int i = 0; i < 10; ++i) {
    msgs.push_back(
        {"15551230000", fmt::format("wamid.M{}", i), 1764000000 + 60 * i, fmt::format("m{}", i)});
  }
  f.receive(fixtures::acme.phone_number_id, msgs);
}

} // namespace

TEST_CASE("parse_peer accepts phone numbers in any common spelling and user ids") {
  CHECK(parse_peer("+1 (555) 123-0000").phone_number == "15551230000");
  CHECK(parse_peer("15551230000").phone_number == "15551230000");
  CHECK(parse_peer("US.13491208655302741").user_id == "US.13491208655302741");
  for (const char* bad :
       {"", "   ", "abc", "+", "12", "1555123000012345678", "US.", "DROP TABLE", "+1555;rm -rf"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_peer(bad), Error);
  }
  CHECK_THROWS_AS(parse_peer(std::string(100000, '1')), Error);
}

TEST_CASE("history pages run newest-first across pages and oldest-first within a page") {
  Fixture f;
  ten_messages(f);
  HistoryQuery q;
  q.peer = parse_peer("+15551230000");
  q.limit = 4;
  auto page = history(f.store, "acme", q);
  CHECK(f.texts(page) == std::vector<std::string>{"m6", "m7", "m8", "m9"});

  q.before = *page.front().message_id;
  page = history(f.store, "acme", q);
  CHECK(f.texts(page) == std::vector<std::string>{"m2", "m3", "m4", "m5"});

  q.before = std::to_string(page.front().id); // local ids work too
  page = history(f.store, "acme", q);
  CHECK(f.texts(page) == std::vector<std::string>{"m0", "m1"});

  HistoryQuery off;
  off.limit = 3;
  off.offset = 2;
  CHECK(f.texts(history(f.store, "acme", off)) == std::vector<std::string>{"m5", "m6", "m7"});
  off.offset = 50;
  CHECK(history(f.store, "acme", off).empty());
}

TEST_CASE("history filters by conversation, direction and contact id") {
  Fixture f;
  f.receive(fixtures::acme.phone_number_id,
            {{"15551230000", "wamid.A", 1764000000, "from jane"},
             {"15559990000", "wamid.B", 1764000100, "from bob", "Bob"},
             {"US.1349120865530", "wamid.U", 1764000150, "from a username"}});
  f.outgoing("acme", "15551230000", "wamid.OUT", "2025-11-24T16:05:00Z", "to jane");
  HistoryQuery q;
  q.peer = parse_peer("+1 555 123 0000");
  CHECK(f.texts(history(f.store, "acme", q)) == std::vector<std::string>{"from jane", "to jane"});
  q.direction = Direction::outgoing;
  CHECK(f.texts(history(f.store, "acme", q)) == std::vector<std::string>{"to jane"});
  q.direction = Direction::incoming;
  CHECK(f.texts(history(f.store, "acme", q)) == std::vector<std::string>{"from jane"});

  HistoryQuery user;
  user.peer = parse_peer("US.1349120865530");
  CHECK(f.texts(history(f.store, "acme", user)) == std::vector<std::string>{"from a username"});

  testsupport::raw_db(f.store).exec(
      "UPDATE whatsapp_messages SET contact_id = 'crm-7' WHERE message_id = 'wamid.B'");
  HistoryQuery contact;
  contact.contact_id = "crm-7";
  auto page = history(f.store, "acme", contact);
  REQUIRE(page.size() == 1);
  CHECK(page[0].contact_name == "Bob");
}

TEST_CASE("history never shows another tenant's messages and refuses bad requests") {
  Fixture f;
  ten_messages(f);
  f.receive(fixtures::beta.phone_number_id, {{"15551230000", "wamid.BETA", 1764000000, "beta's"}});
  HistoryQuery all;
  all.limit = 1000;
  CHECK(history(f.store, "acme", all).size() == 10);
  CHECK(f.texts(history(f.store, "beta", all)) == std::vector<std::string>{"beta's"});
  CHECK(history(f.store, "nobody", all).empty());

  HistoryQuery foreign;
  foreign.before = "wamid.BETA";
  try {
    history(f.store, "acme", foreign);
    FAIL("expected not found");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::not_found);
  }
  HistoryQuery q;
  q.limit = 0;
  CHECK_THROWS_AS(history(f.store, "acme", q), Error);
  q.limit = 1001;
  CHECK_THROWS_AS(history(f.store, "acme", q), Error);
  HistoryQuery both;
  both.before = "wamid.M1";
  both.offset = 1;
  CHECK_THROWS_AS(history(f.store, "acme", both), Error);
}

TEST_CASE("unread by conversation counts per conversation with the newest text") {
  Fixture f;
  f.receive(fixtures::acme.phone_number_id,
            {{"15551230000", "wamid.A1", 1764000000, "first"},
             {"15551230000", "wamid.A2", 1764000060, "second"},
             {"15559990000", "wamid.B1", 1764000030, "bob here", "Bob"}});
  CHECK(unread_count(f.store, "acme") == 3);
  auto rows = unread_by_conversation(f.store, "acme");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].phone_number == "15551230000");
  CHECK(rows[0].unread == 2);
  CHECK(rows[0].last_text == "second");
  CHECK(rows[0].contact_name == "Jane");
  CHECK(rows[1].contact_name == "Bob");
  CHECK(rows[1].unread == 1);
  CHECK(unread_by_conversation(f.store, "beta").empty());
}

TEST_CASE("mark_read marks the message and the earlier ones of its conversation only") {
  Fixture f;
  ten_messages(f);
  f.receive(fixtures::acme.phone_number_id, {{"15559990000", "wamid.OTHER", 1764000100, "other"}});
  MarkTarget t;
  t.message_ids = {"wamid.M4"};
  auto r = mark_read(f.store, "acme", t);
  CHECK(r.marked == 5);
  REQUIRE(r.conversations.size() == 1);
  CHECK(r.conversations[0].receipt_wamid == "wamid.M4");
  CHECK(unread_count(f.store, "acme") == 6);
  CHECK(f.events_of(event_unread_changed) >= 1);

  // Again: nothing new to mark, but the explicit target still names its receipt.
  auto again = mark_read(f.store, "acme", t);
  CHECK(again.marked == 0);

  MarkTarget two;
  two.message_ids = {"wamid.M6", "wamid.M8"};
  r = mark_read(f.store, "acme", two);
  CHECK(r.marked == 4);
  REQUIRE(r.conversations.size() == 1);
  CHECK(r.conversations[0].receipt_wamid == "wamid.M8");

  MarkTarget all;
  all.all = true;
  r = mark_read(f.store, "acme", all);
  CHECK(r.marked == 2);
  CHECK(r.conversations.size() == 2);
  CHECK(unread_count(f.store, "acme") == 0);
}

TEST_CASE("mark_read by phone, and unknown or foreign ids change nothing") {
  Fixture f;
  ten_messages(f);
  f.receive(fixtures::beta.phone_number_id, {{"15551230000", "wamid.BETA", 1764000000, "beta's"}});
  MarkTarget bad;
  bad.message_ids = {"wamid.M1", "wamid.BETA"};
  try {
    mark_read(f.store, "acme", bad);
    FAIL("expected not found");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::not_found);
  }
  CHECK(unread_count(f.store, "acme") == 10);
  CHECK(unread_count(f.store, "beta") == 1);

  MarkTarget phone;
  phone.peer = parse_peer("+15551230000");
  auto r = mark_read(f.store, "acme", phone);
  CHECK(r.marked == 10);
  REQUIRE(r.conversations.size() == 1);
  CHECK(r.conversations[0].receipt_wamid == "wamid.M9");
  CHECK(unread_count(f.store, "beta") == 1);

  MarkTarget none;
  CHECK_THROWS_AS(mark_read(f.store, "acme", none), Error);
  MarkTarget two_kinds;
  two_kinds.all = true;
  two_kinds.peer = parse_peer("+15551230000");
  CHECK_THROWS_AS(mark_read(f.store, "acme", two_kinds), Error);
}

TEST_CASE("message_status lists the status history of the tenant's own message") {
  Fixture f;
  f.outgoing("acme", "15551230000", "wamid.OUT", "2025-11-24T16:05:00Z", "invoice");
  testsupport::raw_db(f.store).exec(
      "INSERT INTO message_statuses(tenant_id, message_id, status, timestamp, error_code, "
      "error_title, error_details) VALUES "
      "('acme', 'wamid.OUT', 'sent', '2025-11-24T16:05:01Z', NULL, NULL, NULL), "
      "('acme', 'wamid.OUT', 'failed', '2025-11-24T16:05:02Z', 131047, 'Re-engagement message', "
      "'outside the window')");
  auto s = message_status(f.store, "acme", "wamid.OUT");
  REQUIRE(s.history.size() == 2);
  CHECK(s.history[0].status == "sent");
  CHECK(s.history[1].error->code == 131047);
  auto j = to_json(s);
  CHECK(j["message_id"] == "wamid.OUT");
  CHECK(j["history"][1]["error"]["code"] == 131047);
  CHECK(j["message"]["text"] == "invoice");
  CHECK_THROWS_AS(message_status(f.store, "beta", "wamid.OUT"), Error);
  CHECK_THROWS_AS(message_status(f.store, "acme", "wamid.NOPE"), Error);
  CHECK_THROWS_AS(message_status(f.store, "acme", ""), Error);
}

namespace {

std::string dumped(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace

TEST_CASE("the Message JSON text is what the JSON tree dumps, byte for byte") {
  Message bare;
  bare.id = 7;
  bare.tenant_id = "acme";
  bare.direction = "outgoing";
  bare.status = "queued";
  bare.type = "text";
  bare.timestamp = "2026-11-24T10:00:00Z";

  Message full = bare;
  full.id = 9007199254740993;
  full.message_id = "wamid.HBgL\"quoted\"==";
  full.direction = "incoming";
  full.status = "received";
  full.phone_number = "15551230000";
  full.user_id = "US.13491208655302741";
  full.contact_id = "c-1";
  full.contact_name = "Zoë \\ \"Z\" 😀";
  full.type = "document";
  full.text = "line 1\nline 2\ttab \x01 ctl @ / end";
  full.media_url = "https://example.com/a?b=c&d=e";
  full.media_type = "application/pdf";
  full.media_id = "1234567890";
  full.template_name = "invoice_v2";
  full.reply_to = "wamid.PARENT";
  full.read_at = "2026-11-24T10:05:00Z";
  full.error = MessageError{131047, "Re-engagement \"message\"", "More than 24 hours"};
  full.payload = dumped({{"from", "15551230000"},
                         {"text", {{"body", "Grüße \"x\" \\ y"}}},
                         {"type", "text"},
                         {"n", {1, 2.5, true, nullptr}}});

  Message broken = full;
  broken.text = "bad \xff utf-8 \xe2\x9c";
  broken.contact_name = "\xc0\xaf";
  broken.payload = "{\"not\": json";

  for (const auto* m : {&bare, &full, &broken}) {
    CAPTURE(m->id);
    CHECK(to_json_text(*m) == dumped(to_json(*m)));
  }
  CHECK(to_json(broken)["payload"].is_null());

  // A payload someone stored with other spacing or key order is still the same JSON.
  Message spaced = full;
  spaced.payload = "{ \"type\" : \"text\", \"a\" : [ 1 , 2 ] }";
  CHECK(nlohmann::json::parse(to_json_text(spaced)) == to_json(spaced));

  // Messages as the store gives them back.
  Fixture f;
  f.receive(fixtures::acme.phone_number_id,
            {{"15551230000", "wamid.A", 1764000000, "héllo \"there\" \\ 😀"},
             {"US.13491208655302741", "wamid.B", 1764000060, "ctl\x02\n", "Bob"}});
  auto page = history(f.store, "acme", HistoryQuery{});
  REQUIRE(page.size() == 2);
  for (const auto& m : page) {
    CAPTURE(m.id);
    CHECK_FALSE(m.payload.empty());
    CHECK(to_json_text(m) == dumped(to_json(m)));
  }
}

TEST_CASE("an event's stored JSON is the Event JSON of its message, keys in order") {
  Fixture f;
  f.receive(fixtures::acme.phone_number_id,
            {{"15551230000", "wamid.A", 1764000000, "hi \"you\" ✓"}});
  auto m = find_message(f.store, "acme", "wamid.A");
  REQUIRE(m.has_value());
  std::int64_t id = 0;
  f.store.transaction([&] { id = append_event(f.store, "acme", event_message_status, m, 3); });
  std::int64_t unread_only = 0;
  f.store.transaction([&] {
    unread_only = append_event(f.store, "acme", event_unread_changed, std::nullopt, std::nullopt);
  });
  CHECK(unread_only == id + 1);

  auto rows = event_rows_after(f.store, std::string("acme"), id - 1, 10);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].id == id);
  CHECK(rows[0].data == dumped({{"id", id},
                                {"type", event_message_status},
                                {"tenant_id", "acme"},
                                {"at", rows[0].at},
                                {"message", to_json(*m)},
                                {"unread", 3}}));
  CHECK(rows[1].data == dumped({{"id", id + 1},
                                {"type", event_unread_changed},
                                {"tenant_id", "acme"},
                                {"at", rows[1].at},
                                {"message", nullptr},
                                {"unread", nullptr}}));
}
