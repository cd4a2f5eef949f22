// wabactl serve and coexistence (CONTRACT.md §6): echoes reach the streams, and the
// app's history is acknowledged at once and imported in the background, across restarts.
#include "integration/test_stream_support.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>

#include <chrono>

using streamtest::Setup;
using streamtest::SseClient;

namespace {

const std::string route = "/api/whatsapp/webhook";
const std::string customer = "15551234567";

std::int64_t count(const testsupport::Wabactl& w, const std::string& sql) {
  SQLite::Database db(w.db.string(), SQLite::OPEN_READONLY);
  db.setBusyTimeout(5000);
  return db.execAndGet(sql).getInt64();
}

// Waits up to `seconds` for `sql` to count `want`; returns the last count.
std::int64_t wait_for_count(const testsupport::Wabactl& w, const std::string& sql,
                            std::int64_t want, int seconds = 30) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::int64_t n = count(w, sql);
  while (n != want && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    n = count(w, sql);
  }
  return n;
}

nlohmann::json delivery(const std::string& field, nlohmann::json value) {
  value["messaging_product"] = "whatsapp";
  value["metadata"] = {{"display_phone_number", "15550000000"},
                       {"phone_number_id", fixtures::acme.phone_number_id}};
  return {{"object", "whatsapp_business_account"},
          {"entry", {{{"id", "1"}, {"changes", {{{"field", field}, {"value", value}}}}}}}};
}

// One chunk of `n` messages with the customer, every fourth one the business's.
std::string history_chunk(std::size_t n) {
  nlohmann::json messages = nlohmann::json::array();
  for (std::size_t i = 0; i < n; ++i) {
    bool business = i % 4 == 3;
    messages.push_back({{"from", business ? "15550000000" : customer},
                        {"id", fmt::format("wamid.HIST{:06}", i)},
                        {"timestamp", std::to_string(1760000000 + i)},
                        {"type", "text"},
                        {"text", {{"body", fmt::format("old message {}", i)}}},
                        {"history_context", {{"status", "READ"}}}});
  }
  return delivery("history",
                  {{"history",
                    {{{"metadata", {{"phase", 1}, {"chunk_order", 1}, {"progress", 100}}},
                      {"threads", {{{"id", customer}, {"messages", messages}}}}}}}})
      .dump();
}

const std::string messages_sql = "SELECT count(*) FROM whatsapp_messages WHERE tenant_id = "
                                 "'acme' AND source = 'history'";

} // namespace

TEST_CASE("serve: an echo from the Business app reaches SSE as message.echoed, never unread") {
  Setup s;
  SseClient c(s.daemon->port(), "/api/whatsapp/events?access_token=" + s.acme_token);
  REQUIRE(c.status() == 200);
  auto body = delivery("smb_message_echoes", {{"message_echoes",
                                               {{{"from", "15550000000"},
                                                 {"to", customer},
                                                 {"id", "wamid.ECHO1"},
                                                 {"timestamp", "1764000000"},
                                                 {"type", "text"},
                                                 {"text", {{"body", "Sent from my phone"}}}}}}})
                  .dump();
  auto r = s.daemon->post(route, body, fixtures::acme.app_secret);
  REQUIRE(r);
  CHECK(r->status == 200);
  auto e = c.event();
  REQUIRE(e);
  CHECK(e->type == "message.echoed");
  auto j = e->json();
  CHECK(j["message"]["message_id"] == "wamid.ECHO1");
  CHECK(j["message"]["direction"] == "outgoing");
  CHECK(j["message"]["source"] == "business_app");
  CHECK(j["message"]["text"] == "Sent from my phone");
  // Its retry announces nothing more, and nothing is unread.
  REQUIRE(s.daemon->post(route, body, fixtures::acme.app_secret)->status == 200);
  CHECK_FALSE(c.event(500));
  auto unread = s.w({"--json", "unread", "--tenant", "acme"});
  REQUIRE(unread.exit_code == 0);
  CHECK(nlohmann::json::parse(unread.out)["count"] == 0);
}

TEST_CASE("serve: a 5,000-message history chunk is answered at once and imported soon after") {
  Setup s;
  auto body = history_chunk(5000);
  auto r = s.daemon->post(route, body, fixtures::acme.app_secret);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(wait_for_count(s.w, messages_sql, 5000) == 5000);
  auto h =
      s.w({"history", "--tenant", "acme", "--phone", "+" + customer, "--json", "--limit", "2"});
  REQUIRE(h.exit_code == 0);
  auto newest = nlohmann::json::parse(h.out.substr(0, h.out.find('\n')));
  CHECK(newest["source"] == "history");
  CHECK(newest["read_at"].is_string());
  CHECK(count(s.w, "SELECT count(*) FROM whatsapp_messages WHERE direction = 'outgoing'") == 1250);
  CHECK(count(s.w, "SELECT count(*) FROM whatsapp_messages WHERE direction = 'incoming' AND "
                   "read_at IS NULL") == 0);
  // The same chunk again stores nothing new and imports nothing twice.
  REQUIRE(s.daemon->post(route, body, fixtures::acme.app_secret)->status == 200);
  CHECK(count(s.w, "SELECT count(*) FROM history_chunks") == 1);
  // Webhook intake goes on meanwhile: a live message lands beside the imported ones.
  s.inbound("wamid.LIVE1", "still here");
  CHECK(count(s.w, "SELECT count(*) FROM whatsapp_messages WHERE message_id = 'wamid.LIVE1'") == 1);
  CHECK(count(s.w, messages_sql) == 5000);
}

TEST_CASE("serve: a photo in the app's history is fetched as soon as it is imported") {
  testsupport::FakeGraph graph;
  graph.accept_token(fixtures::acme.access_token);
  graph.accept_token(fixtures::globex.access_token);
  const std::string bytes(30 * 1024, 'h');
  graph.add_media("5501", bytes);
  Setup s({}, graph.url());
  nlohmann::json photo = {{"from", customer},
                          {"id", "wamid.HISTPHOTO"},
                          {"timestamp", "1760000000"},
                          {"type", "image"},
                          {"image", {{"id", "5501"}, {"mime_type", "image/jpeg"}}},
                          {"history_context", {{"status", "READ"}}}};
  auto body =
      delivery("history", {{"history",
                            {{{"metadata", {{"phase", 0}, {"chunk_order", 1}, {"progress", 100}}},
                              {"threads", {{{"id", customer}, {"messages", {photo}}}}}}}}});
  REQUIRE(s.daemon->post(route, body.dump(), fixtures::acme.app_secret)->status == 200);
  // Well before the media worker's idle minute: the importer wakes it.
  CHECK(wait_for_count(s.w,
                       "SELECT count(*) FROM whatsapp_messages WHERE message_id = "
                       "'wamid.HISTPHOTO' AND media_state = 'stored'",
                       1, 15) == 1);
  CHECK(count(s.w, "SELECT count(*) FROM whatsapp_messages WHERE message_id = 'wamid.HISTPHOTO' "
                   "AND media_sha256 = '" +
                       testsupport::FakeGraph::sha256_hex(bytes) + "'") == 1);
}

TEST_CASE("serve: a restart in the middle of an import resumes it, each message once") {
  Setup s;
  auto body = history_chunk(5000);
  REQUIRE(s.daemon->post(route, body, fixtures::acme.app_secret)->status == 200);
  // Killed while it imports (or just after): nothing is lost either way.
  s.daemon->stop(SIGKILL);
  s.daemon->start();
  CHECK(wait_for_count(s.w, messages_sql, 5000) == 5000);
  s.daemon->stop();

  // What a kill after two batches leaves: the chunk pending at 400, the later rows absent.
  {
    SQLite::Database db(s.w.db.string(), SQLite::OPEN_READWRITE);
    db.exec("DELETE FROM whatsapp_messages WHERE message_id >= 'wamid.HIST000400'");
    db.exec("UPDATE history_chunks SET state = 'pending', imported = 400, finished_at = NULL");
  }
  REQUIRE(count(s.w, messages_sql) == 400);
  s.daemon->start();
  CHECK(wait_for_count(s.w, messages_sql, 5000) == 5000);
  CHECK(wait_for_count(s.w, "SELECT count(*) FROM history_chunks WHERE state = 'imported'", 1) ==
        1);
  CHECK(count(s.w, "SELECT count(DISTINCT message_id) FROM whatsapp_messages") == 5000);
}
