// Unit tests of history's search and time range (CONTRACT.md §13): the full-text index the
// store keeps, how a user's words become a query, tenant and conversation scope, bounds.
#include "store/migrations.hpp"
#include "support/fixtures.hpp"
#include "support/ingest_store.hpp"
#include "support/temp_store.hpp"
#include "unit/test_helpers.hpp"
#include "wabactl/conversations.hpp"
#include "wabactl/error.hpp"
#include "wabactl/identity.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/store.hpp"
#include "wabactl/tenants.hpp"
#include "wabactl/util.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <fmt/format.h>

using namespace wabactl;
using testhelpers::code_of;
using testhelpers::message_and_hint_of;
using testsupport::insert_outgoing;
using testsupport::TempStore;

namespace {

std::vector<std::string> texts(const std::vector<Message>& page) {
  std::vector<std::string> out;
  for (const auto& m : page) out.push_back(m.text.value_or(""));
  return out;
}

std::vector<std::string> search(Store& store, const std::string& words,
                                const std::string& tenant = "acme") {
  HistoryQuery q;
  q.search = words;
  return texts(history(store, tenant, q));
}

// FTS5's own check that the index holds exactly what its content view says.
void check_index_consistent(const Store& store) {
  auto db = testsupport::raw_db(store);
  CHECK_NOTHROW(
      db.exec("INSERT INTO message_search(message_search, rank) VALUES ('integrity-check', 1)"));
}

// `n` outgoing messages to one number, one a minute from `start` (unix seconds), with the
// text `text` followed by the message's number, in one transaction on a raw connection.
void bulk_messages(const Store& store, int n, std::int64_t start, const std::string& text) {
  auto db = testsupport::raw_db(store);
  SQLite::Transaction t(db);
  db.exec("INSERT INTO contacts(tenant_id, phone_number, created_at, updated_at) VALUES "
          "('acme', '15550001111', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z') "
          "ON CONFLICT DO NOTHING");
  SQLite::Statement q(db, "INSERT INTO whatsapp_messages(tenant_id, phone_number, conversation, "
                          "message_id, direction, status, status_rank, type, message_text, "
                          "timestamp, created_at) SELECT 'acme', '15550001111', CAST(c.id AS "
                          "TEXT), ?1, 'outgoing', 'sent', 1, 'text', ?2, ?3, ?3 FROM contacts c "
                          "WHERE c.tenant_id = 'acme' AND c.phone_number = '15550001111'");
  for (int i = 0; i < n; ++i) {
    q.bind(1, fmt::format("wamid.BULK{}", i));
    q.bind(2, fmt::format("{} {}", text, i));
    q.bind(3, iso_from_unix(start + 60 * i));
    q.exec();
    q.reset();
  }
  t.commit();
}

} // namespace

TEST_CASE("search folds case and accents both ways, and matches whole words") {
  TempStore store{"acme"};
  insert_outgoing(store, {"acme", "15551230001", "wamid.A", "sent", "2026-01-01T10:00:00Z",
                          "Un Café, s'il vous plaît"});
  insert_outgoing(store,
                  {"acme", "15551230001", "wamid.B", "sent", "2026-01-01T11:00:00Z", "CAFE NOIR"});
  insert_outgoing(
      store, {"acme", "15551230001", "wamid.C", "sent", "2026-01-01T12:00:00Z", "a cafeteria"});
  CHECK(search(store, "cafe") == std::vector<std::string>{"Un Café, s'il vous plaît", "CAFE NOIR"});
  CHECK(search(store, "CAFÉ") == std::vector<std::string>{"Un Café, s'il vous plaît", "CAFE NOIR"});
  CHECK(search(store, "plait") == std::vector<std::string>{"Un Café, s'il vous plaît"});
  // Every word must be there, in any order.
  CHECK(search(store, "noir café") == std::vector<std::string>{"CAFE NOIR"});
  CHECK(search(store, "cafe latte").empty());
  CHECK(search(store, "cafet").empty());
}

TEST_CASE("a trailing * searches a prefix, and * elsewhere is no syntax") {
  TempStore store{"acme"};
  insert_outgoing(store, {"acme", "15551230001", "wamid.A", "sent", "2026-01-01T10:00:00Z",
                          "Your refund is on its way"});
  insert_outgoing(store, {"acme", "15551230001", "wamid.B", "sent", "2026-01-01T11:00:00Z",
                          "Reference R-2291"});
  insert_outgoing(
      store, {"acme", "15551230001", "wamid.C", "sent", "2026-01-01T12:00:00Z", "a ref for you"});
  CHECK(search(store, "ref*") ==
        std::vector<std::string>{"Your refund is on its way", "Reference R-2291", "a ref for you"});
  CHECK(search(store, "ref") == std::vector<std::string>{"a ref for you"});
  CHECK(search(store, "REFU*") == std::vector<std::string>{"Your refund is on its way"});
  // A word of several tokens is a phrase: R-2291 as written, not R and 2291 anywhere.
  CHECK(search(store, "r-2291") == std::vector<std::string>{"Reference R-2291"});
  CHECK(search(store, "2291-r").empty());
}

TEST_CASE("words that look like FTS5 syntax are searched as words") {
  TempStore store{"acme"};
  insert_outgoing(store,
                  {"acme", "15551230001", "wamid.A", "sent", "2026-01-01T10:00:00Z", "cafe"});
  insert_outgoing(store, {"acme", "15551230001", "wamid.B", "sent", "2026-01-01T11:00:00Z",
                          "meet me near the cafe or the bar"});
  // OR and NEAR are words here, not operators (`NEAR(the` is the phrase "near the"); a
  // column filter is two words.
  CHECK(search(store, "cafe OR bar") ==
        std::vector<std::string>{"meet me near the cafe or the bar"});
  CHECK(search(store, "NEAR(the cafe)") ==
        std::vector<std::string>{"meet me near the cafe or the bar"});
  CHECK(search(store, "NEAR(") == std::vector<std::string>{"meet me near the cafe or the bar"});
  CHECK(search(store, "message_text:cafe").empty());
  CHECK(search(store, "-bar cafe") == std::vector<std::string>{"meet me near the cafe or the bar"});
  CHECK(search(store, "^cafe \"cafe") ==
        std::vector<std::string>{"cafe", "meet me near the cafe or the bar"});
  CHECK(search(store, "cafe\" OR \"x").empty());
}

TEST_CASE("a search without words, too long or not UTF-8 is a usage error") {
  TempStore store{"acme"};
  insert_outgoing(store,
                  {"acme", "15551230001", "wamid.A", "sent", "2026-01-01T10:00:00Z", "anything"});
  for (std::string words : {"", "   ", "\"", "*", "-", "\"\" * - ( ) : ^ ,.;!?", "👍 ✅"}) {
    CAPTURE(words);
    CHECK(code_of([&] { search(store, words); }) == Exit::usage);
  }
  CHECK(message_and_hint_of([&] { search(store, "*"); }).find("no words") != std::string::npos);
  CHECK(code_of([&] { search(store, std::string(10 * 1024, 'a')); }) == Exit::usage);
  CHECK(code_of([&] { search(store, std::string(1024, 'a')); }) == Exit::ok);
  CHECK(code_of([&] { search(store, "caf\xc3"); }) == Exit::usage);
  CHECK(code_of([&] { search(store, std::string("a\0b", 3)); }) == Exit::ok);
}

TEST_CASE("an edit re-indexes the message and a revoke takes it out of the index") {
  testsupport::IngestStore f;
  f.ingest(fixtures::webhook("text.json")); // "Does it come in another color?"
  CHECK(search(f.store, "color") == std::vector<std::string>{"Does it come in another color?"});
  f.ingest(fixtures::webhook("edit_text.json")); // "... another colour, say blue?"
  CHECK(search(f.store, "color").empty());
  CHECK(search(f.store, "colour blue") ==
        std::vector<std::string>{"Does it come in another colour, say blue?"});
  check_index_consistent(f.store);
  f.ingest(fixtures::webhook("revoke.json"));
  CHECK(search(f.store, "colour").empty());
  CHECK(search(f.store, "another").empty());
  check_index_consistent(f.store);
}

TEST_CASE("a document is found by its filename, with or without a caption") {
  testsupport::IngestStore f;
  f.ingest(fixtures::webhook("document.json")); // receipt.pdf, no caption
  f.ingest(fixtures::webhook("image.json"));    // caption "Taj Mahal"
  auto captioned = nlohmann::json::parse(fixtures::webhook("document.json"));
  auto& message = captioned["entry"][0]["changes"][0]["value"]["messages"][0];
  message["id"] = "wamid.CAPTIONED";
  message["document"]["caption"] = "as promised";
  message["document"]["filename"] = "Facture-2291.pdf";
  f.ingest(captioned.dump());
  CHECK(search(f.store, "receipt") == std::vector<std::string>{"receipt.pdf"});
  CHECK(search(f.store, "taj mahal") == std::vector<std::string>{"Taj Mahal"});
  CHECK(search(f.store, "facture") == std::vector<std::string>{"as promised"});
  CHECK(search(f.store, "promised 2291") == std::vector<std::string>{"as promised"});
}

TEST_CASE("search stays within the tenant, and within the conversation with a peer") {
  TempStore store{"acme", "beta"};
  insert_outgoing(store, {"acme", "15551230001", "wamid.A1", "sent", "2026-01-01T10:00:00Z",
                          "invoice for Ana"});
  insert_outgoing(
      store, {"acme", "15551230002", "wamid.A2", "sent", "2026-01-01T11:00:00Z", "invoice for Bo"});
  insert_outgoing(store, {"beta", "15551230001", "wamid.B1", "sent", "2026-01-01T12:00:00Z",
                          "invoice secret of beta"});
  CHECK(search(store, "invoice") == std::vector<std::string>{"invoice for Ana", "invoice for Bo"});
  CHECK(search(store, "secret").empty());
  CHECK(search(store, "secret", "beta") == std::vector<std::string>{"invoice secret of beta"});
  HistoryQuery q;
  q.search = "invoice";
  q.peer = parse_peer("+1 555 123 0002");
  CHECK(texts(history(store, "acme", q)) == std::vector<std::string>{"invoice for Bo"});
  q.peer = parse_peer("+15559999999");
  CHECK(history(store, "acme", q).empty());
  // A removed tenant's messages leave the index with it.
  remove_tenant(store, "beta");
  CHECK(testsupport::query_int(store, "SELECT count(*) FROM message_search WHERE message_search "
                                      "MATCH 'secret'") == 0);
  check_index_consistent(store);
}

TEST_CASE("since and until bound the time range, both inclusive, with or without a search") {
  TempStore store{"acme"};
  for (int day = 1; day <= 5; ++day) {
    insert_outgoing(store, {"acme", "15551230001", fmt::format("wamid.D{}", day), "sent",
                            fmt::format("2026-01-0{}T10:00:00Z", day), fmt::format("day {}", day)});
  }
  HistoryQuery q;
  q.since = "2026-01-02T10:00:00Z";
  q.until = "2026-01-04T10:00:00Z";
  CHECK(texts(history(store, "acme", q)) == std::vector<std::string>{"day 2", "day 3", "day 4"});
  q.search = "day";
  CHECK(texts(history(store, "acme", q)) == std::vector<std::string>{"day 2", "day 3", "day 4"});
  q.search = "3";
  CHECK(texts(history(store, "acme", q)) == std::vector<std::string>{"day 3"});
  q.search.reset();
  q.until.reset();
  q.since = "2026-01-04T10:00:01Z";
  CHECK(texts(history(store, "acme", q)) == std::vector<std::string>{"day 5"});
  q.since = "2026-01-04T00:00:00Z";
  q.until = "2026-01-03T00:00:00Z";
  CHECK(code_of([&] { history(store, "acme", q); }) == Exit::usage);
  q.until = q.since;
  CHECK(history(store, "acme", q).empty());
}

TEST_CASE("a search with many matches pages exactly as history does without one") {
  TempStore store{"acme"};
  // More matches than the bound under which a search sorts its matches, so this one walks
  // the time index instead: the answers must not differ.
  bulk_messages(store, 10050, 1767225600, "common word");
  HistoryQuery plain;
  plain.limit = 100;
  HistoryQuery searched = plain;
  searched.search = "common";
  auto a = history(store, "acme", plain);
  auto b = history(store, "acme", searched);
  REQUIRE(a.size() == 100);
  CHECK(texts(a) == texts(b));
  plain.before = searched.before = std::to_string(a.front().id);
  CHECK(texts(history(store, "acme", plain)) == texts(history(store, "acme", searched)));
  HistoryQuery in_conversation;
  in_conversation.limit = 100;
  in_conversation.peer = parse_peer("+15550001111");
  in_conversation.until = iso_from_unix(1767225600 + 60 * 5000);
  auto c_plain = history(store, "acme", in_conversation);
  in_conversation.search = "common";
  auto c = history(store, "acme", in_conversation);
  CHECK(texts(c) == texts(c_plain));
  REQUIRE(c.size() == 100);
  CHECK(c.back().text == "common word 5000");
  searched.search = "10049";
  searched.before.reset();
  CHECK(texts(history(store, "acme", searched)) == std::vector<std::string>{"common word 10049"});
  searched.search = "word 100*";
  searched.limit = 1000;
  // 100, 1000..1009, 10000..10049.
  CHECK(history(store, "acme", searched).size() == 1 + 10 + 50);
}

TEST_CASE("each_message hands over every match newest first from where the page starts") {
  TempStore store{"acme"};
  bulk_messages(store, 30, 1767225600, "note");
  HistoryQuery q;
  q.search = "note";
  q.limit = 7; // ignored
  std::vector<std::string> seen;
  each_message(store, "acme", q, [&](const Message& m) { seen.push_back(m.text.value_or("")); });
  REQUIRE(seen.size() == 30);
  CHECK(seen.front() == "note 29");
  CHECK(seen.back() == "note 0");
  auto newest = history(store, "acme", HistoryQuery{});
  q.before = std::to_string(newest[newest.size() - 10].id); // "note 20"
  seen.clear();
  each_message(store, "acme", q, [&](const Message& m) { seen.push_back(m.text.value_or("")); });
  REQUIRE(seen.size() == 20);
  CHECK(seen.front() == "note 19");
  q.before = "wamid.NOPE";
  CHECK(code_of([&] { each_message(store, "acme", q, [](const Message&) {}); }) == Exit::not_found);
  q.before.reset();
  q.search = "?";
  CHECK(code_of([&] { each_message(store, "acme", q, [](const Message&) {}); }) == Exit::usage);
}

TEST_CASE("the migration indexes the messages an older database already holds") {
  testsupport::TempDir dir;
  auto path = dir / "old.db";
  {
    SQLite::Database old(path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    old.exec("PRAGMA foreign_keys = ON");
    migrate(old, Store::latest_version() - 1);
    old.exec("INSERT INTO tenants(id, name, created_at) VALUES ('acme', 'Acme', "
             "'2026-01-01T00:00:00Z')");
    old.exec("INSERT INTO whatsapp_messages(tenant_id, phone_number, conversation, message_id, "
             "direction, status, status_rank, type, message_text, timestamp, created_at, "
             "revoked_at) VALUES "
             "('acme', '15551230001', '1', 'wamid.OLD1', 'incoming', 'received', 5, 'text', "
             "'Ancien café', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z', NULL), "
             "('acme', '15551230001', '1', 'wamid.OLD2', 'incoming', 'received', 5, 'text', "
             "'revoked cafe', '2025-01-02T00:00:00Z', '2025-01-02T00:00:00Z', "
             "'2025-01-03T00:00:00Z')");
  }
  Store store(path);
  CHECK(search(store, "cafe") == std::vector<std::string>{"Ancien café"});
  check_index_consistent(store);
}
