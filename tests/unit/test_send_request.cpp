// The one request decoder: every content kind from every kind of field source (command-line
// options, CSV cells, JSON objects) and the errors each door's user sees.
#include "unit/test_send_support.hpp"

#include "wabactl/send_request.hpp"

#include <fmt/format.h>

#include <map>

using nlohmann::json;
using namespace wabactl;

namespace {

using Cells = std::map<std::string, std::string>;

// A request written once as field → text, then held by each text style and as JSON.
TextFields text_fields(const Cells& cells, TextFields::Style style) {
  TextFields f(style);
  for (const auto& [k, v] : cells) f.set(k, v);
  return f;
}

// The same request as a JSON object: texts as strings, except what JSON has types for.
json json_object(const Cells& cells) {
  json j = json::object();
  for (const auto& [k, v] : cells) {
    if (k == "body_params" || k == "button_params") {
      j[k] = json::parse(v);
    } else if (k == "preview_url") {
      j[k] = v == "true";
    } else {
      j[k] = v;
    }
  }
  return j;
}

struct KindCase {
  const char* what;
  Cells cells;
  ContentKind kind;
  std::function<void(const SendRequest&)> check;
};

std::vector<KindCase> kind_cases() {
  const std::string to = "+15551234567";
  return {
      {"text with a link preview",
       {{"to", to}, {"text", "hello"}, {"preview_url", "true"}},
       ContentKind::text,
       [](const SendRequest& r) {
         CHECK(r.content.text == "hello");
         CHECK(r.content.preview_url);
       }},
      {"template with a video header, body and button parameters",
       {{"to", to},
        {"template", "invoice_ready"},
        {"lang", "en_US"},
        {"header_video", "https://x.example/v.mp4"},
        {"body_params", R"(["Jane","12"])"},
        {"button_params", R"([{"index":1,"value":"INV-7"}])"}},
       ContentKind::templated,
       [](const SendRequest& r) {
         CHECK(r.content.template_name == "invoice_ready");
         CHECK(r.content.language == "en_US");
         CHECK(r.content.header == HeaderKind::video);
         CHECK(r.content.header_value == "https://x.example/v.mp4");
         CHECK(r.content.body_params == std::vector<std::string>{"Jane", "12"});
         REQUIRE(r.content.button_params.size() == 1);
         CHECK(r.content.button_params[0] == std::pair<int, std::string>{1, "INV-7"});
       }},
      {"template with a document header and its filename",
       {{"to", to},
        {"template", "t"},
        {"lang", "de"},
        {"header_document", "https://x.example/i.pdf"},
        {"filename", "I.pdf"}},
       ContentKind::templated,
       [](const SendRequest& r) {
         CHECK(r.content.header == HeaderKind::document);
         CHECK(r.content.filename == std::optional<std::string>("I.pdf"));
       }},
      {"image with a caption",
       {{"to", to}, {"image", "https://x.example/a.png"}, {"caption", "look"}},
       ContentKind::image,
       [](const SendRequest& r) {
         CHECK(r.content.media == "https://x.example/a.png");
         CHECK(r.content.caption == std::optional<std::string>("look"));
       }},
      {"video",
       {{"to", to}, {"video", "https://x.example/v.mp4"}},
       ContentKind::video,
       [](const SendRequest& r) { CHECK(r.content.media == "https://x.example/v.mp4"); }},
      {"audio",
       {{"to", to}, {"audio", "https://x.example/a.mp3"}},
       ContentKind::audio,
       [](const SendRequest& r) { CHECK(r.content.media == "https://x.example/a.mp3"); }},
      {"document with filename and caption",
       {{"to", to},
        {"document", "https://x.example/d.pdf"},
        {"filename", "D.pdf"},
        {"caption", "your invoice"}},
       ContentKind::document,
       [](const SendRequest& r) {
         CHECK(r.content.filename == std::optional<std::string>("D.pdf"));
         CHECK(r.content.caption == std::optional<std::string>("your invoice"));
       }},
      {"sticker",
       {{"to", to}, {"sticker", "https://x.example/s.webp"}},
       ContentKind::sticker,
       [](const SendRequest& r) { CHECK(r.content.media == "https://x.example/s.webp"); }},
      {"reaction to a message",
       {{"to", to}, {"reaction", "👍"}, {"reply_to", "wamid.X1"}},
       ContentKind::reaction,
       [](const SendRequest& r) {
         CHECK(r.content.emoji == "👍");
         CHECK(r.reply_to == std::optional<std::string>("wamid.X1"));
       }},
      {"location with name and address",
       {{"to", to}, {"location", "52.52, 13.405"}, {"name", "Office"}, {"address", "Main St 1"}},
       ContentKind::location,
       [](const SendRequest& r) {
         CHECK(r.content.latitude == doctest::Approx(52.52));
         CHECK(r.content.longitude == doctest::Approx(13.405));
         CHECK(r.content.location_name == std::optional<std::string>("Office"));
         CHECK(r.content.location_address == std::optional<std::string>("Main St 1"));
       }},
      {"text with every send option",
       {{"to", to},
        {"text", "x"},
        {"reply_to", "wamid.R"},
        {"contact_id", "crm-1"},
        {"idempotency_key", "k-1"},
        {"callback_data", "inv:1"}},
       ContentKind::text,
       [](const SendRequest& r) {
         CHECK(r.reply_to == std::optional<std::string>("wamid.R"));
         CHECK(r.contact_id == std::optional<std::string>("crm-1"));
         CHECK(r.idempotency_key == std::optional<std::string>("k-1"));
         CHECK(r.callback_data == std::optional<std::string>("inv:1"));
       }},
  };
}

// The usage error a decode throws (with its hint), or "" when it decodes.
std::string decode_error(const RequestFields& f) {
  try {
    decode_send_request("acme", f);
  } catch (const Error& e) {
    CHECK(e.code() == Exit::usage);
    return std::string(e.what()) + (e.hint().empty() ? "" : " | hint: " + e.hint());
  }
  return {};
}

} // namespace

TEST_CASE("request decoder: every content kind from options, CSV cells and JSON objects") {
  for (const auto& c : kind_cases()) {
    CAPTURE(c.what);
    for (auto style : {TextFields::Style::option, TextFields::Style::column}) {
      CAPTURE(static_cast<int>(style));
      SendRequest r = decode_send_request("acme", text_fields(c.cells, style));
      CHECK(r.tenant == "acme");
      CHECK(r.to == "+15551234567");
      CHECK(r.content.kind == c.kind);
      c.check(r);
      CHECK_NOTHROW(prepare_send(r));
    }
    json object = json_object(c.cells);
    SendRequest r = decode_send_request("acme", JsonFields(object));
    CHECK(r.content.kind == c.kind);
    c.check(r);
    CHECK_NOTHROW(prepare_send(r));
  }
}

TEST_CASE("request decoder: repeated options give lists, buttons as INDEX:VALUE") {
  TextFields f(TextFields::Style::option);
  f.set("to", "+15551234567");
  f.set("template", "t");
  f.set("lang", "en");
  f.set_list("body_params", {"a", "b"});
  f.set_list("button_params", {"0:x", "3:y:z"});
  SendRequest r = decode_send_request("acme", f);
  CHECK(r.content.body_params == std::vector<std::string>{"a", "b"});
  CHECK(r.content.button_params == std::vector<std::pair<int, std::string>>{{0, "x"}, {3, "y:z"}});

  // A location as numbers (JSON Lines, REST) is the same as LAT,LON.
  json j = {{"to", "+15551234567"}, {"latitude", -33.9}, {"longitude", 18.4}, {"name", "Cape"}};
  SendRequest loc = decode_send_request("acme", JsonFields(j));
  CHECK(loc.content.kind == ContentKind::location);
  CHECK(loc.content.latitude == doctest::Approx(-33.9));
  CHECK(loc.content.longitude == doctest::Approx(18.4));
}

TEST_CASE("request decoder: bad input is a usage error naming the field as the door spells it") {
  using Style = TextFields::Style;
  struct Case {
    Cells cells;
    std::string option; ///< in the error for command-line options
    std::string column; ///< in the error for CSV cells and JSON keys
  };
  const std::string to = "+15551234567";
  std::vector<Case> cases = {
      {{},
       "nothing to send: give one of --text, --template, --image, --video, --audio, "
       "--document, --sticker, --reaction, --location | hint: run 'wabactl send --help'",
       "nothing to send: give one of 'text', 'template'"},
      {{{"to", to}, {"poll", "x"}}, "nothing to send", "nothing to send"}, // an unknown kind
      {{{"to", to}, {"text", "a"}, {"image", "https://x.example/a.png"}},
       "give exactly one of --text, --template",
       "give exactly one of 'text', 'template'"},
      {{{"text", "a"}}, "--to is required | hint: e.g. --to +15551234567", "'to' is required"},
      {{{"to", ""}, {"text", "a"}}, "--to is required", "'to' is required"},
      {{{"to", to}, {"text", "a"}, {"lang", "en"}},
       "--lang goes with --template",
       "'lang' goes with 'template'"},
      {{{"to", to}, {"image", "https://x.example/a.png"}, {"header_text", "h"}, {"lang", "en"}},
       "--lang and --header-text go with --template",
       "'lang' and 'header_text' go with"},
      {{{"to", to}, {"template", "t"}},
       "--template needs --lang | hint: e.g. --lang en_US",
       "'template' needs 'lang'"},
      {{{"to", to},
        {"template", "t"},
        {"lang", "en"},
        {"header_text", "a"},
        {"header_image", "https://x.example/a.png"}},
       "give at most one of --header-text, --header-image, --header-video, --header-document",
       "give at most one of 'header_text'"},
      {{{"to", to}, {"image", "https://x.example/a.png"}, {"preview_url", "true"}},
       "--preview-url goes with --text",
       "'preview_url' goes with 'text'"},
      {{{"to", to}, {"text", "a"}, {"name", "n"}},
       "--name and --address go with --location",
       "'name' and 'address' go with 'location'"},
      {{{"to", to}, {"location", "north"}},
       "--location takes LAT,LON (e.g. 52.52,13.405)",
       "'location' takes LAT,LON"},
      {{{"to", to}, {"location", "52.5,east"}},
       "--location: 'east' is not a number",
       "'location': 'east' is not a number"},
      {{{"to", to}, {"location", "1e999,0"}}, "is not a number", "is not a number"},
      {{{"to", to}, {"location", "1,2"}, {"latitude", "1"}}, "not both", "not both"},
      {{{"to", to}, {"latitude", "1"}},
       "--location needs --latitude and --longitude",
       "'location' needs 'latitude' and 'longitude'"},
  };
  for (const auto& c : cases) {
    CAPTURE(json(c.cells).dump());
    std::string option = decode_error(text_fields(c.cells, Style::option));
    CHECK(option.find(c.option) != std::string::npos);
    std::string column = decode_error(text_fields(c.cells, Style::column));
    CHECK(column.find(c.column) != std::string::npos);
    json object = json_object(c.cells);
    if (c.cells.count("latitude") != 0) object["latitude"] = 1;
    std::string from_json = decode_error(JsonFields(object));
    CHECK(from_json.find(c.column) != std::string::npos);
  }
}

TEST_CASE("request decoder: wrong types and values in JSON, lists and flags") {
  struct Case {
    json object;
    std::string error;
  };
  std::vector<Case> cases = {
      {{{"to", 15551234567}, {"text", "a"}}, "'to' must be a string"},
      {{{"to", "+15551234567"}, {"text", 5}}, "'text' must be a string"},
      {{{"to", "+15551234567"}, {"text", {{"nested", 1}}}}, "'text' must be a string"},
      {{{"to", "+15551234567"}, {"text", "a"}, {"preview_url", "yes"}},
       "'preview_url' must be true or false"},
      {{{"to", "+15551234567"}, {"template", "t"}, {"lang", "en"}, {"body_params", "a"}},
       "'body_params' must be an array of strings"},
      {{{"to", "+15551234567"}, {"template", "t"}, {"lang", "en"}, {"body_params", {1, 2}}},
       "'body_params' must be an array of strings"},
      {{{"to", "+15551234567"}, {"template", "t"}, {"lang", "en"}, {"button_params", "0:x"}},
       "'button_params' must be an array"},
      {{{"to", "+15551234567"}, {"template", "t"}, {"lang", "en"}, {"button_params", {"0:x"}}},
       "'button_params' items are"},
      {{{"to", "+15551234567"}, {"latitude", "52"}, {"longitude", 13}},
       "'latitude' must be a number"},
      {{{"to", "+15551234567"}, {"image", {{"link", "https://x.example/a.png"}}}},
       "'image' must be a string"},
  };
  // A button index is 0-9; a huge one must not wrap into a valid one.
  for (const char* index : {"10", "-1", "4294967296", "18446744073709551615"}) {
    json j = {{"to", "+15551234567"}, {"template", "t"}, {"lang", "en"}};
    j["button_params"] = json::array({{{"index", json::parse(index)}, {"value", "x"}}});
    cases.push_back({j, "'index' is 0 to 9"});
  }
  for (const auto& c : cases) {
    CAPTURE(c.object.dump());
    std::string e = decode_error(JsonFields(c.object));
    CHECK(e.find(c.error) != std::string::npos);
  }
  // Numbers stand for texts only where the door allows them.
  json numbers = {{"to", 15551234567}, {"template", "t"}, {"lang", "en"}, {"body_params", {1, 2}}};
  SendRequest r = decode_send_request("acme", JsonFields(numbers, {}, {"to", "body_params"}));
  CHECK(r.to == "15551234567");
  CHECK(r.content.body_params == std::vector<std::string>{"1", "2"});

  // Text flags and JSON cells.
  TextFields flags(TextFields::Style::column);
  flags.set("to", "+15551234567");
  flags.set("text", "a");
  flags.set("preview_url", "maybe");
  CHECK(decode_error(flags).find("'preview_url' must be true or false") != std::string::npos);
  TextFields cells(TextFields::Style::column);
  cells.set("to", "+15551234567");
  cells.set("template", "t");
  cells.set("lang", "en");
  cells.set("body_params", "not json");
  CHECK(decode_error(cells).find("'body_params' must be a JSON array of strings") !=
        std::string::npos);
  cells.set("body_params", R"({"a":1})");
  CHECK(decode_error(cells).find("must be a JSON array") != std::string::npos);
  TextFields options(TextFields::Style::option);
  options.set("to", "+15551234567");
  options.set("template", "t");
  options.set("lang", "en");
  options.set_list("button_params", {"x:1"});
  CHECK(decode_error(options).find("--button-param 'x:1' is not INDEX:VALUE | hint: e.g. "
                                   "--button-param 0:INV-1001") != std::string::npos);
  options.set_list("button_params", {"12:1"});
  CHECK(decode_error(options).find("is not INDEX:VALUE") != std::string::npos);

  // Huge values decode; the content rules refuse them with the limit.
  TextFields huge(TextFields::Style::column);
  huge.set("to", "+15551234567");
  huge.set("text", std::string(100000, 'x'));
  SendRequest big = decode_send_request("acme", huge);
  try {
    prepare_send(big);
    FAIL("a 100,000-character text must be refused");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::usage);
    CHECK(std::string(e.what()).find("at most 4096") != std::string::npos);
  }
}

TEST_CASE("request decoder: paths find fields inside objects, labelled as the body spells them") {
  JsonFields::Paths paths = {
      {"to", {"phoneNumber", "phone_number"}},     {"text", {"message", "text"}},
      {"image", {"image", "image.link"}},          {"caption", {"image.caption"}},
      {"template", {"template", "template.name"}}, {"lang", {"template.language"}}};
  json j = {{"phone_number", "+15551234567"},
            {"image", {{"link", "https://x.example/a.png"}, {"caption", "c"}}}};
  JsonFields f(j, paths);
  SendRequest r = decode_send_request("acme", f);
  CHECK(r.content.kind == ContentKind::image);
  CHECK(r.content.media == "https://x.example/a.png");
  CHECK(r.content.caption == std::optional<std::string>("c"));
  CHECK(f.label("to") == "'phoneNumber' (or 'phone_number')");
  CHECK(f.label("image") == "'image'");
  CHECK(f.example("lang", "en_US") == R"({"template":{"language":"en_US"}})");

  // An object at a path that is looked into holds no value itself.
  json no_link = {{"phoneNumber", "+15551234567"}, {"image", {{"caption", "c"}}}};
  SendRequest empty = decode_send_request("acme", JsonFields(no_link, paths));
  CHECK(empty.content.media.empty());
  CHECK(local_file_field(empty) == std::optional<std::string>("image"));
  json wrong = {{"phoneNumber", "+15551234567"}, {"template", {{"name", "t"}, {"language", 5}}}};
  CHECK(decode_error(JsonFields(wrong, paths)).find("'template.language' must be a string") !=
        std::string::npos);
  json missing = {{"image", "https://x.example/a.png"}};
  CHECK(
      decode_error(JsonFields(missing, paths))
          .find(R"('phoneNumber' (or 'phone_number') is required | hint: e.g. {"phoneNumber":)") !=
      std::string::npos);
}

TEST_CASE("request decoder: local_file_field names the media value that is not a URL") {
  SendRequest r;
  r.content.kind = ContentKind::sticker;
  r.content.media = "/etc/passwd";
  CHECK(local_file_field(r) == std::optional<std::string>("sticker"));
  r.content.media = "https://x.example/s.webp";
  CHECK_FALSE(local_file_field(r));
  r.content = Content{};
  r.content.kind = ContentKind::templated;
  r.content.header = HeaderKind::document;
  r.content.header_value = "invoice.pdf";
  CHECK(local_file_field(r) == std::optional<std::string>("header_document"));
  r.content.header = HeaderKind::text;
  CHECK_FALSE(local_file_field(r));
}
