// `wabactl send` as users run it: the real binary against a fake Graph API.
#include "integration/test_cli_helpers.hpp"
#include "support/window.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include <csignal>
#include <fstream>
#include <future>
#include <sstream>

using namespace clitest;
using nlohmann::json;
using testsupport::Recorded;
using testsupport::Reply;

namespace {

// The recipients the tests send free-form messages to have written within 24 hours.
struct SendEnv : Env {
  SendEnv() {
    check_ok(set_config({"--no-test"}));
    for (const char* customer : {"15551234567", "49301234567"}) {
      testsupport::customer_wrote(w.db, fixtures::acme, customer);
    }
  }
  RunResult send(std::vector<std::string> args) const {
    args.insert(args.begin(), {"send", "--tenant", "acme"});
    return w(args);
  }
  std::filesystem::path file(const std::string& name, const std::string& content) const {
    auto p = dir / name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
};

} // namespace

TEST_CASE("cli send: a text prints the wamid, --json prints the Message") {
  SendEnv e;
  auto r = e.send({"--to", "+1 (555) 123-4567", "--text", "Your invoice is ready"});
  check_ok(r);
  CHECK(r.out.rfind("sent wamid.FAKE", 0) == 0);
  CHECK(r.out.find(" to 15551234567\n") != std::string::npos);
  CHECK(r.err.empty());
  REQUIRE(e.graph.count("POST", "/messages") == 1);
  auto body = json::parse(e.graph.requests().back().body);
  CHECK(body["to"] == "15551234567");
  CHECK(body["text"]["body"] == "Your invoice is ready");

  r = e.send({"--json", "--outside-window", "--to", "US.1349120865", "--image",
              "https://example.com/a.png", "--caption", "look", "--callback-data", "inv:7",
              "--contact-id", "crm-42"});
  check_ok(r);
  auto m = json::parse(r.out);
  CHECK(m["direction"] == "outgoing");
  CHECK(m["status"] == "sent");
  CHECK(m["type"] == "image");
  CHECK(m["text"] == "look");
  CHECK(m["user_id"] == "US.1349120865");
  CHECK(m["contact_id"] == "crm-42");
  CHECK(m["media_url"] == "https://example.com/a.png");
  CHECK(m["payload"]["recipient"] == "US.1349120865");
  CHECK(m["payload"]["biz_opaque_callback_data"] == "inv:7");
}

TEST_CASE("cli send: template with every option from the command line") {
  SendEnv e;
  auto pdf = e.file("INV-1001.pdf", "%PDF-1.4 test");
  auto r = e.send({"--to", "+15551234567", "--template", "invoice_ready", "--lang", "en_US",
                   "--header-document", pdf.string(), "--body-param", "Jane", "--body-param",
                   "$120.00", "--button-param", "0:INV-1001", "--reply-to", "wamid.ABC"});
  check_ok(r);
  CHECK(e.graph.count("POST", "/media") == 1);
  auto body = json::parse(e.graph.requests().back().body);
  auto comps = body["template"]["components"];
  CHECK(comps[0]["parameters"][0]["document"]["filename"] == "INV-1001.pdf");
  CHECK(comps[0]["parameters"][0]["document"]["id"].is_string());
  CHECK(comps[1]["parameters"][1]["text"] == "$120.00");
  CHECK(comps[2]["index"] == "0");
  CHECK(body["context"]["message_id"] == "wamid.ABC");

  r = e.send({"--to", "+15551234567", "--location", "52.52,13.405", "--name", "Office"});
  check_ok(r);
  body = json::parse(e.graph.requests().back().body);
  CHECK(body["location"]["latitude"] == 52.52);
  CHECK(body["location"]["name"] == "Office");
}

TEST_CASE("cli send: usage errors exit 2 and send nothing") {
  SendEnv e;
  auto big = e.file("big.jpg", std::string(5 * 1024 * 1024 + 1, 'x'));
  std::vector<std::vector<std::string>> cases = {
      {"--to", "+15551234567"},
      {"--to", "+15551234567", "--text", "a", "--image", "https://x.example/a.png"},
      {"--text", "no recipient"},
      {"--to", "call me maybe", "--text", "a"},
      {"--to", "+15551234567", "--text", "a", "--lang", "en"},
      {"--to", "+15551234567", "--template", "t"},
      {"--to", "+15551234567", "--template", "t", "--lang", "en", "--header-text", "a",
       "--header-image", "https://x.example/a.png"},
      {"--to", "+15551234567", "--template", "t", "--lang", "en", "--button-param", "x:1"},
      {"--to", "+15551234567", "--location", "north"},
      {"--to", "+15551234567", "--location", "91,0"},
      {"--to", "+15551234567", "--reaction", "x"},
      {"--to", "+15551234567", "--image", big.string()},
      {"--to", "+15551234567", "--image", (e.dir / "missing.png").string()},
      {"--to", "+15551234567", "--audio", "https://x.example/a.mp3", "--caption", "c"},
      {"--to", "+15551234567", "--text", "a", "--callback-data", std::string(513, 'c')},
      {"--to", "+15551234567", "--text", "a", "--dry-run"},
      {"--to", "+15551234567", "--text", "a", "--rate", "10"},
      {"--to", "+15551234567", "--batch", "x.csv"},
      {"--to", "+15551234567", "--text", "a", "--bogus"},
  };
  for (const auto& c : cases) {
    CAPTURE(fmt::format("{}", fmt::join(c, " ")).substr(0, 200));
    check_error(e.send(c), 2);
  }
  CHECK(e.graph.requests().empty());
  check_error(e.w({"send", "--to", "+15551234567", "--text", "a"}), 2); // no --tenant
  check_error(e.w({"send", "--tenant", "nobody", "--to", "+15551234567", "--text", "a"}), 3);
}

TEST_CASE("cli send: no active config prints a wa.me link and exits 7") {
  Env e; // tenant, no config
  auto r = e.w({"send", "--tenant", "acme", "--to", "+49 30 1234567", "--text", "Hallo Jürgen"});
  check_error(r, 7);
  CHECK(r.out == "https://wa.me/49301234567?text=Hallo%20J%C3%BCrgen\n");
  r = e.w({"send", "--tenant", "acme", "--to", "+49 30 1234567", "--text", "x", "--no-fallback"});
  check_error(r, 3);
  CHECK(r.out.empty());
  r = e.w({"send", "--tenant", "acme", "--outside-window", "--to", "US.1349120865", "--text", "x"});
  check_error(r, 7);
  CHECK(r.out.empty());
  CHECK(r.err.find("user id") != std::string::npos);
  // An inactive config is not used either.
  check_ok(e.set_config({"--no-test", "--inactive"}));
  check_error(e.w({"send", "--tenant", "acme", "--to", "+4930123456", "--text", "x"}), 7);
  CHECK(e.graph.count("POST", "/messages") == 0);
}

TEST_CASE("cli send: Meta errors map to exit codes with code and advice") {
  SendEnv e;
  // Their windows are open here; Meta, whose clock decides, may still refuse with 131047.
  for (const char* customer : {"15550000001", "15550000002"}) {
    testsupport::customer_wrote(e.w.db, fixtures::acme, customer);
  }
  e.graph.set_handler([](const Recorded& r) -> std::optional<Reply> {
    if (r.body.find("15550000001") != std::string::npos) {
      return Reply{400, testsupport::FakeGraph::error_body(
                            131047, "Re-engagement message", 0,
                            "Message failed to send because more than 24 hours have passed")};
    }
    if (r.body.find("15550000002") != std::string::npos) {
      return Reply{401, testsupport::FakeGraph::error_body(190, "Session has expired", 463)};
    }
    return std::nullopt;
  });
  auto r = e.send({"--to", "+15550000001", "--text", "hi"});
  check_error(r, 5);
  CHECK(r.err.find("131047") != std::string::npos);
  CHECK(r.err.find("send a template") != std::string::npos);
  CHECK(r.err.find("AbCdEfGhIjK") != std::string::npos);

  CHECK_FALSE(e.config()["needs_reauth"].get<bool>());
  r = e.send({"--to", "+15550000002", "--text", "hi"});
  check_error(r, 4);
  CHECK(r.err.find("190") != std::string::npos);
  CHECK(r.err.find(token) == std::string::npos);
  CHECK(e.config()["needs_reauth"].get<bool>());
}

TEST_CASE("cli send: an idempotency key sends once, also with two processes racing") {
  SendEnv e;
  e.graph.set_handler([](const Recorded& r) -> std::optional<Reply> {
    if (r.path.find("/messages") == std::string::npos) return std::nullopt;
    return Reply{200, R"({"messages":[{"id":"wamid.ONCE"}]})", {}, 600};
  });
  std::vector<std::string> args{"--to",   "+15551234567", "--template",        "invoice_ready",
                                "--lang", "en_US",        "--idempotency-key", "invoice-1001"};
  auto a = std::async(std::launch::async, [&] { return e.send(args); });
  auto b = std::async(std::launch::async, [&] { return e.send(args); });
  auto ra = a.get();
  auto rb = b.get();
  check_ok(ra);
  check_ok(rb);
  CHECK(ra.out == "sent wamid.ONCE to 15551234567\n");
  CHECK(rb.out == ra.out);
  CHECK(e.graph.count("POST", "/messages") == 1);
  // A cron job that re-runs: nothing sent, the first result printed.
  auto again = e.send(args);
  check_ok(again);
  CHECK(again.out == ra.out);
  CHECK(again.err.find("nothing was sent again") != std::string::npos);
  CHECK(e.graph.count("POST", "/messages") == 1);
}

TEST_CASE("cli send: batch rows take every content kind the command line takes") {
  SendEnv e;
  auto png = e.file("banner.png", "\x89PNG test");
  auto csv =
      e.file("kinds.csv", "to,image,caption,template,lang,header_video,body1,body2,button_params,"
                          "location,name,reaction,reply_to\n"
                          "+15550000001," +
                              png.string() +
                              ",spring sale,,,,,,,,,,\n"
                              "+15550000002,,,promo,en_US,https://x.example/v.mp4,Jane,20%,"
                              "\"[{\"\"index\"\":0,\"\"value\"\":\"\"P-7\"\"}]\",,,,\n"
                              "+15550000003,,,,,,,,,\"52.52,13.405\",Office,,\n"
                              "+15550000004,,,,,,,,,,,👍,wamid.R1\n");
  auto r = e.w({"send", "--tenant", "acme", "--outside-window", "--batch", csv.string(),
                "--concurrency", "1"});
  CAPTURE(r.err);
  check_ok(r);
  auto lines = json_lines(r.out);
  REQUIRE(lines.size() == 4);
  for (const auto& l : lines) CHECK(l["ok"] == true);
  CHECK(e.graph.count("POST", "/media") == 1); // the local image is uploaded first
  std::map<std::string, json> by_to;
  for (const auto& req : e.graph.requests()) {
    if (req.path.find("/messages") == std::string::npos) continue;
    auto body = json::parse(req.body);
    by_to[body["to"]] = body;
  }
  REQUIRE(by_to.size() == 4);
  CHECK(by_to["15550000001"]["image"]["caption"] == "spring sale");
  CHECK(by_to["15550000001"]["image"]["id"].is_string());
  auto comps = by_to["15550000002"]["template"]["components"];
  CHECK(comps[0]["parameters"][0]["video"]["link"] == "https://x.example/v.mp4");
  CHECK(comps[1]["parameters"][1]["text"] == "20%");
  CHECK(comps[2]["sub_type"] == "url");
  CHECK(comps[2]["parameters"][0]["text"] == "P-7");
  CHECK(by_to["15550000003"]["location"]["latitude"] == 52.52);
  CHECK(by_to["15550000003"]["location"]["name"] == "Office");
  CHECK(by_to["15550000004"]["reaction"] == json{{"message_id", "wamid.R1"}, {"emoji", "👍"}});

  // A row that mixes kinds fails alone, naming the columns.
  auto mixed = e.file("mixed.jsonl", R"({"to":"+15550000005","text":"a","sticker":"s.webp"})"
                                     "\n");
  auto m = e.w({"send", "--tenant", "acme", "--batch", mixed.string(), "--dry-run"});
  CHECK(m.exit_code == 6);
  auto ml = json_lines(m.out);
  REQUIRE(ml.size() == 1);
  CHECK(ml[0]["error"]["details"].get<std::string>().find("give exactly one of 'text'") !=
        std::string::npos);
}

TEST_CASE("cli send: a batch prints one line per row, exits 6 on partial failure, resumes") {
  SendEnv e;
  e.graph.set_handler([](const Recorded& r) -> std::optional<Reply> {
    if (r.body.find("15550000003") != std::string::npos) {
      return Reply{400, testsupport::FakeGraph::error_body(131026, "Message undeliverable")};
    }
    return std::nullopt;
  });
  auto csv = e.file("invoices.csv", "to,template,lang,body1,body2,idempotency_key\n"
                                    "+15550000001,invoice_ready,en_US,Jane,$1.00,inv-1\n"
                                    "+15550000002,invoice_ready,en_US,John,$2.00,inv-2\n"
                                    "+15550000003,invoice_ready,en_US,Ann,$3.00,inv-3\n"
                                    "oops,invoice_ready,en_US,Bob,$4.00,inv-4\n");
  auto dry = e.w({"send", "--tenant", "acme", "--batch", csv.string(), "--dry-run"});
  CHECK(dry.exit_code == 6);
  CHECK(json_lines(dry.out).size() == 4);
  CHECK(dry.err.find("nothing was sent") != std::string::npos);
  CHECK(e.graph.requests().empty());

  auto r = e.w({"send", "--tenant", "acme", "--outside-window", "--batch", csv.string(),
                "--concurrency", "2"});
  CAPTURE(r.err);
  CHECK(r.exit_code == 6);
  auto lines = json_lines(r.out);
  REQUIRE(lines.size() == 4);
  // In row order, numbered by the file's lines (the header is line 1).
  for (std::size_t i = 0; i < lines.size(); ++i) CHECK(lines[i]["row"] == i + 2);
  std::map<int, json> rows;
  for (const auto& l : lines) rows[l["row"].get<int>()] = l;
  CHECK(rows[2]["ok"] == true);
  CHECK(rows[3]["ok"] == true);
  CHECK(rows[4]["ok"] == false);
  CHECK(rows[4]["error"]["code"] == 131026);
  CHECK(rows[5]["ok"] == false);
  CHECK(rows[5]["error"]["details"].get<std::string>().find("line 5") != std::string::npos);
  CHECK(r.err.find("2 sent") != std::string::npos);
  CHECK(r.err.find("wabactl: error: 2 of 4 rows failed") != std::string::npos);
  CHECK(e.graph.count("POST", "/messages") == 3);

  auto again = e.w({"send", "--tenant", "acme", "--outside-window", "--batch", csv.string()});
  CHECK(again.exit_code == 6);
  auto lines2 = json_lines(again.out);
  REQUIRE(lines2.size() == 4);
  CHECK(lines2[0]["replayed"] == true);
  CHECK(lines2[0]["message_id"] == rows[2]["message_id"]);
  CHECK(lines2[2]["error"]["code"] == 131026);
  // Only the row Meta refused is sent again.
  CHECK(e.graph.count("POST", "/messages") == 4);

  auto good = e.file("good.jsonl", R"({"to":"+15550000009","text":"hi"})"
                                   "\n");
  check_ok(e.w(
      {"send", "--tenant", "acme", "--outside-window", "--batch", good.string(), "--rate", "5"}));
  check_error(e.w({"send", "--tenant", "acme", "--batch", good.string(), "--rate", "0"}), 2);
  check_error(e.w({"send", "--tenant", "acme", "--batch", good.string(), "--concurrency", "64"}),
              2);
  check_error(e.w({"send", "--tenant", "acme", "--batch", (e.dir / "nope.csv").string()}), 2);
}

TEST_CASE("cli send: SIGINT/SIGTERM in a batch settles its rows, and a re-run goes on at once") {
  for (int sig : {SIGINT, SIGTERM}) {
    CAPTURE(sig);
    SendEnv e;
    std::atomic<int> pid{0};
    std::atomic<int> seen{0};
    // The signal comes while the 30th request is at Meta (no sleep decides when); that
    // request is answered after it, and must be recorded as sent.
    e.graph.set_handler([&](const Recorded& r) -> std::optional<Reply> {
      if (r.path.find("/messages") == std::string::npos) return std::nullopt;
      int n = seen.fetch_add(1) + 1; // each request its own wamid
      if (n == 30) {
        while (pid.load() == 0) std::this_thread::yield();
        ::kill(pid.load(), sig);
      }
      return Reply{200, fmt::format(R"({{"messages":[{{"id":"wamid.S{}"}}]}})", n), {}, 20};
    });
    std::string csv = "to,text,idempotency_key\n";
    for (int i = 0; i < 99; ++i) csv += fmt::format("+15550000{:03},hi,k{}\n", i, i);
    auto file = e.file("b.csv", csv);
    auto r = e.w.run_noting_pid({"send", "--tenant", "acme", "--outside-window", "--batch",
                                 file.string(), "--concurrency", "4"},
                                pid);
    CAPTURE(r.err);
    CHECK(r.exit_code == (sig == SIGINT ? 130 : 143));
    CHECK(r.err.find("batch: 99 rows:") != std::string::npos); // the summary
    CHECK(r.err.find(sig == SIGINT ? "stopped by SIGINT" : "stopped by SIGTERM") !=
          std::string::npos);
    std::size_t sent_first = e.graph.count("POST", "/messages");
    CHECK(sent_first >= 30);
    CHECK(sent_first < 99);
    auto lines = json_lines(r.out);
    std::size_t ok = 0;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      CAPTURE(lines[i]);
      CHECK(lines[i]["row"] == i + 2);
      if (lines[i]["ok"] == true) {
        ++ok;
      } else {
        CHECK(lines[i]["error"]["details"].get<std::string>().find("not sent") !=
              std::string::npos);
      }
    }
    CHECK(ok == sent_first); // every request that left was answered and recorded

    e.graph.set_handler(nullptr);
    auto again = e.w({"send", "--tenant", "acme", "--outside-window", "--batch", file.string(),
                      "--concurrency", "4"});
    CAPTURE(again.err);
    CHECK(again.exit_code == 0);
    CHECK(again.err.find(fmt::format("{} sent, {} replayed", 99 - sent_first, sent_first)) !=
          std::string::npos);
    std::map<std::string, int> per_recipient;
    for (const auto& req : e.graph.requests()) {
      if (req.path.find("/messages") == std::string::npos) continue;
      per_recipient[json::parse(req.body)["to"].get<std::string>()]++;
    }
    CHECK(per_recipient.size() == 99);
    for (const auto& [to, n] : per_recipient) {
      CAPTURE(to);
      CHECK(n == 1);
    }
  }
}

TEST_CASE("cli send: --json replays, unknown outcomes and --resolve") {
  SendEnv e;
  std::vector<std::string> args{"--to", "+15551234567", "--text", "hi", "--idempotency-key", "k1"};
  auto first = e.send(args);
  check_ok(first);
  args.insert(args.begin(), "--json");
  auto replay = e.send(args);
  check_ok(replay);
  auto j = json::parse(replay.out);
  CHECK(j["replayed"] == true);
  CHECK(j["status"] == "sent");
  CHECK(e.graph.count("POST", "/messages") == 1);

  // As a process that died while its request was out leaves it.
  {
    SQLite::Database db(e.w.db.string(), SQLite::OPEN_READWRITE);
    db.exec(
        "UPDATE whatsapp_messages SET send_state='sending', status='queued', "
        "claimed_by='00000000-0000-0000-0000-000000000000 1 1 pid:[1]' WHERE idempotency_key='k1'");
  }
  auto unknown = e.send(args);
  check_error(unknown, 75);
  CHECK(json::parse(unknown.out)["state"] == "unknown");
  CHECK(unknown.err.find("--resolve k1 sent") != std::string::npos);
  CHECK(e.graph.count("POST", "/messages") == 1);

  check_error(e.send({"--resolve", "k1", "maybe"}), 2);
  check_error(e.send({"--resolve", "k1"}), 2);
  check_error(e.send({"--resolve", "k1", "sent", "--to", "+15551234567"}), 2);
  check_error(e.send({"--resolve", "nope", "sent"}), 3);
  auto resolved = e.send({"--resolve", "k1", "failed"});
  check_ok(resolved);
  CHECK(resolved.out.find("resolved as failed") != std::string::npos);
  // Resolved as not delivered: the next run sends it; then there is nothing to resolve.
  check_ok(e.send(args));
  CHECK(e.graph.count("POST", "/messages") == 2);
  check_error(e.send({"--resolve", "k1", "sent"}), 2);
}

TEST_CASE("cli send: --json without a config prints the wa.me link as JSON, exit 7") {
  Env e; // tenant, no config
  auto r = e.w({"send", "--json", "--tenant", "acme", "--to", "+49 30 1234567", "--text", "Hallo"});
  check_error(r, 7);
  CHECK(json::parse(r.out) == json{{"fallback_url", "https://wa.me/49301234567?text=Hallo"}});
  r = e.w({"send", "--json", "--tenant", "acme", "--outside-window", "--to", "US.1349120865",
           "--text", "x"});
  check_error(r, 7);
  CHECK(json::parse(r.out) == json{{"fallback_url", nullptr}});
}
