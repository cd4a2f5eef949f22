// The check before sending (CONTRACT.md §8): a template send is refused locally when Meta
// would refuse it, over the shapes Meta's catalogue has; a free-form send to a closed window
// likewise; each refusal says what the template expects.
#include "support/ingest_store.hpp"
#include "support/window.hpp"
#include "wabactl/error.hpp"
#include "wabactl/send_request.hpp"
#include "wabactl/template_check.hpp"
#include "wabactl/templates.hpp"
#include "wabactl/util.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace wabactl;
using nlohmann::json;

namespace {

Template make(const std::string& name, json components, const std::string& format = "POSITIONAL",
              const std::string& status = "APPROVED") {
  Template t;
  t.name = name;
  t.language = "en_US";
  t.category = "UTILITY";
  t.status = status;
  t.parameter_format = format;
  t.components = std::move(components);
  return t;
}

// Meta's shapes, as the listing gives them.
const json invoice = json::parse(R"([
  {"type": "HEADER", "format": "DOCUMENT", "example": {"header_handle": ["4::aW..."]}},
  {"type": "BODY", "text": "Hi {{1}}, your invoice for {{2}} is ready.",
   "example": {"body_text": [["Jane", "$120.00"]]}},
  {"type": "FOOTER", "text": "Acme Ltd"},
  {"type": "BUTTONS", "buttons": [
    {"type": "URL", "text": "Pay", "url": "https://pay.example.com/{{1}}",
     "example": ["https://pay.example.com/inv-7"]},
    {"type": "QUICK_REPLY", "text": "Stop reminders"}]}])");

const json named = json::parse(R"([
  {"type": "HEADER", "format": "TEXT", "text": "Order {{order_id}}",
   "example": {"header_text_named_params": [{"param_name": "order_id", "example": "A-17"}]}},
  {"type": "BODY", "text": "Hello {{first_name}}, {{first_name}} your order ships {{day}}.",
   "example": {"body_text_named_params": [{"param_name": "first_name", "example": "Jane"},
                                          {"param_name": "day", "example": "Monday"}]}}])");

const json coupon = json::parse(R"([
  {"type": "BODY", "text": "Use the code below."},
  {"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "SAVE10"},
                                  {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+1555"}]},
  {"type": "CAROUSEL", "cards": []}])");

const json fixed_header = json::parse(R"([
  {"type": "HEADER", "format": "TEXT", "text": "Reminder"},
  {"type": "BODY", "text": "Your appointment is tomorrow."}])");

struct Case {
  const char* what;
  Template t;
  std::vector<std::string> args;     ///< option=value pairs for TextFields
  std::vector<std::string> problems; ///< substrings, one per expected problem; none: passes
};

Content content_of(const std::vector<std::string>& args, TextFields& f) {
  f.set("to", "+15551234567");
  std::vector<std::string> body, buttons;
  for (const auto& a : args) {
    auto eq = a.find('=');
    std::string k = a.substr(0, eq), v = a.substr(eq + 1);
    if (k == "body") {
      body.push_back(v);
    } else if (k == "button") {
      buttons.push_back(v);
    } else {
      f.set(k, v);
    }
  }
  if (!body.empty()) f.set_list("body_params", body);
  if (!buttons.empty()) f.set_list("button_params", buttons);
  return decode_send_request("acme", f).content;
}

} // namespace

TEST_CASE("template check: table of Meta's shapes, what passes and what is said") {
  const std::string long_text(1100, 'x');
  std::vector<Case> cases = {
      {"document header, 2 body params, url button",
       make("invoice_ready", invoice),
       {"template=invoice_ready", "lang=en_US", "header_document=https://x.example/i.pdf",
        "body=Jane", "body=$120", "button=0:inv-7"},
       {}},
      {"one body param missing",
       make("invoice_ready", invoice),
       {"template=invoice_ready", "lang=en_US", "header_document=https://x.example/i.pdf",
        "body=Jane", "button=0:inv-7"},
       {"takes 2 body parameters: {{1}} Jane, {{2}} $120.00; got 1"}},
      {"no document header, an image instead",
       make("invoice_ready", invoice),
       {"template=invoice_ready", "lang=en_US", "header_image=https://x.example/i.png", "body=Jane",
        "body=$120", "button=0:inv-7"},
       {"has a DOCUMENT header: give --header-document instead of --header-image"}},
      {"url button without its variable",
       make("invoice_ready", invoice),
       {"template=invoice_ready", "lang=en_US", "header_document=https://x.example/i.pdf",
        "body=Jane", "body=$120"},
       {"URL button 0 ('Pay') that takes a parameter"}},
      {"a payload for the quick reply is fine",
       make("invoice_ready", invoice),
       {"template=invoice_ready", "lang=en_US", "header_document=https://x.example/i.pdf",
        "body=Jane", "body=$120", "button=0:inv-7", "button=1:STOP"},
       {}},
      {"a body parameter too long once filled in",
       make("invoice_ready", invoice),
       {"template=invoice_ready", "lang=en_US", "header_document=https://x.example/i.pdf",
        "body=Jane", "body=" + long_text.substr(0, 1000), "button=0:inv-7"},
       {"at most 1024 characters"}},
      {"named parameters by name",
       make("order_update", named, "NAMED"),
       {"template=order_update", "lang=en_US", "header_text=A-17", "body=day=Monday",
        "body=first_name=Jane"},
       {}},
      {"named parameters missing one and naming a stranger",
       make("order_update", named, "NAMED"),
       {"template=order_update", "lang=en_US", "header_text=A-17", "body=first_name=Jane",
        "body=dya=Monday"},
       {"missing day; not its names: dya"}},
      {"a text header parameter missing",
       make("order_update", named, "NAMED"),
       {"template=order_update", "lang=en_US", "body=day=Monday", "body=first_name=Jane"},
       {"takes a TEXT header parameter ({{order_id}} A-17): give --header-text"}},
      {"a fixed text header takes none",
       make("reminder", fixed_header),
       {"template=reminder", "lang=en_US", "header_text=Hi"},
       {"has a fixed TEXT header ('Reminder'): drop --header-text"}},
      {"no parameters where none are taken",
       make("reminder", fixed_header),
       {"template=reminder", "lang=en_US", "body=x"},
       {"takes no body parameters; got 1"}},
      {"a coupon code, an unknown component left to Meta",
       make("promo", coupon),
       {"template=promo", "lang=en_US", "button=0:SAVE10"},
       {}},
      {"a coupon code too long and a parameter for a phone button",
       make("promo", coupon),
       {"template=promo", "lang=en_US", "button=0:SAVE10SAVE10SAVE10", "button=1:x"},
       {"at most 15 characters", "PHONE_NUMBER button 1 ('Call') that takes no parameter"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    TextFields f(TextFields::Style::option);
    Content content = content_of(c.args, f);
    auto problems = template_problems(template_model(c.t), content, f);
    CHECK(problems.size() == c.problems.size());
    for (std::size_t i = 0; i < c.problems.size() && i < problems.size(); ++i) {
      CAPTURE(problems[i]);
      CHECK(problems[i].find(c.problems[i]) != std::string::npos);
    }
  }
}

TEST_CASE("template check: named parameters and button kinds reach Meta's request") {
  testsupport::TempStore store{"acme"};
  replace_templates(
      store, "acme",
      {make("order_update", named, "NAMED"), make("promo", coupon), make("invoice_ready", invoice)},
      now_iso());
  SendCheck check(store, "acme");
  TextFields f(TextFields::Style::option);
  auto request = decode_send_request("acme", [&]() -> TextFields& {
    content_of({"template=order_update", "lang=en_US", "header_text=A-17", "body=day=Monday",
                "body=first_name=Jane"},
               f);
    return f;
  }());
  PreparedSend p = prepare_send(request);
  CHECK_FALSE(check.check(p, f));
  const json& comps = p.body["template"]["components"];
  REQUIRE(comps.size() == 2);
  CHECK(comps[0]["parameters"][0] ==
        json({{"type", "text"}, {"text", "A-17"}, {"parameter_name", "order_id"}}));
  // In the template's order, whatever the order given.
  CHECK(comps[1]["parameters"][0]["parameter_name"] == "first_name");
  CHECK(comps[1]["parameters"][0]["text"] == "Jane");
  CHECK(comps[1]["parameters"][1]["parameter_name"] == "day");

  TextFields g(TextFields::Style::option);
  p = prepare_send(decode_send_request("acme", [&]() -> TextFields& {
    content_of({"template=promo", "lang=en_US", "button=0:SAVE10"}, g);
    return g;
  }()));
  CHECK_FALSE(check.check(p, g));
  const json& button = p.body["template"]["components"][0];
  CHECK(button["sub_type"] == "copy_code");
  CHECK(button["parameters"][0] == json({{"type", "coupon_code"}, {"coupon_code", "SAVE10"}}));

  TextFields h(TextFields::Style::option);
  p = prepare_send(decode_send_request("acme", [&]() -> TextFields& {
    content_of({"template=invoice_ready", "lang=en_US", "header_document=https://x.example/i.pdf",
                "body=Jane", "body=$1", "button=0:inv-7", "button=1:STOP"},
               h);
    return h;
  }()));
  CHECK_FALSE(check.check(p, h));
  const json& quick = p.body["template"]["components"][3];
  CHECK(quick["sub_type"] == "quick_reply");
  CHECK(quick["parameters"][0] == json({{"type", "payload"}, {"payload", "STOP"}}));
}

TEST_CASE("template check: catalogue, status, never synced and --no-template-check") {
  testsupport::TempStore store{"acme", "beta"};
  auto refusal = [&](const std::string& tenant, const std::vector<std::string>& args) {
    TextFields f(TextFields::Style::option);
    PreparedSend p = prepare_send(decode_send_request(tenant, [&]() -> TextFields& {
      content_of(args, f);
      return f;
    }()));
    SendCheck check(store, tenant);
    try {
      auto warning = check.check(p, f);
      return std::string(warning ? "warning: " + *warning : "ok");
    } catch (const Refusal& r) {
      CHECK(r.code() == Exit::rejected);
      return r.reason() + ": " + r.what() + " | " + r.hint();
    }
  };
  const std::vector<std::string> reminder = {"template=reminder", "lang=en_US"};
  // Never synced: sent unchecked, with a warning naming the fix.
  auto never = refusal("acme", reminder);
  CHECK(never.find("warning: tenant 'acme' has never synced its templates") == 0);
  CHECK(never.find("wabactl template sync --tenant acme") != std::string::npos);

  replace_templates(store, "acme",
                    {make("reminder", fixed_header),
                     make("paused_one", fixed_header, "POSITIONAL", "PAUSED"),
                     [] {
                       auto t = make("reminder", fixed_header);
                       t.language = "de";
                       return t;
                     }()},
                    now_iso());
  CHECK(refusal("acme", reminder) == "ok");
  auto missing = refusal("acme", {"template=reminder", "lang=fr"});
  CHECK(missing.find("template_not_sendable: template reminder (fr) is not in tenant 'acme''s "
                     "catalogue") == 0);
  CHECK(missing.find("it exists in de, en_US") != std::string::npos);
  auto unknown = refusal("acme", {"template=remindr", "lang=en_US"});
  CHECK(unknown.find("wabactl template list --tenant acme") != std::string::npos);
  auto paused = refusal("acme", {"template=paused_one", "lang=en_US"});
  CHECK(paused.find("template_not_sendable: template paused_one (en_US) is PAUSED, not APPROVED") ==
        0);
  CHECK(refusal("acme", {"template=paused_one", "lang=en_US", "no_template_check=true"}) == "ok");
  // beta's catalogue is its own: never synced, so acme's templates are not beta's.
  CHECK(refusal("beta", {"template=paused_one", "lang=en_US"}).find("warning:") == 0);
}

TEST_CASE("window check: free-form sends to a closed window are refused, templates never") {
  testsupport::IngestStore s;
  auto check = [&](const std::vector<std::string>& args) {
    TextFields f(TextFields::Style::option);
    f.set("to", "+16505550001");
    for (const auto& a : args) {
      auto eq = a.find('=');
      f.set(a.substr(0, eq), a.substr(eq + 1));
    }
    PreparedSend p = prepare_send(decode_send_request("acme", f));
    try {
      SendCheck(s.store, "acme").check(p, f);
      return std::string("ok");
    } catch (const Refusal& r) {
      return r.reason() + " | " + r.hint();
    }
  };
  auto never = check({"text=hi"});
  CHECK(never.find("window_closed | send an approved template ('wabactl template list") == 0);
  CHECK(never.find("--outside-window") != std::string::npos);
  CHECK(check({"text=hi", "outside_window=true"}) == "ok");
  CHECK(check({"template=any", "lang=en_US"}) == "ok");
  CHECK(check({"image=https://x.example/a.png"}).find("window_closed") == 0);

  using std::chrono::hours;
  auto now = std::chrono::system_clock::now();
  s.ingest(testsupport::customer_text_webhook(fixtures::acme, "16505550001", now - hours(25)));
  CHECK(check({"text=hi"}).find("window_closed") == 0);
  s.ingest(testsupport::customer_text_webhook(fixtures::acme, "16505550001", now - hours(23)));
  CHECK(check({"text=hi"}) == "ok");
  // Another tenant's customer of that number opens nothing for acme.
  s.ingest(testsupport::customer_text_webhook(fixtures::beta, "16505550002", now));
  TextFields f(TextFields::Style::option);
  f.set("to", "+16505550002");
  f.set("text", "hi");
  PreparedSend p = prepare_send(decode_send_request("acme", f));
  CHECK_THROWS_AS(SendCheck(s.store, "acme").check(p, f), Refusal);
}
