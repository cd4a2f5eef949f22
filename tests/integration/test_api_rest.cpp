#include "integration/test_stream_support.hpp"
#include "server/api_routes.hpp"
#include "wabactl/util.hpp"

#include <doctest/doctest.h>

#include <ctime>

using nlohmann::json;
using streamtest::Setup;

namespace {

json body_of(const httplib::Result& r) {
  REQUIRE(r);
  INFO(r->body);
  auto j = json::parse(r->body, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

std::string local_id_of(Setup& s, const std::string& wamid) {
  auto r = s.request("GET", "/api/whatsapp/messages/" + wamid + "/status", s.acme_token);
  auto j = body_of(r);
  REQUIRE(r->status == 200);
  return j["message"]["id"];
}

} // namespace

TEST_CASE("REST: messages, pagination, status, unread and read marks for the token's tenant") {
  Setup s;
  s.inbound("wamid.A1", "first", false, "15551234567", 1764000001);
  s.inbound("wamid.A2", "second", false, "15551234567", 1764000002);
  s.inbound("wamid.A3", "third", false, "15557654321", 1764000003);

  auto count = body_of(s.request("GET", "/api/whatsapp/unread-count", s.acme_token));
  CHECK(count["count"] == 3);

  auto page = s.request("GET", "/api/whatsapp/messages?limit=2", s.acme_token);
  auto pj = body_of(page);
  REQUIRE(page->status == 200);
  REQUIRE(pj["messages"].size() == 2);
  CHECK(pj["messages"][0]["message_id"] == "wamid.A2");
  CHECK(pj["messages"][1]["message_id"] == "wamid.A3");
  CHECK(pj["messages"][1]["direction"] == "incoming");
  REQUIRE(pj["next_before"].is_string());
  auto older = body_of(s.request(
      "GET", "/api/whatsapp/messages?limit=2&before=" + pj["next_before"].get<std::string>(),
      s.acme_token));
  REQUIRE(older["messages"].size() == 1);
  CHECK(older["messages"][0]["message_id"] == "wamid.A1");
  CHECK(older["next_before"].is_null());

  // The host app's parameter names.
  auto by_phone =
      body_of(s.request("GET", "/api/whatsapp/messages?phoneNumber=%2B15557654321", s.acme_token));
  REQUIRE(by_phone["messages"].size() == 1);
  CHECK(by_phone["messages"][0]["text"] == "third");
  auto offset = body_of(s.request("GET", "/api/whatsapp/messages?offset=2", s.acme_token));
  REQUIRE(offset["messages"].size() == 1);
  CHECK(offset["messages"][0]["message_id"] == "wamid.A1");

  auto status = body_of(s.request("GET", "/api/whatsapp/messages/wamid.A1/status", s.acme_token));
  CHECK(status["message_id"] == "wamid.A1");
  CHECK(status["status"] == "received");
  CHECK(status["history"].is_array());

  auto unread = body_of(s.request("GET", "/api/whatsapp/unread", s.acme_token));
  REQUIRE(unread["conversations"].size() == 2);
  for (const char* k : {"phone_number", "contact_name", "unread", "last_message_at", "last_text"}) {
    CHECK(unread["conversations"][0].contains(k));
  }

  // Reading the second message also reads the first (same conversation).
  auto read = s.request("POST", "/api/whatsapp/messages/wamid.A2/read", s.acme_token, "");
  CHECK(body_of(read)["marked"] == 2);
  CHECK(body_of(s.request("GET", "/api/whatsapp/unread-count", s.acme_token))["count"] == 1);
  auto all = s.request("POST", "/api/whatsapp/read-all", s.acme_token,
                       R"({"phone_number":"+15557654321"})");
  CHECK(body_of(all)["marked"] == 1);
  CHECK(body_of(s.request("GET", "/api/whatsapp/unread-count", s.acme_token))["count"] == 0);
  CHECK(body_of(s.request("POST", "/api/whatsapp/read-all", s.acme_token, ""))["marked"] == 0);
}

TEST_CASE("REST: the typing route marks read and sends Meta the receipt with the indicator") {
  testsupport::FakeGraph graph;
  graph.accept_token(fixtures::acme.access_token);
  Setup s({}, graph.url());
  s.inbound("wamid.T1", "first", false, "15551234567", 1764000001);
  s.inbound("wamid.T2", "second", false, "15551234567", 1764000002);
  s.inbound("wamid.T3", "other chat", false, "15557654321", 1764000003);

  auto r = s.request("POST", "/api/whatsapp/messages/wamid.T2/typing", s.acme_token, "");
  auto j = body_of(r);
  CHECK(r->status == 200);
  CHECK(j == json{{"marked", 2}, {"receipts", 1}});
  REQUIRE(graph.requests().size() == 1);
  CHECK(graph.requests()[0].path == "/v25.0/" + fixtures::acme.phone_number_id + "/messages");
  CHECK(json::parse(graph.requests()[0].body) == json{{"messaging_product", "whatsapp"},
                                                      {"status", "read"},
                                                      {"message_id", "wamid.T2"},
                                                      {"typing_indicator", {{"type", "text"}}}});
  CHECK(body_of(s.request("GET", "/api/whatsapp/unread-count", s.acme_token))["count"] == 1);

  // A message already read: nothing to mark, the receipt and its indicator still go.
  r = s.request("POST", "/api/whatsapp/messages/wamid.T1/typing", s.acme_token, "");
  CHECK(body_of(r) == json{{"marked", 0}, {"receipts", 1}});
  REQUIRE(graph.requests().size() == 2);
  CHECK(json::parse(graph.requests()[1].body)["typing_indicator"] == json{{"type", "text"}});

  // The read route is unchanged: its receipt carries no indicator.
  r = s.request("POST", "/api/whatsapp/messages/wamid.T3/read", s.acme_token, "");
  CHECK(body_of(r) == json{{"marked", 1}, {"receipts", 1}});
  REQUIRE(graph.requests().size() == 3);
  CHECK_FALSE(json::parse(graph.requests()[2].body).contains("typing_indicator"));

  // Another tenant's message, an unknown one, no token: refused and nothing sent.
  CHECK(s.request("POST", "/api/whatsapp/messages/wamid.T2/typing", s.globex_token, "")->status ==
        404);
  CHECK(s.request("POST", "/api/whatsapp/messages/wamid.none/typing", s.acme_token, "")->status ==
        404);
  CHECK(s.request("POST", "/api/whatsapp/messages/wamid.T2/typing", "", "")->status == 401);
  CHECK(graph.requests().size() == 3);
}

TEST_CASE("REST: bad input answers 400/404/413 with a JSON error") {
  Setup s;
  struct Case {
    std::string method, path, body;
    int status;
  };
  std::vector<Case> cases = {
      {"GET", "/api/whatsapp/messages?limit=0", "", 400},
      {"GET", "/api/whatsapp/messages?limit=1001", "", 400},
      {"GET", "/api/whatsapp/messages?limit=-1", "", 400},
      {"GET", "/api/whatsapp/messages?limit=abc", "", 400},
      {"GET", "/api/whatsapp/messages?offset=1&before=1", "", 400},
      {"GET", "/api/whatsapp/messages?direction=sideways", "", 400},
      {"GET", "/api/whatsapp/messages?phone_number=not-a-phone", "", 400},
      {"GET", "/api/whatsapp/messages?phone_number=1&contact_id=2", "", 400},
      {"GET", "/api/whatsapp/messages?before=999999", "", 404},
      {"GET", "/api/whatsapp/messages/999999/status", "", 404},
      {"GET", "/api/whatsapp/messages/" + std::string(600, 'w') + "/status", "", 404},
      {"POST", "/api/whatsapp/messages/wamid.none/read", "", 404},
      {"POST", "/api/whatsapp/send", "", 400},
      {"POST", "/api/whatsapp/send", "not json", 400},
      {"POST", "/api/whatsapp/send", "[1,2]", 400},
      {"POST", "/api/whatsapp/send", R"({"message":"hi"})", 400},
      {"POST", "/api/whatsapp/send", R"({"phoneNumber":"+15551234567"})", 400},
      {"POST", "/api/whatsapp/send", R"({"phoneNumber":42,"message":"hi"})", 400},
      {"POST", "/api/whatsapp/send", R"({"phoneNumber":"abc","message":"hi"})", 400},
      {"POST", "/api/whatsapp/send",
       R"({"phone_number":"+15551234567","text":"a","template":{"name":"x"}})", 400},
      {"POST", "/api/whatsapp/send", R"({"phone_number":"+15551234567","image":"/etc/passwd"})",
       400},
      {"POST", "/api/whatsapp/send",
       R"({"phone_number":"+15551234567","template":{"name":"t","language":"en","header_document":"/etc/shadow"}})",
       400},
      {"POST", "/api/whatsapp/send",
       std::string(R"({"phoneNumber":"+15551234567","message":")") + std::string(70000, 'x') +
           "\"}",
       400},
      {"POST", "/api/whatsapp/config", R"({"phone_number_id":"not digits","test":false})", 400},
      {"POST", "/api/whatsapp/config", R"({"is_active":"yes"})", 400},
      {"POST", "/api/whatsapp/read-all", "{", 400},
      {"GET", "/api/whatsapp/events?last_event_id=abc", "", 400},
      {"GET", "/api/whatsapp/messages?before=", "", 400},
  };
  // A button index is 0-9; a huge one must not wrap into a valid one.
  for (const char* index : {"1099511627776", "4294967296", "10", "-1", "18446744073709551615"}) {
    cases.push_back(
        {"POST", "/api/whatsapp/send",
         fmt::format(R"({{"phone_number":"+15551234567","template":{{"name":"t","language":"en",)"
                     R"("button_params":[{{"index":{},"value":"x"}}]}}}})",
                     index),
         400});
  }
  for (const auto& c : cases) {
    CAPTURE(c.method);
    CAPTURE(c.path);
    CAPTURE(c.body.substr(0, 200));
    auto r = s.request(c.method, c.path, s.acme_token, c.body);
    auto j = body_of(r);
    CHECK(r->status == c.status);
    CHECK(j["error"]["code"].is_string());
    CHECK(j["error"]["message"].is_string());
  }
  // Over --max-body: 413 before the body is read.
  auto big = servetest::raw_http(
      s.daemon->port(),
      fmt::format("POST /api/whatsapp/send HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n"
                  "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                  s.acme_token, 4 * 1024 * 1024));
  CHECK(servetest::status_of(big) == 413);
}

TEST_CASE("REST: config routes mask secrets, validate, test and delete") {
  testsupport::FakeGraph graph;
  Setup s({}, graph.url());
  auto got = s.request("GET", "/api/whatsapp/config", s.acme_token);
  auto j = body_of(got);
  REQUIRE(got->status == 200);
  CHECK(j["phone_number_id"] == fixtures::acme.phone_number_id);
  CHECK(j["tenant_id"] == "acme");
  CHECK(got->body.find(fixtures::acme.app_secret) == std::string::npos);
  CHECK(got->body.find(fixtures::acme.access_token) == std::string::npos);

  // A token Meta rejects is not saved.
  auto rejected = s.request("POST", "/api/whatsapp/config", s.acme_token,
                            R"({"access_token":"EAAGrejected-token-0000000000"})");
  CHECK(body_of(rejected)["error"]["code"] == "credentials_rejected");
  CHECK(rejected->status == 400);

  graph.accept_token("EAAGgood-token-1111111111111111");
  auto saved =
      s.request("POST", "/api/whatsapp/config", s.acme_token,
                R"({"accessToken":"EAAGgood-token-1111111111111111","verify_token":"v2"})");
  auto sj = body_of(saved);
  REQUIRE(saved->status == 200);
  CHECK(sj["verified"]["verified_name"] == "Acme Test");
  CHECK(saved->body.find("EAAGgood-token-1111111111111111") == std::string::npos);

  auto tested = s.request("POST", "/api/whatsapp/config/test", s.acme_token, "");
  REQUIRE(tested);
  CHECK(tested->status == 200);
  CHECK(body_of(tested)["quality_rating"] == "GREEN");

  auto deleted = s.request("DELETE", "/api/whatsapp/config", s.acme_token);
  REQUIRE(deleted);
  CHECK(deleted->status == 200);
  CHECK(s.request("GET", "/api/whatsapp/config", s.acme_token)->status == 404);
  CHECK(s.request("DELETE", "/api/whatsapp/config", s.acme_token)->status == 404);
  // globex kept its config.
  CHECK(s.request("GET", "/api/whatsapp/config", s.globex_token)->status == 200);

  // Without a config, sending answers 409 with the wa.me link.
  auto send =
      s.request("POST", "/api/whatsapp/send", s.acme_token,
                R"({"contactId":"c-1","phoneNumber":"+1 555 123 4567","message":"hi there"})");
  auto fj = body_of(send);
  CHECK(send->status == 409);
  CHECK(fj["fallback_url"] == "https://wa.me/15551234567?text=hi%20there");
}

TEST_CASE("REST: send goes through the pipeline, with idempotency, in both body shapes") {
  testsupport::FakeGraph graph;
  graph.accept_token(fixtures::acme.access_token);
  Setup s({}, graph.url());
  // The customer wrote a minute ago: the window is open for free-form messages.
  s.inbound("wamid.WINDOW", "hello", false, "15551234567", std::time(nullptr) - 60);
  auto sent = s.request("POST", "/api/whatsapp/send", s.acme_token,
                        R"({"contactId":"c-1","phoneNumber":"+1 555 123 4567","message":"hello"})");
  auto j = body_of(sent);
  REQUIRE(sent->status == 200);
  CHECK(j["status"] == "sent");
  CHECK(j["direction"] == "outgoing");
  CHECK(j["text"] == "hello");
  CHECK(j["contact_id"] == "c-1");
  CHECK(j["tenant_id"] == "acme");

  std::string body =
      R"({"phone_number":"+15551234567","text":"invoice 7","idempotency_key":"inv-7"})";
  auto first = body_of(s.request("POST", "/api/whatsapp/send", s.acme_token, body));
  auto second = body_of(s.request("POST", "/api/whatsapp/send", s.acme_token, body));
  CHECK(first["message_id"] == second["message_id"]);
  CHECK_FALSE(first.contains("replayed"));
  CHECK(second["replayed"] == true);
  CHECK(graph.count("POST", "/messages") == 2);

  auto tpl = s.request(
      "POST", "/api/whatsapp/send", s.acme_token,
      R"({"phone_number":"+15551234567","template":{"name":"invoice","language":"en_US","body_params":["7"]}})");
  auto tj = body_of(tpl);
  CHECK(tpl->status == 200);
  CHECK(tj["template_name"] == "invoice");

  // The other tenant's idempotency key space is its own; its config has another token the
  // fake does not accept: Meta's 190 maps to credentials_rejected.
  s.inbound("wamid.WINDOW2", "hello", true, "15551234567", std::time(nullptr) - 60);
  auto other = s.request("POST", "/api/whatsapp/send", s.globex_token, body);
  CHECK(other->status == 400);
  CHECK(body_of(other)["error"]["code"] == "credentials_rejected");
}

TEST_CASE("REST: send takes every content kind the CLI takes, media as URLs only") {
  testsupport::FakeGraph graph;
  graph.accept_token(fixtures::acme.access_token);
  Setup s({}, graph.url());
  // The customer wrote a minute ago: the window is open for free-form messages.
  s.inbound("wamid.WINDOW", "hello", false, "15551234567", std::time(nullptr) - 60);
  struct Case {
    json body;
    std::string type;
    json expected; ///< Meta's object of that type
  };
  const std::string to = "+15551234567";
  std::vector<Case> cases = {
      {{{"phone_number", to},
        {"location", {{"latitude", 52.52}, {"longitude", 13.405}, {"name", "Office"}}}},
       "location",
       {{"latitude", 52.52}, {"longitude", 13.405}, {"name", "Office"}}},
      {{{"phone_number", to}, {"location", "52.52,13.405"}},
       "location",
       {{"latitude", 52.52}, {"longitude", 13.405}}},
      {{{"phoneNumber", to}, {"sticker", "https://x.example/s.webp"}},
       "sticker",
       {{"link", "https://x.example/s.webp"}}},
      {{{"phone_number", to}, {"reaction", {{"emoji", "👍"}, {"message_id", "wamid.R1"}}}},
       "reaction",
       {{"message_id", "wamid.R1"}, {"emoji", "👍"}}},
      {{{"phone_number", to}, {"reaction", "❤"}, {"replyTo", "wamid.R2"}},
       "reaction",
       {{"message_id", "wamid.R2"}, {"emoji", "❤"}}},
      {{{"phone_number", to}, {"video", {{"url", "https://x.example/v.mp4"}, {"caption", "c"}}}},
       "video",
       {{"link", "https://x.example/v.mp4"}, {"caption", "c"}}},
      {{{"phone_number", to}, {"text", "see https://x.example"}, {"previewUrl", true}},
       "text",
       {{"body", "see https://x.example"}, {"preview_url", true}}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body.dump());
    auto r = s.request("POST", "/api/whatsapp/send", s.acme_token, c.body.dump());
    auto j = body_of(r);
    CHECK(r->status == 200);
    CHECK(j["type"] == c.type);
    auto sent = json::parse(graph.requests().back().body);
    CHECK(sent[c.type] == c.expected);
  }
  auto tpl = s.request("POST", "/api/whatsapp/send", s.acme_token,
                       json{{"phone_number", to},
                            {"template",
                             {{"name", "promo"},
                              {"language", "en_US"},
                              {"header_video", {{"link", "https://x.example/v.mp4"}}},
                              {"button_params", {{{"index", 1}, {"value", "P-7"}}}}}}}
                           .dump());
  CHECK(tpl->status == 200);
  auto comps = json::parse(graph.requests().back().body)["template"]["components"];
  CHECK(comps[0]["parameters"][0]["video"]["link"] == "https://x.example/v.mp4");
  CHECK(comps[1]["index"] == "1");

  // A file path would make the daemon upload its own files: refused, naming the field.
  std::size_t before = graph.requests().size();
  for (const auto& [body, field] :
       {std::pair{json{{"phone_number", to}, {"sticker", "/etc/passwd"}}, "'sticker'"},
        std::pair{json{{"phone_number", to}, {"document", {{"link", "x.pdf"}}}}, "'document'"},
        std::pair{
            json{{"phone_number", to},
                 {"template", {{"name", "t"}, {"language", "en"}, {"header_image", "/etc/hosts"}}}},
            "'template.header_image'"}}) {
    CAPTURE(body.dump());
    auto r = s.request("POST", "/api/whatsapp/send", s.acme_token, body.dump());
    auto j = body_of(r);
    CHECK(r->status == 400);
    CHECK(j["error"]["message"] ==
          std::string(field) + R"( must be an http(s) URL (or {"link": URL}))");
  }
  auto mixed = s.request("POST", "/api/whatsapp/send", s.acme_token,
                         json{{"phone_number", to}, {"text", "a"}, {"reaction", "x"}}.dump());
  CHECK(mixed->status == 400);
  CHECK(body_of(mixed)["error"]["message"].get<std::string>().rfind(
            "give exactly one of 'message' (or 'text'), 'template', 'image', 'video', 'audio', "
            "'document', 'sticker', 'reaction', 'location'",
            0) == 0);
  CHECK(graph.requests().size() == before);
}

TEST_CASE("REST: a token of tenant B never reaches tenant A's data (route matrix)") {
  // B's writes that call Meta reach this fake, which refuses B's token.
  testsupport::FakeGraph graph;
  Setup s({}, graph.url());
  s.inbound("wamid.SECRET-A", "acme private text", false, "15551234567", 1764000001);
  s.inbound("wamid.B1", "globex text", true, "15550001111", 1764000002);
  std::string a_local = local_id_of(s, "wamid.SECRET-A");
  // An error may repeat the id the caller gave; it must not show anything else of A's.
  auto leaks_in = [&](const std::string& body, bool id_given) {
    return (!id_given && body.find("SECRET-A") != std::string::npos) ||
           body.find("acme private") != std::string::npos ||
           body.find(fixtures::acme.phone_number_id) != std::string::npos;
  };
  auto leaks = [&](const httplib::Result& r, bool id_given = false) {
    REQUIRE(r);
    return leaks_in(r->body, id_given);
  };
  const std::string& b = s.globex_token;
  const std::string post_body = R"({"phone_number":"15551234567","text":"x"})";

  // Every tenant route as the daemon registers it, each path parameter filled with an id of
  // A's message (local and wamid), and a body for a POST.
  std::size_t requests = 0;
  for (const auto& route : wabactl::server::tenant_routes()) {
    const std::string method = route.method;
    const std::string pattern = route.pattern;
    const std::string parameter = "([^/]+)";
    bool takes_id = pattern.find(parameter) != std::string::npos;
    std::vector<std::string> paths;
    for (const std::string& id : {a_local, std::string("wamid.SECRET-A")}) {
      std::string path = pattern;
      for (auto at = path.find(parameter); at != std::string::npos; at = path.find(parameter)) {
        path.replace(at, parameter.size(), id);
      }
      paths.push_back(path);
      if (!takes_id) break;
    }
    std::string body = method == "POST" ? post_body : std::string();
    for (const auto& path : paths) {
      CAPTURE(route.name);
      CAPTURE(method);
      CAPTURE(path);
      ++requests;
      // Without a token, or with one that does not exist: 401, never data.
      for (const std::string& token : {std::string(), std::string("wbt_") + std::string(43, 'A')}) {
        auto r = s.request(method, path, token, body);
        REQUIRE(r);
        CHECK(r->status == 401);
        CHECK_FALSE(leaks(r));
      }
      if (route.stream != nullptr) {
        // B's stream from the start replays B's events only.
        streamtest::SseClient sse(s.daemon->port(), path + "?last_event_id=0",
                                  "Authorization: Bearer " + b + "\r\n");
        REQUIRE(sse.status() == 200);
        bool saw_own = false;
        while (auto e = sse.next(500)) {
          CHECK_FALSE(leaks_in(e->data, false));
          saw_own = saw_own || e->data.find("wamid.B1") != std::string::npos;
        }
        CHECK(saw_own);
        continue;
      }
      auto r = s.request(method, path, b, body);
      REQUIRE(r);
      INFO(r->body);
      CHECK(r->status < 500);
      if (takes_id) CHECK(r->status == 404); // A's message does not exist for B
      CHECK_FALSE(leaks(r, takes_id));
    }
  }
  CHECK(requests > wabactl::server::tenant_routes().size()); // the id routes ran twice

  // Queries that name A's message or number.
  for (const std::string& id : {a_local, std::string("wamid.SECRET-A")}) {
    auto before = s.request("GET", "/api/whatsapp/messages?before=" + id, b);
    CHECK(before->status == 404);
    CHECK_FALSE(leaks(before, true));
  }
  auto by_phone = s.request("GET", "/api/whatsapp/messages?phone_number=15551234567", b);
  CHECK(by_phone->status == 200);
  CHECK_FALSE(leaks(by_phone));
  auto all = s.request("POST", "/api/whatsapp/read-all", b, R"({"phone_number":"15551234567"})");
  CHECK(body_of(all)["marked"] == 0);

  // Whatever B did, A's message is still unread and still there, and A's config is A's.
  CHECK(body_of(s.request("GET", "/api/whatsapp/unread-count", s.acme_token))["count"] == 1);
  CHECK(s.request("GET", "/api/whatsapp/messages/wamid.SECRET-A/status", s.acme_token)->status ==
        200);
  auto config = body_of(s.request("GET", "/api/whatsapp/config", s.acme_token));
  CHECK(config["phone_number_id"] == fixtures::acme.phone_number_id);
}

TEST_CASE("REST: a tenant token cannot point the daemon at an address, nor read a foreign answer") {
  testsupport::FakeGraph graph;
  Setup s({}, graph.url());
  testsupport::FakeGraph elsewhere;
  for (const char* field : {"graph_url", "graphUrl"}) {
    CAPTURE(field);
    auto r = s.request("POST", "/api/whatsapp/config", s.acme_token,
                       json{{field, elsewhere.url() + "/"}, {"test", true}}.dump());
    auto j = body_of(r);
    CHECK(r->status == 400);
    CHECK(j["error"]["message"].get<std::string>().find(field) != std::string::npos);
  }
  CHECK(elsewhere.requests().empty());
  CHECK(body_of(s.request("GET", "/api/whatsapp/config", s.acme_token))["graph_url"] ==
        graph.url());

  // The admin's Graph URL answering something that is not Meta's error object: only its
  // HTTP status reaches the tenant and the log.
  graph.set_handler([](const testsupport::Recorded&) -> std::optional<testsupport::Reply> {
    return testsupport::Reply{403, "<html>internal-page-text</html>"};
  });
  auto tested = s.request("POST", "/api/whatsapp/config/test", s.acme_token, "");
  REQUIRE(tested);
  CHECK(tested->status == 400);
  CHECK(tested->body.find("internal-page-text") == std::string::npos);
  CHECK(tested->body.find("HTTP 403") != std::string::npos);
  CHECK(s.daemon->log().find("internal-page-text") == std::string::npos);
}

TEST_CASE("REST: another tenant's number is refused without naming it") {
  Setup s;
  auto r = s.request(
      "POST", "/api/whatsapp/config", s.acme_token,
      json{{"phone_number_id", fixtures::globex.phone_number_id}, {"test", false}}.dump());
  auto j = body_of(r);
  CHECK(r->status == 409);
  CHECK(r->body.find("globex") == std::string::npos);
  CHECK(j["error"]["message"].get<std::string>().find("another tenant") != std::string::npos);
  // The admin's CLI still says which tenant has it.
  auto cli = s.w({"config", "set", "--tenant", "acme", "--phone-number-id",
                  fixtures::globex.phone_number_id, "--no-test"});
  CHECK(cli.exit_code != 0);
  CHECK(cli.err.find("globex") != std::string::npos);
}

TEST_CASE("REST: POSTs that need no body work without one, and chunked bodies stay refused") {
  Setup s;
  s.inbound("wamid.N1", "first");
  s.inbound("wamid.N2", "second", false, "15557654321");
  auto raw = [&](const std::string& target, const std::string& extra) {
    return servetest::raw_http(
        s.daemon->port(), fmt::format("POST {} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n"
                                      "{}\r\n",
                                      target, s.acme_token, extra));
  };
  auto read = raw("/api/whatsapp/messages/wamid.N1/read", "");
  INFO(read);
  CHECK(servetest::status_of(read) == 200);
  CHECK(read.find(R"("marked":1)") != std::string::npos);
  auto all = raw("/api/whatsapp/read-all", "Content-Length: 0\r\n");
  CHECK(servetest::status_of(all) == 200);
  CHECK(all.find(R"("marked":1)") != std::string::npos);
  // A body is still required where one is needed.
  CHECK(servetest::status_of(raw("/api/whatsapp/send", "")) == 400);
  CHECK(servetest::status_of(raw("/api/whatsapp/read-all",
                                 "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n")) == 411);
}

TEST_CASE("REST: messages and unread rows show when the customer-service window closes") {
  Setup s;
  const long now = static_cast<long>(std::time(nullptr));
  s.inbound("wamid.FRESH", "just now", false, "15551234567", now - 60);
  s.inbound("wamid.STALE", "two days ago", false, "15557654321", now - 2 * 86400);
  const std::string closes = wabactl::iso_from_unix(now - 60 + 86400);
  auto page = body_of(s.request("GET", "/api/whatsapp/messages", s.acme_token));
  REQUIRE(page["messages"].size() == 2);
  for (const auto& m : page["messages"]) {
    CAPTURE(m["message_id"]);
    if (m["message_id"] == "wamid.FRESH") {
      CHECK(m["window_expires_at"] == closes);
    } else {
      CHECK(m["window_expires_at"].is_null());
    }
  }
  auto unread = body_of(s.request("GET", "/api/whatsapp/unread", s.acme_token));
  REQUIRE(unread["conversations"].size() == 2);
  CHECK(unread["conversations"][0]["phone_number"] == "15551234567");
  CHECK(unread["conversations"][0]["window_expires_at"] == closes);
  CHECK(unread["conversations"][1]["window_expires_at"].is_null());
  auto cli = s.w({"unread", "--tenant", "acme", "--by-contact", "--json"});
  REQUIRE(cli.exit_code == 0);
  CHECK(nlohmann::json::parse(cli.out.substr(0, cli.out.find('\n')))["window_expires_at"] ==
        closes);
}

TEST_CASE("REST: messages?q= searches the token's tenant, since and until bound it") {
  Setup s;
  s.inbound("wamid.Q1", "Un café au lait", false, "15551234567", 1764000001);
  s.inbound("wamid.Q2", "refund please", false, "15551234567", 1764000002);
  s.inbound("wamid.Q3", "another Refund", false, "15557654321", 1764000003);
  s.inbound("wamid.QG", "globex refund cafe", true, "15551234567", 1764000004);
  auto ids = [&](const std::string& query) {
    auto r = s.request("GET", "/api/whatsapp/messages?" + query, s.acme_token);
    auto j = body_of(r);
    REQUIRE(r->status == 200);
    std::vector<std::string> out;
    for (const auto& m : j["messages"]) out.push_back(m["message_id"]);
    return out;
  };
  CHECK(ids("q=CAFE") == std::vector<std::string>{"wamid.Q1"});
  CHECK(ids("q=refund") == std::vector<std::string>{"wamid.Q2", "wamid.Q3"});
  CHECK(ids("q=ref%2A") == std::vector<std::string>{"wamid.Q2", "wamid.Q3"});
  CHECK(ids("q=refund&phone_number=%2B15557654321") == std::vector<std::string>{"wamid.Q3"});
  CHECK(ids("q=refund&limit=1") == std::vector<std::string>{"wamid.Q3"});
  CHECK(ids("q=globex").empty());
  CHECK(ids("since=" + wabactl::iso_from_unix(1764000002) + "&until=" +
            wabactl::iso_from_unix(1764000002)) == std::vector<std::string>{"wamid.Q2"});
  CHECK(ids("q=refund&until=2025-11-24T16:00:02Z").size() == 1);
  CHECK(ids("q=refund&since=1h").empty());

  for (const std::string& bad :
       std::vector<std::string>{"q=", "q=%22", "q=%2A", "q=%28%20%2D%20%29%3A", "since=nope",
                                "until=2026-02-30", "since=", "since=2026-01-02&until=2026-01-01",
                                "q=" + std::string(2000, 'a'), "q=caf%C3"}) {
    CAPTURE(bad);
    auto r = s.request("GET", "/api/whatsapp/messages?" + bad, s.acme_token);
    auto j = body_of(r);
    CHECK(r->status == 400);
    CHECK(j["error"]["code"] == "bad_request");
  }
  CHECK(s.request("GET", "/api/whatsapp/messages?q=refund", "")->status == 401);
}
