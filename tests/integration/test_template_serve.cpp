// The daemon's side of templates and the window (CONTRACT.md §8): the catalogue synced at
// start, template webhooks applied at once with template.changed, the REST routes, and REST
// sends refused with 422 before Meta is called.
#include "integration/test_serve_support.hpp"
#include "support/fixtures.hpp"
#include "support/support.hpp"
#include "support/window.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/store.hpp"

#include <doctest/doctest.h>

#include <thread>

using nlohmann::json;

namespace {

const std::string waba = "102290129340398";

json catalogue() {
  return json::parse(R"([
    {"id": "594425479261596", "name": "invoice_ready", "language": "en_US", "status": "APPROVED",
     "category": "UTILITY", "components": [
       {"type": "BODY", "text": "Hi {{1}}, your invoice of {{2}} is ready."}]},
    {"id": "594425479261598", "name": "winter_sale", "language": "en_US", "status": "APPROVED",
     "category": "MARKETING", "components": [{"type": "BODY", "text": "Sale!"}]},
    {"id": "594425479261599", "name": "welcome", "language": "en_US", "status": "APPROVED",
     "category": "MARKETING", "components": [{"type": "BODY", "text": "Welcome"}]}
  ])");
}

struct Setup {
  testsupport::TempDir dir;
  testsupport::Wabactl w{dir};
  testsupport::FakeGraph graph;
  std::string acme_token;
  std::string globex_token;
  std::unique_ptr<servetest::Daemon> daemon;

  Setup() {
    graph.accept_token(fixtures::acme.access_token);
    graph.set_templates(waba, catalogue(), 2);
    REQUIRE(w({"key", "init"}).exit_code == 0);
    fixtures::add_tenant_config(w, dir, fixtures::acme, graph.url());
    fixtures::add_tenant_config(w, dir, fixtures::globex, graph.url());
    REQUIRE(w({"config", "set", "--tenant", "acme", "--phone-number-id",
               fixtures::acme.phone_number_id, "--business-account-id", waba, "--no-test"})
                .exit_code == 0);
    acme_token = token_for("acme");
    globex_token = token_for("globex");
    daemon = std::make_unique<servetest::Daemon>(w, dir);
  }
  std::string token_for(const std::string& tenant) {
    auto r = w({"token", "create", "--tenant", tenant});
    REQUIRE(r.exit_code == 0);
    return r.out.substr(0, r.out.find('\n'));
  }
  httplib::Result request(const std::string& method, const std::string& path,
                          const std::string& token, const std::string& body = {}) const {
    auto c = daemon->client();
    httplib::Headers h{{"Authorization", "Bearer " + token}};
    if (method == "GET") return c.Get(path, h);
    return c.Post(path, h, body, "application/json");
  }
  json templates(const std::string& token) const {
    auto r = request("GET", "/api/whatsapp/templates", token);
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return json::parse(r->body);
  }
  std::vector<json> template_events() const {
    wabactl::Store store(w.db);
    std::vector<json> out;
    for (const auto& e : wabactl::event_rows_after(store, std::string("acme"), 0, 1000)) {
      if (e.type == "template.changed") out.push_back(json::parse(e.data));
    }
    return out;
  }
  std::string status_of(const std::string& name) const {
    json listed = templates(acme_token);
    for (const auto& t : listed["templates"]) {
      if (t["name"] == name) return t["status"];
    }
    return "missing";
  }
};

} // namespace

TEST_CASE("serve: syncs the catalogue at start, REST lists it per tenant and syncs on demand") {
  Setup s;
  json listed;
  for (int i = 0; i < 200; ++i) {
    listed = s.templates(s.acme_token);
    if (listed["templates"].size() == 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  REQUIRE(listed["templates"].size() == 3);
  CHECK(listed["synced_at"].is_string());
  CHECK(listed["templates"][0]["name"] == "invoice_ready");
  CHECK(listed["templates"][0]["parameters"] == json::array({"1", "2"}));
  CHECK(s.graph.count("GET", "/message_templates") == 2);
  // globex names no business account: nothing synced, nothing of acme's shown.
  auto other = s.templates(s.globex_token);
  CHECK(other["templates"].empty());
  CHECK(other["synced_at"].is_null());
  auto filtered = s.request("GET", "/api/whatsapp/templates?status=paused", s.acme_token);
  CHECK(json::parse(filtered->body)["templates"].empty());

  auto synced = s.request("POST", "/api/whatsapp/templates/sync", s.acme_token);
  REQUIRE(synced);
  CHECK(synced->status == 200);
  CHECK(json::parse(synced->body)["count"] == 3);
  CHECK(s.graph.count("GET", "/message_templates") == 4);
  auto none = s.request("POST", "/api/whatsapp/templates/sync", s.globex_token);
  CHECK(none->status >= 400);
  CHECK(s.request("GET", "/api/whatsapp/templates", "wrong")->status == 401);
  // A second daemon on the same database does not sync again within the period.
  s.daemon.reset();
  s.daemon = std::make_unique<servetest::Daemon>(s.w, s.dir);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(s.graph.count("GET", "/message_templates") == 4);
}

TEST_CASE("serve: template status and quality webhooks apply at once, with template.changed") {
  Setup s;
  for (int i = 0; i < 200 && s.status_of("invoice_ready") != "APPROVED"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  REQUIRE_MESSAGE(s.status_of("invoice_ready") == "APPROVED", s.daemon->log());
  auto paused = fixtures::webhook("template_status_paused.json");
  auto r = s.daemon->post("/api/whatsapp/webhook", paused, fixtures::acme.app_secret);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(s.status_of("invoice_ready") == "PAUSED");
  auto events = s.template_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0]["template"]["name"] == "invoice_ready");
  CHECK(events[0]["template"]["status"] == "PAUSED");
  CHECK(events[0]["tenant_id"] == "acme");
  // Meta's retry changes nothing and adds no event.
  CHECK(s.daemon->post("/api/whatsapp/webhook", paused, fixtures::acme.app_secret)->status == 200);
  CHECK(s.template_events().size() == 1);

  // A paused template is refused before Meta is called.
  std::size_t sends = s.graph.count("POST", "/messages");
  auto refused = s.request(
      "POST", "/api/whatsapp/send", s.acme_token,
      R"({"phone_number":"+15551234567","template":{"name":"invoice_ready","language":"en_US","body_params":["a","b"]}})");
  CHECK(refused->status == 422);
  CHECK(json::parse(refused->body)["error"]["code"] == "template_not_sendable");

  auto quality =
      s.daemon->post("/api/whatsapp/webhook", fixtures::webhook("template_quality_update.json"),
                     fixtures::acme.app_secret);
  CHECK(quality->status == 200);
  CHECK(s.template_events().size() == 2);
  CHECK(s.template_events()[1]["template"]["quality"] == "YELLOW");

  // For a template never synced, or a business account no tenant names: stored, nothing else.
  auto unknown = json::parse(paused);
  unknown["entry"][0]["changes"][0]["value"]["message_template_id"] = 1;
  unknown["entry"][0]["changes"][0]["value"]["message_template_name"] = "never_seen";
  CHECK(
      s.daemon->post("/api/whatsapp/webhook", unknown.dump(), fixtures::acme.app_secret)->status ==
      200);
  auto elsewhere = json::parse(paused);
  elsewhere["entry"][0]["id"] = "999";
  elsewhere["entry"][0]["changes"][0]["value"]["message_template_name"] = "winter_sale";
  elsewhere["entry"][0]["changes"][0]["value"]["message_template_id"] = 594425479261598;
  CHECK(s.daemon->post("/api/whatsapp/webhook", elsewhere.dump(), fixtures::acme.app_secret)
            ->status == 200);
  // Signed by globex, whose config does not name the account: not acme's change to make.
  auto by_globex = json::parse(paused);
  by_globex["entry"][0]["changes"][0]["value"]["message_template_name"] = "welcome";
  by_globex["entry"][0]["changes"][0]["value"]["message_template_id"] = 594425479261599;
  CHECK(s.daemon->post("/api/whatsapp/webhook", by_globex.dump(), fixtures::globex.app_secret)
            ->status == 200);
  CHECK(s.template_events().size() == 2);
  CHECK(s.status_of("winter_sale") == "APPROVED");
  CHECK(s.status_of("welcome") == "APPROVED");
  CHECK(s.daemon->post("/api/whatsapp/webhook", paused, "not-the-secret")->status == 401);
  CHECK(s.graph.count("POST", "/messages") == sends);
}

TEST_CASE("serve: REST free-form sends need an open window: 422 window_closed, or outside_window") {
  Setup s;
  const std::string text = R"({"phone_number":"+15557770009","text":"hello"})";
  auto r = s.request("POST", "/api/whatsapp/send", s.acme_token, text);
  REQUIRE(r);
  CHECK(r->status == 422);
  auto err = json::parse(r->body)["error"];
  CHECK(err["code"] == "window_closed");
  CHECK(err["message"].get<std::string>().find("wabactl template list") != std::string::npos);
  CHECK(err["message"].get<std::string>().find("'outside_window'") != std::string::npos);
  CHECK(s.graph.count("POST", "/messages") == 0);
  auto anyway =
      s.request("POST", "/api/whatsapp/send", s.acme_token,
                R"({"phone_number":"+15557770009","text":"hello","outside_window":true})");
  CHECK(anyway->status == 200);
  CHECK(s.graph.count("POST", "/messages") == 1);
  auto hostile =
      s.request("POST", "/api/whatsapp/send", s.acme_token,
                R"({"phone_number":"+15557770009","text":"x","outside_window":"yes please"})");
  CHECK(hostile->status == 400);
  // The customer writes (through Meta's webhook): the window opens for free-form replies.
  auto body = testsupport::customer_text_webhook(fixtures::acme, "15557770009",
                                                 std::chrono::system_clock::now());
  CHECK(s.daemon->post("/api/whatsapp/webhook", body, fixtures::acme.app_secret)->status == 200);
  auto reply = s.request("POST", "/api/whatsapp/send", s.acme_token, text);
  CHECK(reply->status == 200);
  CHECK(json::parse(reply->body)["window_expires_at"].is_string());
  // Another tenant's customer of that number opened nothing for globex.
  auto other = s.request("POST", "/api/whatsapp/send", s.globex_token, text);
  CHECK(other->status == 422);
}
