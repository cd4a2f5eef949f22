// Templates and the window (CONTRACT.md §8) as users meet them: the real binary against a
// fake Graph API that lists a catalogue in pages, as Meta does.
#include "integration/test_cli_helpers.hpp"
#include "support/window.hpp"

#include <fstream>
#include <sstream>

using namespace clitest;
using nlohmann::json;
using testsupport::Recorded;
using testsupport::Reply;

namespace {

const std::string waba = "102290129340398";

json catalogue() {
  return json::parse(R"([
    {"id": "594425479261596", "name": "invoice_ready", "language": "en_US", "status": "APPROVED",
     "category": "UTILITY", "parameter_format": "POSITIONAL", "quality_score": {"score": "GREEN"},
     "components": [
       {"type": "HEADER", "format": "DOCUMENT"},
       {"type": "BODY", "text": "Hi {{1}}, your invoice of {{2}} is ready.",
        "example": {"body_text": [["Jane", "$120.00"]]}},
       {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Pay",
         "url": "https://pay.example.com/{{1}}", "example": ["https://pay.example.com/inv-7"]}]}]},
    {"id": "594425479261597", "name": "invoice_ready", "language": "de", "status": "APPROVED",
     "category": "UTILITY", "components": [{"type": "BODY", "text": "Hallo {{1}}"}]},
    {"id": "594425479261598", "name": "winter_sale", "language": "en_US", "status": "PAUSED",
     "category": "MARKETING", "components": [{"type": "BODY", "text": "Sale!"}]},
    {"id": "594425479261599", "name": "order_shipped", "language": "en_US", "status": "APPROVED",
     "category": "UTILITY", "parameter_format": "NAMED",
     "components": [{"type": "BODY", "text": "{{first_name}}, order {{order_id}} ships today.",
       "example": {"body_text_named_params": [{"param_name": "first_name", "example": "Jane"},
                                              {"param_name": "order_id", "example": "A-17"}]}},
       {"type": "CAROUSEL", "cards": []}]},
    {"id": "594425479261600", "name": "reminder", "language": "en_US", "status": "REJECTED",
     "category": "UTILITY", "components": [{"type": "BODY", "text": "Reminder"}]}
  ])");
}

struct TemplateEnv : Env {
  TemplateEnv() {
    check_ok(set_config({"--no-test", "--business-account-id", waba}));
    graph.set_templates(waba, catalogue(), 2);
  }
  RunResult run(std::vector<std::string> args) const { return w(args); }
  std::size_t sends() const { return graph.count("POST", "/messages"); }
};

// The words of a shell line as `sh` splits them (single quotes only, as example_send writes).
std::vector<std::string> shell_words(const std::string& line) {
  std::vector<std::string> out;
  std::string word;
  bool quoted = false, any = false;
  for (char c : line) {
    if (c == '\'') {
      quoted = !quoted;
      any = true;
    } else if (c == ' ' && !quoted) {
      if (any) out.push_back(word);
      word.clear();
      any = false;
    } else {
      word += c;
      any = true;
    }
  }
  if (any) out.push_back(word);
  return out;
}

} // namespace

TEST_CASE("template sync: every page, by cursor on Meta's own address, then list and show") {
  TemplateEnv e;
  auto r = e.run({"template", "list", "--tenant", "acme"});
  check_ok(r);
  CHECK(r.out.empty());
  CHECK(r.err.find("never synced its templates") != std::string::npos);

  r = e.run({"--json", "template", "sync", "--tenant", "acme"});
  check_ok(r);
  CHECK(json::parse(r.out)["count"] == 5);
  auto listing = e.graph.requests();
  std::vector<Recorded> pages;
  for (const auto& q : listing) {
    if (q.path.find("/message_templates") != std::string::npos) pages.push_back(q);
  }
  REQUIRE(pages.size() == 3);
  CHECK(pages[0].path == "/v25.0/" + waba + "/message_templates");
  CHECK(pages[0].authorization == "Bearer " + token);
  CHECK(pages[0].query.find("fields=") != std::string::npos);
  CHECK(pages[0].query.find("after=") == std::string::npos);
  CHECK(pages[1].query.find("after=QVFI2") != std::string::npos);
  CHECK(pages[2].query.find("after=QVFI4") != std::string::npos);

  r = e.run({"--json", "template", "list", "--tenant", "acme"});
  check_ok(r);
  auto list = json::parse(r.out);
  REQUIRE(list.size() == 5);
  CHECK(list[0]["name"] == "invoice_ready");
  CHECK(list[0]["language"] == "de");
  CHECK(list[1]["language"] == "en_US");
  CHECK(list[1]["parameters"] == json::array({"1", "2"}));
  CHECK(list[1]["quality"] == "GREEN");
  CHECK(list[2]["parameters"] == json::array({"first_name", "order_id"}));

  r = e.run({"template", "list", "--tenant", "acme", "--status", "approved"});
  check_ok(r);
  CHECK(r.out.find("winter_sale") == std::string::npos);
  CHECK(r.out.find("order_shipped") != std::string::npos);
  CHECK(r.out.find("{{1}} {{2}}") != std::string::npos);
  check_error(e.run({"template", "list", "--tenant", "acme", "--status", "SHINY"}), 2);
  check_error(e.run({"template", "list", "--tenant", "nobody"}), 3);

  r = e.run({"template", "show", "--tenant", "acme", "invoice_ready", "--lang", "en_US"});
  check_ok(r);
  CHECK(r.out.find("header: DOCUMENT") != std::string::npos);
  CHECK(r.out.find("{{2}}  e.g. $120.00") != std::string::npos);
  CHECK(r.out.find("button 0: URL \"Pay\" https://pay.example.com/{{1}} (takes a text)") !=
        std::string::npos);
  check_error(e.run({"template", "show", "--tenant", "acme", "invoice_ready", "--lang", "fr"}), 3);

  // The example line of each sendable template passes the check and is sent.
  for (const auto& [name, lang] : std::vector<std::pair<std::string, std::string>>{
           {"invoice_ready", "en_US"}, {"order_shipped", "en_US"}, {"invoice_ready", "de"}}) {
    CAPTURE(name);
    r = e.run({"--json", "template", "show", "--tenant", "acme", name, "--lang", lang});
    check_ok(r);
    auto shown = json::parse(r.out);
    auto words = shell_words(shown["example"].get<std::string>());
    REQUIRE(words.size() > 2);
    CHECK(words[0] == "wabactl");
    words.erase(words.begin());
    std::size_t before = e.sends();
    auto sent = e.run(words);
    check_ok(sent);
    CHECK(sent.err.empty());
    CHECK(e.sends() == before + 1);
  }
  // The named template reached Meta with its parameters' names.
  auto last = e.graph.requests();
  json body;
  for (const auto& q : last) {
    if (q.path.find("/messages") != std::string::npos &&
        q.body.find("order_shipped") != std::string::npos) {
      body = json::parse(q.body);
    }
  }
  REQUIRE(body.is_object());
  CHECK(body["template"]["components"][0]["parameters"][0]["parameter_name"] == "first_name");
  CHECK(body["template"]["components"][0]["parameters"][1]["text"] == "A-17");
}

TEST_CASE("template sync: a failing or malformed page keeps the stored catalogue") {
  TemplateEnv e;
  check_ok(e.run({"template", "sync", "--tenant", "acme"}));
  auto before = e.run({"--json", "template", "list", "--tenant", "acme"}).out;

  struct Bad {
    const char* what;
    Reply reply;
    int exit;
  };
  std::vector<Bad> bad = {
      {"not JSON", Reply{200, "<html>"}, 75},
      {"no data", Reply{200, R"({"paging":{}})"}, 75},
      {"a template without a name",
       Reply{200, R"({"data":[{"language":"en_US","status":"APPROVED"}]})"}, 75},
      {"components not a list",
       Reply{200,
             R"({"data":[{"name":"x","language":"en_US","status":"APPROVED","components":7}]})"},
       75},
      {"a next page elsewhere",
       Reply{200, R"({"data":[],"paging":{"next":"https://attacker.example/v25.0/x"}})"}, 75},
      {"token rejected", Reply{401, FakeGraph::error_body(190, "Session has expired", 463)}, 4},
      {"server error", Reply{500, FakeGraph::error_body(2, "Service temporarily unavailable")}, 75},
  };
  for (const auto& b : bad) {
    CAPTURE(b.what);
    e.graph.set_handler([&](const Recorded& r) -> std::optional<Reply> {
      // The second page fails: the first one's templates must not replace anything.
      if (r.path.find("/message_templates") != std::string::npos &&
          r.query.find("after=") != std::string::npos) {
        return b.reply;
      }
      return std::nullopt;
    });
    auto r = e.run({"template", "sync", "--tenant", "acme"});
    check_error(r, b.exit);
    CHECK(r.err.find(token) == std::string::npos);
    CHECK(e.run({"--json", "template", "list", "--tenant", "acme"}).out == before);
  }
}

TEST_CASE("send: templates are checked against the catalogue before Meta is called") {
  TemplateEnv e;
  // Never synced: sent, with a warning naming the fix.
  auto r = e.run({"send", "--tenant", "acme", "--to", "+15551234567", "--template", "anything",
                  "--lang", "en_US"});
  check_ok(r);
  CHECK(r.err.find("wabactl: warning: tenant 'acme' has never synced its templates") == 0);
  CHECK(e.sends() == 1);

  check_ok(e.run({"template", "sync", "--tenant", "acme"}));
  struct Refused {
    std::vector<std::string> args;
    std::string says;
  };
  std::vector<Refused> refused = {
      {{"--template", "invoice_ready", "--lang", "en_US", "--header-document",
        "https://x.example/i.pdf", "--body-param", "Jane", "--button-param", "0:inv-7"},
       "invoice_ready (en_US) takes 2 body parameters: {{1}} Jane, {{2}} $120.00; got 1"},
      {{"--template", "invoice_ready", "--lang", "en_US", "--body-param", "Jane", "--body-param",
        "$1", "--button-param", "0:inv-7"},
       "has a DOCUMENT header: give --header-document"},
      {{"--template", "invoice_ready", "--lang", "fr"}, "it exists in de, en_US: give --lang de"},
      {{"--template", "winter_sale", "--lang", "en_US"}, "is PAUSED, not APPROVED"},
      {{"--template", "reminder", "--lang", "en_US"}, "is REJECTED, not APPROVED"},
      {{"--template", "order_shipped", "--lang", "en_US", "--body-param", "Jane", "--body-param",
        "A-17"},
       "takes 2 body parameters by name, each as --body-param NAME=VALUE"},
  };
  for (const auto& c : refused) {
    CAPTURE(c.says);
    std::vector<std::string> args = {"send", "--tenant", "acme", "--to", "+15551234567"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto res = e.run(args);
    check_error(res, 5);
    CHECK(res.err.find(c.says) != std::string::npos);
  }
  CHECK(e.sends() == 1);
  // --no-template-check sends what the check would refuse; Meta decides.
  check_ok(e.run({"send", "--tenant", "acme", "--to", "+15551234567", "--template", "winter_sale",
                  "--lang", "en_US", "--no-template-check"}));
  CHECK(e.sends() == 2);
}

TEST_CASE("send: free-form messages need an open window, by Meta's timestamp") {
  TemplateEnv e;
  using std::chrono::hours;
  auto now = std::chrono::system_clock::now();
  auto r = e.run({"send", "--tenant", "acme", "--to", "+15557770001", "--text", "hi"});
  check_error(r, 5);
  CHECK(r.err.find("window with 15557770001 is closed") != std::string::npos);
  CHECK(r.err.find("wabactl template list --tenant acme") != std::string::npos);
  CHECK(r.err.find("--outside-window") != std::string::npos);
  testsupport::customer_wrote(e.w.db, fixtures::acme, "15557770001", now - hours(25));
  check_error(e.run({"send", "--tenant", "acme", "--to", "+15557770001", "--text", "hi"}), 5);
  CHECK(e.sends() == 0);
  check_ok(e.run(
      {"send", "--tenant", "acme", "--to", "+15557770001", "--text", "hi", "--outside-window"}));
  CHECK(e.sends() == 1);
  // Our own send did not open it.
  check_error(e.run({"send", "--tenant", "acme", "--to", "+15557770001", "--image",
                     "https://x.example/a.png"}),
              5);
  testsupport::customer_wrote(e.w.db, fixtures::acme, "15557770001", now - hours(23));
  auto sent = e.run({"--json", "send", "--tenant", "acme", "--to", "+15557770001", "--text", "hi"});
  check_ok(sent);
  auto m = json::parse(sent.out);
  CHECK(m["window_expires_at"].is_string());
  CHECK(e.sends() == 2);
  // A template goes whatever the window.
  check_ok(e.run(
      {"send", "--tenant", "acme", "--to", "+15557770002", "--template", "x", "--lang", "en_US"}));
}

TEST_CASE("send --batch: rows are checked one by one, --dry-run reports every problem") {
  TemplateEnv e;
  check_ok(e.run({"template", "sync", "--tenant", "acme"}));
  testsupport::customer_wrote(e.w.db, fixtures::acme, "15557770003");
  auto file = e.dir / "rows.jsonl";
  std::ofstream(file)
      << R"({"to":"+15557770003","text":"window open"})" << '\n'
      << R"({"to":"+15557770004","text":"window closed"})" << '\n'
      << R"({"to":"+15557770004","text":"anyway","outside_window":true})" << '\n'
      << R"({"to":"+15557770005","template":"invoice_ready","lang":"de","body_params":["Jo"]})"
      << '\n'
      << R"({"to":"+15557770005","template":"invoice_ready","lang":"de"})" << '\n'
      << R"({"to":"+15557770005","template":"winter_sale","lang":"en_US"})" << '\n'
      << R"({"to":"+15557770005","template":"winter_sale","lang":"en_US","no_template_check":true})"
      << '\n';
  auto dry = e.run({"send", "--tenant", "acme", "--batch", file.string(), "--dry-run"});
  CHECK(dry.exit_code == 6);
  auto lines = json_lines(dry.out);
  REQUIRE(lines.size() == 7);
  std::vector<bool> ok;
  for (const auto& l : lines) ok.push_back(l["ok"].get<bool>());
  CHECK(ok == std::vector<bool>{true, false, true, true, false, false, true});
  CHECK(lines[1]["error"]["title"] == "window_closed");
  CHECK(lines[1]["error"]["details"].get<std::string>().find("line 2:") == 0);
  CHECK(lines[4]["error"]["title"] == "template_not_sendable");
  CHECK(lines[4]["error"]["details"].get<std::string>().find(
            "takes 1 body parameter: {{1}}; got 0") != std::string::npos);
  CHECK(lines[5]["error"]["details"].get<std::string>().find("PAUSED") != std::string::npos);
  CHECK(e.sends() == 0);

  auto run = e.run({"send", "--tenant", "acme", "--batch", file.string()});
  CHECK(run.exit_code == 6);
  lines = json_lines(run.out);
  REQUIRE(lines.size() == 7);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    CAPTURE(i);
    CHECK(lines[i]["ok"] == ok[i]);
  }
  CHECK(e.sends() == 4);
}
