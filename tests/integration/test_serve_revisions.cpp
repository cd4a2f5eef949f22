// Edits and revokes through the real daemon: a signed webhook changes the original message,
// and history, the REST messages route and the event stream all show the change.
#include "integration/test_stream_support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>

using nlohmann::json;
using streamtest::Setup;
using streamtest::SseClient;

namespace {

const std::string route = "/api/whatsapp/webhook";
const std::string text_wamid = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBTEXT";

json post(Setup& s, const std::string& body) {
  auto r = s.daemon->post(route, body, fixtures::acme.app_secret);
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 200);
  return json::parse(r->body);
}

json only_history(Setup& s) {
  auto h = s.w({"history", "--tenant", "acme", "--json"});
  REQUIRE(h.exit_code == 0);
  INFO(h.out);
  REQUIRE(std::count(h.out.begin(), h.out.end(), '\n') == 1);
  return json::parse(h.out);
}

} // namespace

TEST_CASE("serve: an edit and a revoke change the original in history, REST and the stream") {
  Setup s;
  post(s, fixtures::webhook("text.json"));
  SseClient c(s.daemon->port(), "/api/whatsapp/events?access_token=" + s.acme_token);
  REQUIRE(c.status() == 200);

  auto answer = post(s, fixtures::webhook("edit_text.json"));
  CHECK(answer["messages"] == 0);
  CHECK(answer["duplicates"] == 0);
  auto edited = c.event();
  REQUIRE(edited);
  CHECK(edited->type == "message.edited");
  CHECK(edited->json()["message"]["message_id"] == text_wamid);
  CHECK(edited->json()["message"]["text"] == "Does it come in another colour, say blue?");

  auto m = only_history(s);
  CHECK(m["text"] == "Does it come in another colour, say blue?");
  CHECK(m["edited_at"] == "2025-06-08T21:00:43Z");
  REQUIRE(m["payload_history"].size() == 1);
  CHECK(m["payload_history"][0]["text"]["body"] == "Does it come in another color?");
  auto table = s.w({"history", "--tenant", "acme"});
  CHECK(table.out.find("Does it come in another colour, say blue? [edited]") != std::string::npos);
  CHECK(s.w({"unread", "--tenant", "acme"}).out == "1\n");

  // Meta's retry changes nothing and announces nothing.
  CHECK(post(s, fixtures::webhook("edit_text.json"))["duplicates"] == 1);

  post(s, fixtures::webhook("revoke.json"));
  auto revoked = c.event();
  REQUIRE(revoked);
  CHECK(revoked->type == "message.revoked");
  CHECK(revoked->json()["message"]["text"].is_null());
  CHECK(revoked->json()["message"]["revoked_at"] == "2025-06-08T21:02:43Z");
  CHECK_FALSE(c.event(500));

  auto rest = s.request("GET", "/api/whatsapp/messages", s.acme_token);
  REQUIRE(rest);
  auto page = json::parse(rest->body)["messages"];
  REQUIRE(page.size() == 1);
  CHECK(page[0]["revoked_at"] == "2025-06-08T21:02:43Z");
  CHECK(page[0]["text"].is_null());
  CHECK(page[0]["media"].is_null());
  CHECK(page[0]["payload_history"].size() == 2);
  table = s.w({"history", "--tenant", "acme"});
  CHECK(table.out.find("[revoked]  (received) unread") != std::string::npos);
  CHECK(table.out.find("[edited]") == std::string::npos);

  // A revoked unread message is still one unread message, and can be read.
  CHECK(s.w({"unread", "--tenant", "acme"}).out == "1\n");
  CHECK(s.w({"mark-read", "--tenant", "acme", text_wamid}).exit_code == 0);
  CHECK(s.w({"unread", "--tenant", "acme"}).out == "0\n");
  CHECK(s.w({"status", "--tenant", "acme", text_wamid}).exit_code == 0);
}

TEST_CASE("serve: an edit before its original waits for it, bad edits are answered 200") {
  Setup s;
  post(s, fixtures::webhook("edit_image_caption.json"));
  CHECK(s.w({"history", "--tenant", "acme", "--json"}).out.empty());
  CHECK(s.w({"unread", "--tenant", "acme"}).out == "0\n");

  auto spoil = [](const std::function<void(json&)>& how) {
    auto body = json::parse(fixtures::webhook("edit_text.json"));
    auto& msg = body["entry"][0]["changes"][0]["value"]["messages"][0];
    msg["edit"]["original_message_id"] = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBIMAGE";
    how(msg);
    return body.dump();
  };
  for (const auto& body : {
           spoil([](json& m) { m["edit"].erase("original_message_id"); }),
           spoil([](json& m) { m["edit"].erase("message"); }),
           spoil([](json& m) { m["edit"]["original_message_id"] = json::object(); }),
           spoil([](json& m) { m["edit"]["message"]["text"]["body"] = std::string(100000, 'x'); }),
       }) {
    auto answer = post(s, body);
    CHECK(answer["messages"] == 0);
  }

  post(s, fixtures::webhook("image.json"));
  auto m = only_history(s);
  CHECK(m["text"] == "Taj Mahal at dawn");
  CHECK(m["media_id"] == "1003383421387256");
  CHECK(m["edited_at"] == "2025-06-08T21:01:43Z");
  CHECK(m["payload_history"][0]["image"]["caption"] == "Taj Mahal");
  CHECK(s.w({"unread", "--tenant", "acme"}).out == "1\n");
  auto health = s.daemon->client().Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
}
