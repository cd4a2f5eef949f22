// Unit tests of contacts and identity (CONTRACT.md §6): one conversation per person,
// whichever of phone number and business-scoped user id a delivery or a door brings.
#include "store/migrations.hpp"
#include "support/fixtures.hpp"
#include "support/temp_store.hpp"
#include "wabactl/contacts.hpp"
#include "wabactl/conversations.hpp"
#include "wabactl/inbox.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/store.hpp"
#include "wabactl/webhook.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <fmt/format.h>

using namespace wabactl;
using nlohmann::json;

namespace {

const std::string phone = "16505550123";
const std::string user = "US.13491208655302741918";

struct Fixture {
  testsupport::TempStore store{"acme", "beta"};
  std::int64_t ts = 1764000000;

  // One inbound text from whoever `from` / `from_user_id` / contacts[] name, to `number`'s tenant.
  void deliver(const std::string& id, std::optional<std::string> from,
               std::optional<std::string> from_user_id, const json& contact = nullptr,
               const std::string& number = fixtures::acme.phone_number_id) {
    json msg = {{"id", id},
                {"timestamp", std::to_string(ts++)},
                {"type", "text"},
                {"text", {{"body", "text of " + id}}}};
    if (from) msg["from"] = *from;
    if (from_user_id) msg["from_user_id"] = *from_user_id;
    post(msg, contact, number);
  }

  void post(const json& msg, const json& contact = nullptr,
            const std::string& number = fixtures::acme.phone_number_id) {
    json value = {
        {"messaging_product", "whatsapp"},
        {"metadata", {{"display_phone_number", "15550000000"}, {"phone_number_id", number}}},
        {"messages", json::array({msg})}};
    if (!contact.is_null()) value["contacts"] = json::array({contact});
    json body = {
        {"object", "whatsapp_business_account"},
        {"entry", {{{"id", "1"}, {"changes", {{{"field", "messages"}, {"value", value}}}}}}}};
    std::string text = body.dump();
    store.transaction([&] {
      record_delivery(store, text, parse_delivery(text),
                      fixtures::numbers({fixtures::acme, fixtures::beta}), "/api/whatsapp/webhook");
    });
  }

  std::vector<std::string> ids_of(const std::string& tenant, const std::string& peer) {
    HistoryQuery q;
    q.peer = parse_peer(peer);
    std::vector<std::string> out;
    for (const auto& m : history(store, tenant, q)) out.push_back(*m.message_id);
    return out;
  }
  std::int64_t count(const std::string& sql) { return testsupport::query_int(store, sql); }
};

} // namespace

TEST_CASE("contacts: a username user who later shows a number stays one conversation") {
  Fixture f;
  f.deliver("wamid.U1", std::nullopt, user,
            {{"profile", {{"name", "Anon"}, {"username", "anon_42"}}}, {"user_id", user}});
  f.deliver("wamid.U2", phone, user,
            {{"profile", {{"name", "Anon"}}}, {"wa_id", phone}, {"user_id", user}});
  f.deliver("wamid.U3", phone, std::nullopt);
  CHECK(f.count("SELECT count(*) FROM contacts WHERE tenant_id = 'acme'") == 1);
  std::vector<std::string> all = {"wamid.U1", "wamid.U2", "wamid.U3"};
  CHECK(f.ids_of("acme", user) == all);
  CHECK(f.ids_of("acme", "+1 650 555 0123") == all);

  auto first = find_message(f.store, "acme", "wamid.U1");
  REQUIRE(first);
  CHECK(first->user_id == user);
  CHECK(first->phone_number == phone); // learnt since
  CHECK(first->username == "anon_42");
  auto json_text = to_json_text(*first);
  CHECK(json::parse(json_text)["username"] == "anon_42");

  auto rows = unread_by_conversation(f.store, "acme");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].unread == 3);
  auto row = to_json(rows[0]);
  CHECK(row["phone_number"] == phone);
  CHECK(row["user_id"] == user);
  CHECK(row["username"] == "anon_42");
  CHECK(row["contact_name"] == "Anon");
  CHECK(row["contact_id"].is_string());
}

TEST_CASE("contacts: user_id is filled from contacts[] when the message carries none") {
  Fixture f;
  f.deliver("wamid.C1", phone, std::nullopt,
            {{"profile", {{"name", "Jo"}}}, {"wa_id", phone}, {"user_id", user}});
  auto m = find_message(f.store, "acme", "wamid.C1");
  REQUIRE(m);
  CHECK(m->user_id == user);
  CHECK(f.ids_of("acme", user) == std::vector<std::string>{"wamid.C1"});
}

TEST_CASE("contacts: two contacts that are one person merge, messages and unread counts too") {
  Fixture f;
  f.deliver("wamid.P1", phone, std::nullopt,
            {{"profile", {{"name", "Old name"}}}, {"wa_id", phone}});
  f.deliver("wamid.P2", phone, std::nullopt);
  f.deliver("wamid.Q1", std::nullopt, user,
            {{"profile", {{"name", "New name"}}}, {"user_id", user}});
  CHECK(f.count("SELECT count(*) FROM contacts WHERE tenant_id = 'acme'") == 2);
  CHECK(unread_by_conversation(f.store, "acme").size() == 2);
  auto before = unread_count(f.store, "acme");

  // One delivery names both: the two are one person.
  f.deliver("wamid.B1", phone, user, {{"wa_id", phone}, {"user_id", user}});
  CHECK(f.count("SELECT count(*) FROM contacts WHERE tenant_id = 'acme'") == 1);
  auto rows = unread_by_conversation(f.store, "acme");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].unread == 4);
  CHECK(unread_count(f.store, "acme") == before + 1);
  CHECK(rows[0].contact_name == "New name");                 // the newest name wins
  CHECK(f.count("SELECT count(*) FROM contact_names") == 2); // both names are kept
  std::vector<std::string> all = {"wamid.P1", "wamid.P2", "wamid.Q1", "wamid.B1"};
  CHECK(f.ids_of("acme", phone) == all);
  CHECK(f.ids_of("acme", user) == all);

  auto events = testsupport::events_after(f.store, "acme", 0, 1000);
  auto merged = std::find_if(events.begin(), events.end(),
                             [](const auto& e) { return e.type == "contact.merged"; });
  REQUIRE(merged != events.end());
  CHECK(merged->data["contact"]["phone_number"] == phone);
  CHECK(merged->data["contact"]["user_id"] == user);
  CHECK(merged->data["contact"]["merged_contact_id"].is_string());
  CHECK(merged->data["message"].is_null());

  // Marking by either identifier reads the whole conversation.
  MarkTarget t;
  t.peer = parse_peer(user);
  CHECK(mark_read(f.store, "acme", t).marked == 4);
  CHECK(unread_count(f.store, "acme") == before - 3);
}

TEST_CASE("contacts: user_changed_number moves the contact to its new number") {
  Fixture f;
  f.deliver("wamid.OLD", "16505551234", std::nullopt);
  f.post(json::parse(R"({"from":"16505551234","id":"wamid.SYS","timestamp":"1764000000",
      "type":"system","system":{"body":"User changed from 16505551234 to 12195555358",
      "wa_id":"12195555358","type":"user_changed_number"}})"));
  f.deliver("wamid.NEW", "12195555358", std::nullopt);
  CHECK(f.count("SELECT count(*) FROM contacts WHERE tenant_id = 'acme'") == 1);
  std::vector<std::string> all = {"wamid.OLD", "wamid.SYS", "wamid.NEW"};
  CHECK(f.ids_of("acme", "12195555358") == all);
  auto c = find_contact(f.store, "acme", parse_peer("12195555358"));
  REQUIRE(c);
  CHECK_FALSE(find_contact(f.store, "acme", parse_peer("16505551234")));
}

TEST_CASE("contacts: a changed number that already has a conversation joins it") {
  Fixture f;
  f.deliver("wamid.A", "16505551234", std::nullopt);
  f.deliver("wamid.B", "12195555358", std::nullopt);
  f.post(json::parse(R"({"from":"16505551234","id":"wamid.SYS","timestamp":"1764000100",
      "type":"system","system":{"wa_id":"12195555358","type":"user_changed_number"}})"));
  CHECK(f.count("SELECT count(*) FROM contacts WHERE tenant_id = 'acme'") == 1);
  CHECK(f.ids_of("acme", "12195555358").size() == 3);
}

TEST_CASE("contacts: user_changed_user_id gives the contact its new user id") {
  Fixture f;
  f.deliver("wamid.A", std::nullopt, user);
  f.post(json::parse(fixtures::webhook(
      "system_user_changed_user_id.json"))["entry"][0]["changes"][0]["value"]["messages"][0]);
  f.deliver("wamid.B", std::nullopt, "US.98765432109876543210");
  CHECK(f.count("SELECT count(*) FROM contacts WHERE tenant_id = 'acme'") == 1);
  CHECK(f.ids_of("acme", "US.98765432109876543210").size() == 3);
}

TEST_CASE("contacts: the same person writing to two tenants is two contacts, never mixed") {
  Fixture f;
  f.deliver("wamid.T1", phone, user, {{"wa_id", phone}, {"user_id", user}});
  f.deliver("wamid.T2", phone, std::nullopt, nullptr, fixtures::beta.phone_number_id);
  CHECK(f.ids_of("acme", phone) == std::vector<std::string>{"wamid.T1"});
  CHECK(f.ids_of("beta", phone) == std::vector<std::string>{"wamid.T2"});
  CHECK(f.ids_of("beta", user).empty());
  CHECK_FALSE(find_contact(f.store, "beta", parse_peer(user)));
}

TEST_CASE("contacts: a database keyed by phone and user id migrates to one conversation each") {
  testsupport::TempDir dir;
  auto path = dir / "old.db";
  {
    SQLite::Database db(path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    migrate(db, 8);
    db.exec("INSERT INTO tenants(id, created_at) VALUES('acme', '2026-01-01T00:00:00Z')");
    // A contact whose messages were keyed by user id before its number was known.
    db.exec("INSERT INTO contacts(tenant_id, phone_number, user_id, name, created_at, updated_at) "
            "VALUES('acme', '16505550123', 'US.1', 'Jo', 'x', 'x')");
    auto msg = [&](const char* conversation, const char* wamid, const char* direction) {
      db.exec(fmt::format("INSERT INTO whatsapp_messages(tenant_id, conversation, message_id, "
                          "direction, status, type, timestamp, created_at) VALUES('acme', '{}', "
                          "'{}', '{}', 'received', 'text', '2026-01-0{}T00:00:00Z', 'x')",
                          conversation, wamid, direction, wamid[6]));
    };
    msg("US.1", "wamid.1", "incoming");
    msg("16505550123", "wamid.2", "incoming");
    msg("16505559999", "wamid.3", "outgoing"); // a send to someone who never wrote
    msg("US.2", "wamid.4", "incoming");
  }
  Store store(path);
  CHECK(testsupport::query_int(store, "SELECT count(*) FROM contacts") == 3);
  auto ids = [&](const std::string& peer) {
    HistoryQuery q;
    q.peer = parse_peer(peer);
    return history(store, "acme", q).size();
  };
  CHECK(ids("US.1") == 2);
  CHECK(ids("16505550123") == 2);
  CHECK(ids("16505559999") == 1);
  CHECK(ids("US.2") == 1);
  CHECK(unread_by_conversation(store, "acme").size() == 2);
  CHECK(testsupport::query_int(store, "SELECT count(*) FROM contact_names WHERE name = 'Jo'") == 1);
}
