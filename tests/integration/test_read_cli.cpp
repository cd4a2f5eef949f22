// wabactl history | unread | mark-read | status, against the real binary.
#include "integration/test_serve_support.hpp"
#include "wabactl/inbox.hpp"
#include "wabactl/store.hpp"
#include "wabactl/util.hpp"
#include "wabactl/webhook.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <sstream>
#include <stdexcept>

using namespace servetest;
using testsupport::FakeGraph;
using testsupport::TempDir;
using testsupport::Wabactl;

namespace {

std::vector<nlohmann::json> lines(const std::string& out) {
  std::vector<nlohmann::json> v;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) v.push_back(nlohmann::json::parse(line));
  return v;
}

struct Setup {
  TempDir dir;
  Wabactl w{dir};
  FakeGraph graph;
  explicit Setup(bool with_config = true) {
    REQUIRE(w({"key", "init"}).exit_code == 0);
    if (with_config) {
      fixtures::add_tenant_config(w, dir, fixtures::acme, graph.url());
      fixtures::add_tenant_config(w, dir, fixtures::beta, graph.url());
      graph.accept_token(fixtures::acme.access_token);
    } else {
      REQUIRE(w({"tenant", "add", "acme"}).exit_code == 0);
      REQUIRE(w({"tenant", "add", "beta"}).exit_code == 0);
    }
  }
  // Stores deliveries the way the daemon does (the library's ingest, one transaction).
  void receive(const std::string& number, const std::string& from, const std::string& wamid,
               const std::string& text, long ts, const std::string& name = "Jane") {
    wabactl::Store store(w.db);
    std::string body = inbound(number, from, wamid, text, ts, name);
    store.transaction([&] {
      wabactl::record_delivery(store, body, wabactl::parse_delivery(body),
                               fixtures::numbers({fixtures::acme, fixtures::beta}), "test", "test");
    });
  }
  std::vector<nlohmann::json> receipts() {
    std::vector<nlohmann::json> out;
    for (const auto& r : graph.requests()) {
      if (r.method != "POST" || r.path.find("/messages") == std::string::npos) continue;
      auto j = nlohmann::json::parse(r.body);
      if (j.value("status", "") == "read") out.push_back(j);
    }
    return out;
  }
};

void conversation_of(Setup& s, const std::string& from, const std::string& prefix, int n,
                     long start = 1764000000) {
  for (int i = 0; i < n; ++i) {
    s.receive(fixtures::acme.phone_number_id, from, fmt::format("wamid.{}{}", prefix, i),
              fmt::format("{}{}", prefix, i), start + 60 * i, prefix == "J" ? "Jane" : "Bob");
  }
}

} // namespace

TEST_CASE("history --json prints JSON Lines, oldest to newest, paged with --before/--offset") {
  Setup s;
  conversation_of(s, "15551230000", "J", 7);
  conversation_of(s, "15559990000", "B", 2, 1764000030);
  auto r =
      s.w({"history", "--tenant", "acme", "--phone", "+1 555 123 0000", "--limit", "3", "--json"});
  REQUIRE(r.exit_code == 0);
  auto page = lines(r.out);
  REQUIRE(page.size() == 3);
  CHECK(page[0]["text"] == "J4");
  CHECK(page[2]["text"] == "J6");
  CHECK(page[0]["phone_number"] == "15551230000");

  r = s.w({"history", "--tenant", "acme", "--phone", "15551230000", "--limit", "3", "--before",
           page[0]["message_id"].get<std::string>(), "--json"});
  page = lines(r.out);
  REQUIRE(page.size() == 3);
  CHECK(page[0]["text"] == "J1");

  r = s.w({"history", "--tenant", "acme", "--offset", "8", "--json"});
  page = lines(r.out);
  REQUIRE(page.size() == 1);
  CHECK(page[0]["text"] == "J0");

  CHECK(lines(s.w({"history", "--tenant", "acme", "--json"}).out).size() == 9);
  CHECK(lines(s.w({"history", "--tenant", "acme", "--direction", "out", "--json"}).out).empty());
  CHECK(lines(s.w({"history", "--tenant", "acme", "--direction", "in", "--json"}).out).size() == 9);

  auto human = s.w({"history", "--tenant", "acme", "--phone", "+15559990000"});
  CHECK(human.exit_code == 0);
  CHECK(human.out.find("+15559990000 (Bob)  B1") != std::string::npos);
  CHECK(s.w({"history", "--tenant", "beta"}).out.empty());
}

TEST_CASE("history refuses bad input on every flag") {
  Setup s;
  conversation_of(s, "15551230000", "J", 2);
  s.receive(fixtures::beta.phone_number_id, "15551230000", "wamid.BETA", "beta's", 1764000000);
  const std::vector<std::string> base = {"history", "--tenant", "acme"};
  struct Case {
    std::vector<std::string> extra;
    int code;
  };
  for (const auto& c : std::vector<Case>{
           {{"--limit", "0"}, 2},
           {{"--limit", "1001"}, 2},
           {{"--limit", "-1"}, 2},
           {{"--limit", "ten"}, 2},
           {{"--limit", "99999999999999999999999"}, 2},
           {{"--limit", ""}, 2},
           {{"--offset", "-3"}, 2},
           {{"--offset", "x"}, 2},
           {{"--phone", ""}, 2},
           {{"--phone", "not-a-number"}, 2},
           {{"--phone", std::string(10000, '5')}, 2},
           {{"--phone", "+1555'; DROP TABLE whatsapp_messages;--"}, 2},
           {{"--contact", ""}, 2},
           {{"--contact", std::string(300, 'c')}, 2},
           {{"--direction", "sideways"}, 2},
           {{"--direction", ""}, 2},
           {{"--before", ""}, 2},
           {{"--before", std::string(5000, 'w')}, 2},
           {{"--before", "wamid.NOPE"}, 3},
           {{"--before", "wamid.BETA"}, 3}, // another tenant's message
           {{"--before", "999999"}, 3},
           {{"--before", "wamid.J1", "--offset", "1"}, 2},
           {{"--phone", "+15551230000", "--contact", "c1"}, 2},
       }) {
    auto args = base;
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    CAPTURE(c.extra[0]);
    CAPTURE(c.extra.size() > 1 ? c.extra[1].substr(0, 30) : "");
    auto r = s.w(args);
    CHECK(r.exit_code == c.code);
    CHECK(r.out.empty());
    CHECK(r.err.rfind("wabactl: error: ", 0) == 0);
  }
  CHECK(s.w({"history", "--tenant", "nobody"}).exit_code == 3);
  CHECK(s.w({"history", "--tenant", "Bad Tenant!"}).exit_code == 2);
  CHECK(s.w({"history", "--tenant", ""}).exit_code == 2);
  CHECK(s.w({"history"}).exit_code == 2);
  CHECK(s.w({"history", "--tenant", "acme", "--phone", "+15551230000"}).exit_code == 0);
}

TEST_CASE("unread prints a number, --by-contact one row per conversation") {
  Setup s;
  conversation_of(s, "15551230000", "J", 3);
  conversation_of(s, "15559990000", "B", 1, 1764000500);
  auto r = s.w({"unread", "--tenant", "acme"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "4\n");
  CHECK(nlohmann::json::parse(s.w({"unread", "--tenant", "acme", "--json"}).out)["count"] == 4);
  auto rows = lines(s.w({"unread", "--tenant", "acme", "--by-contact", "--json"}).out);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0]["phone_number"] == "15559990000");
  CHECK(rows[0]["contact_name"] == "Bob");
  CHECK(rows[0]["unread"] == 1);
  CHECK(rows[1]["unread"] == 3);
  CHECK(rows[1]["last_text"] == "J2");
  CHECK(rows[1]["last_message_at"] == "2025-11-24T16:02:00Z");
  auto human = s.w({"unread", "--tenant", "acme", "--by-contact"});
  CHECK(human.out.find("Jane") != std::string::npos);
  CHECK(s.w({"unread", "--tenant", "beta"}).out == "0\n");
  CHECK(s.w({"unread", "--tenant", "nobody"}).exit_code == 3);
  CHECK(s.w({"unread", "--tenant", "../etc"}).exit_code == 2);
  CHECK(s.w({"unread", "--tenant", "acme", "--watchh"}).exit_code == 2);
}

TEST_CASE("mark-read sends exactly one read receipt per conversation") {
  Setup s;
  conversation_of(s, "15551230000", "J", 4);
  conversation_of(s, "15559990000", "B", 3, 1764000030);

  // Two ids of one conversation: one receipt, for the newer one.
  auto r = s.w({"mark-read", "--tenant", "acme", "wamid.J1", "wamid.J2", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["marked"] == 3);
  CHECK(j["receipts"] == 1);
  auto receipts = s.receipts();
  REQUIRE(receipts.size() == 1);
  CHECK(receipts[0] == nlohmann::json{{"messaging_product", "whatsapp"},
                                      {"status", "read"},
                                      {"message_id", "wamid.J2"}});
  CHECK(s.graph.count("POST", "/" + fixtures::acme.phone_number_id + "/messages") == 1);
  CHECK(s.graph.requests()[0].authorization == "Bearer " + fixtures::acme.access_token);
  CHECK(s.w({"unread", "--tenant", "acme"}).out == "4\n");

  // --all: one receipt per conversation with something unread, for its newest message.
  s.graph.clear();
  r = s.w({"mark-read", "--tenant", "acme", "--all"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "marked 4 messages read, sent 2 read receipts\n");
  receipts = s.receipts();
  REQUIRE(receipts.size() == 2);
  std::set<std::string> ids{receipts[0]["message_id"], receipts[1]["message_id"]};
  CHECK(ids == std::set<std::string>{"wamid.J3", "wamid.B2"});
  CHECK(s.w({"unread", "--tenant", "acme"}).out == "0\n");

  // The events record the change.
  SQLite::Database db(s.w.db.string(), SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("SELECT count(*) FROM events WHERE type = 'unread.changed' AND "
                      "json_extract(data, '$.unread') = 0")
            .getInt() >= 1);
}

TEST_CASE("mark-read --no-receipt and --phone, receipt failures keep the local marks") {
  Setup s;
  conversation_of(s, "15551230000", "J", 3);
  auto r = s.w({"mark-read", "--tenant", "acme", "--phone", "+15551230000", "--no-receipt"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "marked 3 messages read\n");
  CHECK(s.graph.requests().empty());

  conversation_of(s, "15559990000", "B", 2, 1764001000);
  s.graph.set_handler([](const testsupport::Recorded&) {
    return std::optional<testsupport::Reply>(
        testsupport::Reply{400, FakeGraph::error_body(100, "Invalid parameter")});
  });
  r = s.w({"mark-read", "--tenant", "acme", "wamid.B1"});
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("warning: read receipt for wamid.B1 failed") != std::string::npos);
  CHECK(s.w({"unread", "--tenant", "acme"}).out == "0\n");
  CHECK(s.receipts().size() == 1);
}

TEST_CASE("mark-read --typing sends one read receipt with the typing indicator") {
  Setup s;
  conversation_of(s, "15551230000", "J", 3);
  conversation_of(s, "15559990000", "B", 2, 1764000030);
  auto r = s.w({"mark-read", "--tenant", "acme", "--phone", "+15551230000", "--typing", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["marked"] == 3);
  CHECK(j["receipts"] == 1);
  REQUIRE(s.graph.requests().size() == 1);
  CHECK(s.receipts() == std::vector<nlohmann::json>{{{"messaging_product", "whatsapp"},
                                                     {"status", "read"},
                                                     {"message_id", "wamid.J2"},
                                                     {"typing_indicator", {{"type", "text"}}}}});

  // One message id names one conversation: its newest message covered gets the receipt.
  s.graph.clear();
  r = s.w({"mark-read", "--tenant", "acme", "wamid.B0", "--typing"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "marked 1 message read, sent 1 read receipt\n");
  auto receipts = s.receipts();
  REQUIRE(receipts.size() == 1);
  CHECK(receipts[0]["message_id"] == "wamid.B0");
  CHECK(receipts[0]["typing_indicator"] == nlohmann::json{{"type", "text"}});
  CHECK(s.w({"unread", "--tenant", "acme"}).out == "1\n");
}

TEST_CASE("mark-read --typing refuses targets of several conversations and --no-receipt") {
  Setup s;
  conversation_of(s, "15551230000", "J", 2);
  conversation_of(s, "15559990000", "B", 2, 1764000030);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"mark-read", "--tenant", "acme", "--all", "--typing"},
           {"mark-read", "--tenant", "acme", "wamid.J1", "wamid.B1", "--typing"},
           {"mark-read", "--tenant", "acme", "wamid.J0", "wamid.J1", "--typing"},
           {"mark-read", "--tenant", "acme", "--phone", "+15551230000", "--typing", "--no-receipt"},
       }) {
    CAPTURE(args[3]);
    auto r = s.w(args);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--typing") != std::string::npos);
  }
  // Refused before anything was marked or sent.
  CHECK(s.w({"unread", "--tenant", "acme"}).out == "4\n");
  CHECK(s.graph.requests().empty());
}

TEST_CASE("mark-read without a config marks locally with a warning") {
  Setup s(false);
  s.receive(fixtures::acme.phone_number_id, "15551230000", "wamid.L1", "local", 1764000000);
  auto r = s.w({"mark-read", "--tenant", "acme", "wamid.L1"});
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("no active WhatsApp config") != std::string::npos);
  CHECK(s.w({"unread", "--tenant", "acme"}).out == "0\n");
}

TEST_CASE("mark-read and status refuse bad input and never touch another tenant") {
  Setup s;
  conversation_of(s, "15551230000", "J", 2);
  s.receive(fixtures::beta.phone_number_id, "15551230000", "wamid.BETA", "beta's", 1764000000);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"mark-read", "--tenant", "acme"},
           {"mark-read", "--tenant", "acme", "--all", "--phone", "+15551230000"},
           {"mark-read", "--tenant", "acme", "wamid.J1", "--all"},
           {"mark-read", "--tenant", "acme", ""},
           {"mark-read", "--tenant", "acme", std::string(600, 'w')},
           {"mark-read", "--tenant", "acme", "--phone", "garbage"},
           {"mark-read", "--tenant", "acme", "--phone", ""},
           {"mark-read", "--tenant", "", "--all"},
           {"status", "--tenant", "acme"},
           {"status", "--tenant", "acme", ""},
           {"status", "--tenant", "acme", std::string(600, 'w')},
           {"status", "--tenant", "ACME", "wamid.J1"},
       }) {
    CAPTURE(args[3].substr(0, 30));
    auto r = s.w(args);
    CHECK(r.exit_code == 2);
  }
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"mark-read", "--tenant", "acme", "wamid.BETA"},
           {"mark-read", "--tenant", "acme", "wamid.J1", "wamid.NOPE"},
           {"mark-read", "--tenant", "nobody", "--all"},
           {"status", "--tenant", "acme", "wamid.BETA"},
           {"status", "--tenant", "acme", "123456"},
           {"status", "--tenant", "nobody", "wamid.J1"},
       }) {
    CAPTURE(args[3]);
    auto r = s.w(args);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("beta's") == std::string::npos);
  }
  // Nothing was marked by the refused commands, and beta's message is untouched.
  CHECK(s.w({"unread", "--tenant", "acme"}).out == "2\n");
  CHECK(s.w({"unread", "--tenant", "beta"}).out == "1\n");
  CHECK(s.graph.requests().empty());

  auto st = s.w({"status", "--tenant", "acme", "wamid.J0", "--json"});
  REQUIRE(st.exit_code == 0);
  auto j = nlohmann::json::parse(st.out);
  CHECK(j["status"] == "received");
  CHECK(j["history"].empty());
  CHECK(j["message"]["text"] == "J0");
  auto local = s.w({"status", "--tenant", "acme", j["message"]["id"].get<std::string>()});
  CHECK(local.exit_code == 0);
  CHECK(local.out.find("wamid.J0") != std::string::npos);
}

namespace {

// RFC 4180: records of fields, quoted fields may hold commas, CR, LF and doubled quotes.
// Throws on anything else, so a test reading wabactl's CSV also checks its syntax.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  std::size_t i = 0;
  bool quoted = false;
  while (i < text.size()) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        i += 2;
      } else if (c == '"') {
        quoted = false;
        ++i;
        if (i < text.size() && text[i] != ',' && text[i] != '\r') {
          throw std::runtime_error("text after a closing quote");
        }
      } else {
        field += c;
        ++i;
      }
    } else if (c == '"') {
      if (!field.empty()) throw std::runtime_error("a quote inside an unquoted field");
      quoted = true;
      ++i;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
      ++i;
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
      i += 2;
    } else if (c == '\n' || c == '\r') {
      throw std::runtime_error("a bare line break outside quotes");
    } else {
      field += c;
      ++i;
    }
  }
  if (quoted || !field.empty() || !row.empty()) throw std::runtime_error("no CRLF at the end");
  return rows;
}

const std::vector<std::string> csv_header = {"timestamp", "direction",    "phone_number",
                                             "user_id",   "contact_name", "type",
                                             "text",      "status",       "message_id"};

// `n` messages from one number in one store transaction, texts "<prefix> <i>".
void many_messages(Setup& s, const std::string& prefix, int n, long start = 1764000000) {
  wabactl::Store store(s.w.db);
  store.transaction([&] {
    for (int i = 0; i < n; ++i) {
      std::string body = inbound(fixtures::acme.phone_number_id, "15551230000",
                                 fmt::format("wamid.{}{}", prefix, i),
                                 fmt::format("{} {}", prefix, i), start + 60 * i);
      wabactl::record_delivery(store, body, wabactl::parse_delivery(body),
                               fixtures::numbers({fixtures::acme, fixtures::beta}), "test", "test");
    }
  });
}

} // namespace

TEST_CASE("history --format csv is RFC 4180 that reads back field for field") {
  Setup s(false);
  const std::vector<std::string> texts = {"plain refund",        "refund, with a comma",
                                          "a \"quoted\" refund", "refund\nover two lines",
                                          "refund\r\nwith CRLF", "=HYPERLINK(\"http://x\") refund",
                                          "Ünïcödé refund ✅"};
  for (std::size_t i = 0; i < texts.size(); ++i) {
    s.receive(fixtures::acme.phone_number_id, "15551230000", fmt::format("wamid.CSV{}", i),
              texts[i], 1764000000 + static_cast<long>(i), "Jane, \"JJ\" Doe");
  }
  s.receive(fixtures::beta.phone_number_id, "15551230000", "wamid.BETA", "beta refund", 1764000100);
  auto r = s.w({"history", "--tenant", "acme", "--search", "refund", "--format", "csv"});
  REQUIRE(r.exit_code == 0);
  auto rows = parse_csv(r.out);
  REQUIRE(rows.size() == texts.size() + 1);
  CHECK(rows[0] == csv_header);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    CAPTURE(i);
    const auto& row = rows[i + 1];
    REQUIRE(row.size() == 9);
    CHECK(row[0] == wabactl::iso_from_unix(1764000000 + static_cast<long>(i)));
    CHECK(row[1] == "incoming");
    CHECK(row[2] == "15551230000");
    CHECK(row[3].empty());
    CHECK(row[4] == "Jane, \"JJ\" Doe");
    CHECK(row[5] == "text");
    // A formula a customer typed is not run by the spreadsheet.
    CHECK(row[6] == (texts[i].front() == '=' ? "'" + texts[i] : texts[i]));
    CHECK(row[7] == "received");
    CHECK(row[8] == fmt::format("wamid.CSV{}", i));
  }
  // No match still gives the header, so a spreadsheet gets its columns.
  auto none = s.w({"history", "--tenant", "acme", "--search", "nothing", "--format", "csv"});
  CHECK(none.exit_code == 0);
  CHECK(parse_csv(none.out) == std::vector<std::vector<std::string>>{csv_header});
  // --json is --format json.
  CHECK(s.w({"history", "--tenant", "acme", "--json"}).out ==
        s.w({"history", "--tenant", "acme", "--format", "json"}).out);
  CHECK(s.w({"history", "--tenant", "acme", "--search", "refund"}).out.find("beta") ==
        std::string::npos);
}

TEST_CASE("history --all pages through every match, one page after another") {
  Setup s(false);
  many_messages(s, "order", 125);
  many_messages(s, "other", 5, 1765000000);
  auto r = s.w({"history", "--tenant", "acme", "--search", "ORDER", "--all", "--limit", "50",
                "--format", "csv"});
  REQUIRE(r.exit_code == 0);
  auto rows = parse_csv(r.out);
  REQUIRE(rows.size() == 126);
  std::vector<std::string> got;
  for (std::size_t i = 1; i < rows.size(); ++i) got.push_back(rows[i][6]);
  // Newest page first (75..124), each oldest to newest, as --before pages print them.
  std::vector<std::string> want;
  for (int start : {75, 25, 0}) {
    for (int i = start; i < (start == 0 ? 25 : start + 50); ++i) {
      want.push_back(fmt::format("order {}", i));
    }
  }
  CHECK(got == want);

  auto json = lines(s.w({"history", "--tenant", "acme", "--all", "--json"}).out);
  CHECK(json.size() == 130);
  auto since = lines(s.w({"history", "--tenant", "acme", "--all", "--json", "--search", "order",
                          "--since", wabactl::iso_from_unix(1764000000 + 60 * 100), "--until",
                          wabactl::iso_from_unix(1764000000 + 60 * 109)})
                         .out);
  REQUIRE(since.size() == 10);
  CHECK(since.front()["text"] == "order 100");
  CHECK(since.back()["text"] == "order 109");
  CHECK(s.w({"history", "--tenant", "acme", "--all", "--search", "order", "--since", "1h"})
            .err.find("no messages") != std::string::npos);
}

TEST_CASE("history's search, range and format flags refuse bad input with exit 2") {
  Setup s(false);
  many_messages(s, "word", 3);
  const std::vector<std::string> base = {"history", "--tenant", "acme"};
  const std::vector<std::vector<std::string>> bad = {
      {"--search", ""},
      {"--search", "\""},
      {"--search", "* - ( ) :"},
      {"--search", std::string(10 * 1024, 'x')},
      {"--search", "caf\xc3"},
      {"--since", "yesterday"},
      {"--until", ""},
      {"--since", "2026-02-30"},
      {"--since", "2026-01-02", "--until", "2026-01-01"},
      {"--format", "xml"},
      {"--format", "csv", "--json"},
      {"--format"},
  };
  for (const auto& extra : bad) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    CAPTURE(extra);
    auto r = s.w(args);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err.starts_with("wabactl: error: "));
  }
  auto r = s.w({"history", "--tenant", "acme", "--search", "\""});
  CHECK(r.err.find("no words") != std::string::npos);
  r = s.w({"history", "--tenant", "acme", "--since", "2026-01-02", "--until", "2026-01-01"});
  CHECK(r.err.find("after it ends") != std::string::npos);
  // Another tenant's words are not found, and an unknown tenant is exit 3.
  CHECK(s.w({"history", "--tenant", "beta", "--search", "word"}).err.find("no messages") !=
        std::string::npos);
  CHECK(s.w({"history", "--tenant", "nobody", "--search", "word"}).exit_code == 3);
}
