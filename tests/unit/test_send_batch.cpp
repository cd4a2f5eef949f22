// Batch files (CSV and JSON Lines) and the batch runner: output lines, partial failure,
// resumption, limits, and the rate over many rows.
#include "unit/test_send_support.hpp"

#include <fmt/format.h>

#include <csignal>
#include <fstream>
#include <map>
#include <set>

using nlohmann::json;
using sendtest::Fixture;
using testsupport::Recorded;
using testsupport::Reply;
using testsupport::TempDir;
using namespace wabactl;
using namespace std::chrono_literals;

namespace {

std::filesystem::path write(const Fixture& f, const std::string& name, const std::string& text) {
  auto p = f.dir / name;
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

struct Run {
  BatchSummary summary;
  std::vector<json> lines;
  json by_row(std::size_t row) const {
    for (const auto& l : lines) {
      if (l["row"] == row) return l;
    }
    return nullptr;
  }
};

Run run(Fixture& f, std::vector<BatchRow>& rows, BatchOptions o = {}) {
  o.policy = Fixture::policy();
  Run out;
  out.summary = run_batch(f.shared, f.target(), rows, o, f.clock,
                          [&](const BatchResult& r) { out.lines.push_back(to_json(r)); });
  return out;
}

} // namespace

TEST_CASE("batch: CSV with RFC 4180 quoting, body columns and template rows") {
  Fixture f;
  auto p = write(f, "b.csv",
                 "\xEF\xBB\xBFto,text,template,lang,body1,body2,header_document,filename,"
                 "idempotency_key\r\n"
                 "+15551234567,\"Hello, \"\"Jane\"\"\nsecond line\",,,,,,,k1\r\n"
                 "+15557654321,,invoice_ready,en_US,Jane,$120.00,https://x.example/i.pdf,"
                 "INV-1.pdf,k2\n"
                 "\n");
  auto rows = read_batch(p, "acme");
  REQUIRE(rows.size() == 2);
  REQUIRE(rows[0].prepared);
  CHECK(rows[0].row == 2); // the header is line 1
  CHECK(rows[0].prepared->body["text"]["body"] == "Hello, \"Jane\"\nsecond line");
  REQUIRE(rows[1].prepared);
  CHECK(rows[1].row == 4); // its first line: the quoted text spans two
  auto comps = rows[1].prepared->body["template"]["components"];
  CHECK(comps[0]["parameters"][0]["document"]["filename"] == "INV-1.pdf");
  CHECK(comps[1]["parameters"][1]["text"] == "$120.00");
  CHECK(rows[1].prepared->request.idempotency_key == std::optional<std::string>("k2"));
}

TEST_CASE("batch: body_params as a JSON array in CSV and JSON Lines") {
  Fixture f;
  auto csv = write(f, "b.csv",
                   "to,template,lang,body_params\n"
                   "+15551234567,t1,en,\"[\"\"a\"\",\"\"b\"\"]\"\n");
  auto rows = read_batch(csv, "acme");
  REQUIRE(rows.at(0).prepared);
  CHECK(rows[0].prepared->request.content.body_params == std::vector<std::string>{"a", "b"});

  auto jl = write(f, "b.jsonl",
                  R"({"to":"+15551234567","template":"t1","lang":"en","body_params":["x",12]})"
                  "\n"
                  R"({"to":"+15551234567","text":"hi","callback_data":"inv:1"})"
                  "\n");
  auto jrows = read_batch(jl, "acme");
  REQUIRE(jrows.size() == 2);
  REQUIRE(jrows[0].prepared);
  CHECK(jrows[0].prepared->request.content.body_params == std::vector<std::string>{"x", "12"});
  REQUIRE(jrows[1].prepared);
  CHECK(jrows[1].prepared->body["biz_opaque_callback_data"] == "inv:1");
}

TEST_CASE("batch: malformed rows carry their line number and do not stop the others") {
  Fixture f;
  auto p = write(f, "b.csv",
                 "to,text,template,lang,idempotency_key\n"
                 "+15551234567,ok,,,a\n"
                 "not-a-number,hi,,,b\n"
                 "+15551234567,,,,c\n"
                 "+15551234567,both,t,en,d\n"
                 "+15551234567,x,,\n"
                 "+15551234567,dup,,,a\n"
                 "+15551234567,bad\"quote,,,e\n"
                 "+15551234567,,t,,f\n");
  auto rows = read_batch(p, "acme");
  REQUIRE(rows.size() == 8);
  CHECK(rows[0].prepared);
  for (std::size_t i = 1; i < rows.size(); ++i) {
    CAPTURE(i);
    CHECK_FALSE(rows[i].prepared);
    CHECK(rows[i].error.rfind(fmt::format("line {}:", i + 2), 0) == 0);
  }
  CHECK(rows[5].error.find("the one of line 2") != std::string::npos); // the repeated key
  auto r = run(f, rows);
  CHECK(r.summary.sent == 1);
  CHECK(r.summary.failed == 7);
  REQUIRE(r.lines.size() == 8);
  // Each line's "row" is the file's line number, the one its details name.
  for (std::size_t i = 0; i < r.lines.size(); ++i) CHECK(r.lines[i]["row"] == i + 2);
  CHECK(r.by_row(2)["ok"] == true);
  CHECK(r.by_row(4)["ok"] == false);
  CHECK(r.by_row(4)["error"]["code"].is_null());
  CHECK(r.by_row(4)["error"]["details"].get<std::string>().rfind("line 4:", 0) == 0);
}

TEST_CASE("batch: JSON Lines errors and file-level problems") {
  Fixture f;
  auto p = write(f, "b.jsonl",
                 "{\"to\":\"+15551234567\",\"text\":\"a\"}\n"
                 "{not json}\n"
                 "[1,2]\n"
                 "{\"to\":\"+15551234567\",\"text\":\"a\",\"colour\":\"red\"}\n"
                 "{\"to\":\"+15551234567\",\"text\":{\"nested\":1}}\n");
  auto rows = read_batch(p, "acme");
  REQUIRE(rows.size() == 5);
  CHECK(rows[0].prepared);
  for (std::size_t i = 1; i < 5; ++i) CHECK_FALSE(rows[i].prepared);

  auto expect_usage = [&](const std::filesystem::path& file, BatchLimits limits = {}) {
    try {
      read_batch(file, "acme", limits);
      FAIL("expected an error");
    } catch (const Error& e) {
      CHECK(e.code() == Exit::usage);
    }
  };
  expect_usage(write(f, "empty.csv", ""));
  expect_usage(write(f, "header-only.csv", "to,text\n"));
  expect_usage(write(f, "unknown.csv", "to,text,colour\n+15551234567,a,red\n"));
  expect_usage(write(f, "noto.csv", "text\nhello\n"));
  expect_usage(write(f, "twice.csv", "to,to,text\n1,2,3\n"));
  expect_usage(write(f, "mixed.csv", "to,template,lang,body_params,body1\n"));
  expect_usage(write(f, "open.csv", "to,text\n+15551234567,\"never closed\n"));
  expect_usage(f.dir / "missing.csv");
  expect_usage(f.dir.path());
  BatchLimits small;
  small.max_rows = 2;
  expect_usage(write(f, "many.csv", "to,text\n1555123456,a\n1555123456,b\n1555123456,c\n"), small);
  small = {};
  small.max_file_bytes = 10;
  expect_usage(write(f, "big.csv", "to,text\n+15551234567,hello\n"), small);
  small = {};
  small.max_field_bytes = 8;
  auto field =
      read_batch(write(f, "field.csv", "to,text\n+15551234567,much too long\n"), "acme", small);
  CHECK_FALSE(field.at(0).prepared);
  CHECK(f.graph.requests().empty());
}

TEST_CASE("batch: sends every row, reports partial failure, and a re-run resumes") {
  Fixture f;
  f.graph.set_handler([](const Recorded& r) -> std::optional<Reply> {
    if (r.body.find("15550000013") != std::string::npos) {
      return Reply{400, testsupport::FakeGraph::error_body(131026, "Message undeliverable", 0,
                                                           "not on WhatsApp")};
    }
    return std::nullopt;
  });
  std::string csv = "to,template,lang,body1,idempotency_key\n";
  for (int i = 0; i < 40; ++i) {
    csv += fmt::format("+155500000{:02},invoice_ready,en_US,INV-{},inv-{}\n", i, i, i);
  }
  auto p = write(f, "b.csv", csv);
  auto rows = read_batch(p, "acme");
  BatchOptions o;
  o.concurrency = 8;
  auto first = run(f, rows, o);
  CHECK(first.summary.sent == 39);
  CHECK(first.summary.failed == 1);
  CHECK(first.lines.size() == 40);
  auto failed = first.by_row(15); // line 15: the 14th data row
  CHECK(failed["ok"] == false);
  CHECK(failed["error"]["code"] == 131026);
  CHECK(failed["error"]["title"] == "Message undeliverable");
  CHECK(failed["error"]["details"] == "not on WhatsApp");
  auto ok = first.by_row(2);
  CHECK(ok["ok"] == true);
  CHECK(ok["status"] == "sent");
  CHECK(ok["message_id"].get<std::string>().rfind("wamid.", 0) == 0);
  CHECK(f.graph.count("POST", "/messages") == 40);

  auto rows2 = read_batch(p, "acme");
  auto second = run(f, rows2, o);
  CHECK(second.summary.replayed == 39);
  CHECK(second.summary.sent == 0);
  CHECK(second.summary.failed == 1); // Meta refused it again
  CHECK(second.by_row(2)["replayed"] == true);
  CHECK(second.by_row(2)["message_id"] == ok["message_id"]);
  // Only the row Meta refused (nothing was delivered) is tried again.
  CHECK(f.graph.count("POST", "/messages") == 41);
}

TEST_CASE("batch: a rejected token stops the batch") {
  Fixture f;
  f.graph.set_handler([](const Recorded&) -> std::optional<Reply> {
    return Reply{401, testsupport::FakeGraph::error_body(190, "expired")};
  });
  std::string csv = "to,text,idempotency_key\n";
  for (int i = 0; i < 10; ++i) csv += fmt::format("+155500000{:02},hi,k{}\n", i, i);
  auto rows = read_batch(write(f, "b.csv", csv), "acme");
  BatchOptions o;
  o.concurrency = 1;
  auto r = run(f, rows, o);
  CHECK(r.summary.credentials_rejected);
  CHECK(r.summary.failed == 1);
  CHECK(r.summary.not_attempted == 9);
  CHECK(r.lines.size() == 10);
  CHECK(f.graph.count("POST", "/messages") == 1);
  CHECK(find_config(f.store, "acme")->needs_reauth);
  // With a good token again, a re-run sends every row: none is stuck as pending.
  f.graph.set_handler(nullptr);
  auto again_rows = read_batch(f.dir / "b.csv", "acme");
  auto again = run(f, again_rows, o);
  CHECK(again.summary.sent == 10);
  CHECK(f.graph.count("POST", "/messages") == 11);
}

TEST_CASE("batch: the rate holds over many rows, and one recipient gets 6 s spacing") {
  Fixture f;
  std::string csv = "to,text\n";
  for (int i = 0; i < 300; ++i) csv += fmt::format("+1555{:07},hi\n", i);
  auto rows = read_batch(write(f, "b.csv", csv), "acme");
  BatchOptions o;
  o.rate = 50;
  o.concurrency = 16;
  auto r = run(f, rows, o);
  for (const auto& l : r.lines) {
    if (l["ok"] != true) FAIL(l.dump());
  }
  CHECK(r.summary.sent == 300);
  // 300 grants at 50/s fill six one-second windows, so at least five seconds of (virtual)
  // time pass between the first and the last. (How little more is the limiter's own test:
  // here a worker that waits moves the fake clock while others are mid-request.)
  CHECK(r.summary.elapsed >= 5s);

  Fixture g;
  auto same = read_batch(write(g, "s.csv",
                               "to,text\n+15551234567,a\n+15551234567,b\n"
                               "+15551234567,c\n"),
                         "acme");
  auto r2 = run(g, same, BatchOptions{});
  CHECK(r2.summary.sent == 3);
  CHECK(r2.summary.elapsed >= 12s);
}

TEST_CASE("batch: --concurrency outside 1-32 is refused") {
  Fixture f;
  auto rows = read_batch(write(f, "b.csv", "to,text\n+15551234567,a\n"), "acme");
  BatchOptions o;
  o.concurrency = 33;
  CHECK_THROWS_AS(run(f, rows, o), Error);
  o.concurrency = 0;
  CHECK_THROWS_AS(run(f, rows, o), Error);
}

TEST_CASE("batch: a local file that many rows send is uploaded once") {
  Fixture f;
  auto banner = write(f, "banner.png", std::string(2048, 'b'));
  auto other = write(f, "other.png", std::string(1024, 'o'));
  std::string csv = "to,template,lang,header_image\n";
  for (int i = 0; i < 6; ++i) csv += fmt::format("+1555{:07},promo,en,{}\n", i, banner.string());
  csv += fmt::format("+15559999999,promo,en,{}\n", other.string());
  auto rows = read_batch(write(f, "b.csv", csv), "acme");
  BatchOptions o;
  o.concurrency = 1; // one row after the other: every repeat finds the first upload
  auto r = run(f, rows, o);
  CHECK(r.summary.sent == 7);
  CHECK(f.graph.count("POST", "/media") == 2);
  std::set<std::string> banner_ids;
  std::string other_id;
  for (const auto& req : f.graph.requests()) {
    if (req.path.find("/messages") == std::string::npos) continue;
    auto body = json::parse(req.body);
    auto id = body["template"]["components"][0]["parameters"][0]["image"]["id"].get<std::string>();
    if (body["to"] == "15559999999") {
      other_id = id;
    } else {
      banner_ids.insert(id);
    }
  }
  CHECK(banner_ids.size() == 1);
  CHECK_FALSE(other_id.empty());
  CHECK(banner_ids.count(other_id) == 0);
}

TEST_CASE("upload cache: a file is known by path, size, time and type") {
  TempDir dir;
  auto path = dir / "banner.png";
  std::ofstream(path, std::ios::binary) << "first";
  MediaSource file{{}, path, "image/png", 5};
  auto key = UploadCache::key_of(file);
  REQUIRE(key);
  UploadCache cache;
  CHECK_FALSE(cache.find_or_claim(*key));
  cache.remember(*key, "111");
  CHECK(cache.find_or_claim(*key) == std::optional<std::string>("111"));
  // The same file by another spelling of its path is the same file.
  MediaSource spelled{{}, dir / "." / "banner.png", "image/png", 5};
  CHECK(UploadCache::key_of(spelled) == key);
  // Sent as another type, or changed since: a new upload.
  MediaSource as_sticker{{}, path, "image/webp", 5};
  REQUIRE(UploadCache::key_of(as_sticker));
  CHECK_FALSE(cache.find_or_claim(*UploadCache::key_of(as_sticker)));
  std::filesystem::last_write_time(path, std::filesystem::last_write_time(path) - 1h);
  auto touched = UploadCache::key_of(file);
  REQUIRE(touched);
  CHECK_FALSE(cache.find_or_claim(*touched));
  std::ofstream(path, std::ios::binary | std::ios::app) << "more";
  auto longer = UploadCache::key_of(file);
  REQUIRE(longer);
  CHECK(longer->size == 9);
  CHECK_FALSE(cache.find_or_claim(*longer));
  // A file that is gone is not cached at all.
  std::filesystem::remove(path);
  CHECK_FALSE(UploadCache::key_of(file));
}

TEST_CASE("batch: rows under --concurrency upload a repeated file once") {
  Fixture f;
  // The upload takes a while: every worker asks for the file before the first id is back.
  f.graph.set_handler([](const Recorded& r) -> std::optional<Reply> {
    if (r.path.find("/media") == std::string::npos) return std::nullopt;
    return Reply{200, R"({"id":"4242"})", {}, 200};
  });
  auto pdf = write(f, "INV.pdf", "%PDF-1.4 campaign");
  std::string csv = "to,template,lang,header_document\n";
  for (int i = 0; i < 30; ++i) csv += fmt::format("+1555{:07},promo,en,{}\n", i, pdf.string());
  auto rows = read_batch(write(f, "b.csv", csv), "acme");
  BatchOptions o;
  o.concurrency = 8;
  auto r = run(f, rows, o);
  CHECK(r.summary.sent == 30);
  CHECK(f.graph.count("POST", "/media") == 1);
  for (const auto& body : f.message_bodies()) {
    CHECK(body["template"]["components"][0]["parameters"][0]["document"]["id"] == "4242");
  }
}

TEST_CASE("batch: a failed upload is tried by the next row that needs the file") {
  Fixture f;
  auto uploads = std::make_shared<std::atomic<int>>(0);
  f.graph.set_handler([uploads](const Recorded& r) -> std::optional<Reply> {
    if (r.path.find("/media") == std::string::npos) return std::nullopt;
    if (uploads->fetch_add(1) == 0) {
      return Reply{400, testsupport::FakeGraph::error_body(131053, "Media upload error")};
    }
    return Reply{200, R"({"id":"77"})", {}, 50};
  });
  auto pdf = write(f, "INV.pdf", "%PDF-1.4 campaign");
  std::string csv = "to,template,lang,header_document\n";
  for (int i = 0; i < 10; ++i) csv += fmt::format("+1555{:07},promo,en,{}\n", i, pdf.string());
  auto rows = read_batch(write(f, "b.csv", csv), "acme");
  BatchOptions o;
  o.concurrency = 4;
  auto r = run(f, rows, o);
  CHECK(r.summary.failed == 1);
  CHECK(r.summary.sent == 9);
  CHECK(f.graph.count("POST", "/media") == 2);
}

TEST_CASE("batch: lines come in row order under --concurrency") {
  Fixture f;
  // Earlier rows are answered later than the rows after them.
  f.graph.set_handler([](const Recorded& r) -> std::optional<Reply> {
    if (r.path.find("/messages") == std::string::npos) return std::nullopt;
    auto body = json::parse(r.body);
    int n = std::stoi(body["to"].get<std::string>().substr(8));
    return Reply{
        200, fmt::format(R"({{"messages":[{{"id":"wamid.ROW{}"}}]}})", n), {}, (8 - n) * 40};
  });
  std::string csv = "to,text\n";
  for (int i = 0; i < 8; ++i) csv += fmt::format("+155500000{:02},hi\n", i);
  csv += "bad,hi\n";
  auto rows = read_batch(write(f, "b.csv", csv), "acme");
  BatchOptions o;
  o.concurrency = 8;
  auto r = run(f, rows, o);
  REQUIRE(r.lines.size() == 9);
  for (std::size_t i = 0; i < 8; ++i) {
    CAPTURE(i);
    CHECK(r.lines[i]["row"] == i + 2);
    CHECK(r.lines[i]["message_id"] == fmt::format("wamid.ROW{}", i));
  }
  CHECK(r.lines[8]["row"] == 10);
  CHECK(r.lines[8]["ok"] == false);
}

TEST_CASE("batch: a stop settles the rows taken, and a re-run sends each other row once") {
  Fixture f;
  std::atomic<int> stop{0};
  // The stop comes while the 12th request is at Meta: no sleep decides when.
  auto seen = std::make_shared<std::atomic<int>>(0);
  f.graph.set_handler([&stop, seen](const Recorded& r) -> std::optional<Reply> {
    if (r.path.find("/messages") == std::string::npos) return std::nullopt;
    if (seen->fetch_add(1) + 1 == 12) stop.store(SIGINT);
    return std::nullopt;
  });
  std::string csv = "to,text,idempotency_key\n";
  for (int i = 0; i < 60; ++i) csv += fmt::format("+15550000{:03},hi,k{}\n", i, i);
  auto p = write(f, "b.csv", csv);
  auto rows = read_batch(p, "acme");
  BatchOptions o;
  o.concurrency = 4;
  o.rate = 40; // claims go 4 rows at a time: some are claimed, not sent, when the stop comes
  o.policy = Fixture::policy();
  o.policy.stop = &stop;
  Run first;
  first.summary = run_batch(f.shared, f.target(), rows, o, f.clock,
                            [&](const BatchResult& r) { first.lines.push_back(to_json(r)); });
  CHECK(first.summary.signal == SIGINT);
  std::size_t sent_first = f.graph.count("POST", "/messages");
  CHECK(sent_first >= 12);
  CHECK(sent_first < 60);
  CHECK(first.summary.sent == sent_first);
  CHECK(first.summary.failed == 0);
  CHECK(first.summary.sent + first.summary.not_attempted == 60);
  // The lines printed are the rows taken, in row order, each sent or not sent.
  for (std::size_t i = 0; i < first.lines.size(); ++i) {
    CAPTURE(first.lines[i]);
    CHECK(first.lines[i]["row"] == i + 2);
    if (first.lines[i]["ok"] == false) {
      CHECK(first.lines[i]["error"]["details"].get<std::string>().find("not sent") !=
            std::string::npos);
    }
  }
  // No row is left pending or unknown: the re-run sends the rest at once, none twice.
  stop.store(0);
  f.graph.set_handler(nullptr);
  auto rows2 = read_batch(p, "acme");
  auto second = run(f, rows2, o);
  CHECK(second.summary.failed == 0);
  CHECK(second.summary.replayed == sent_first);
  CHECK(second.summary.sent == 60 - sent_first);
  std::map<std::string, int> per_recipient;
  for (const auto& body : f.message_bodies()) per_recipient[body["to"].get<std::string>()]++;
  CHECK(per_recipient.size() == 60);
  for (const auto& [to, n] : per_recipient) {
    CAPTURE(to);
    CHECK(n == 1);
  }
}

TEST_CASE("batch: a row whose request got no answer is reported with state unknown") {
  Fixture f;
  f.graph.set_handler([](const Recorded& r) -> std::optional<Reply> {
    if (r.body.find("15550000002") == std::string::npos) return std::nullopt;
    return Reply{200, R"({"messages":[{"id":"wamid.LATE"}]})", {}, 1500};
  });
  auto rows = read_batch(write(f, "b.csv",
                               "to,text,idempotency_key\n+15550000001,a,k1\n"
                               "+15550000002,b,k2\n"),
                         "acme");
  BatchOptions o;
  o.policy = Fixture::policy();
  o.policy.timeouts.total = 300ms;
  Run r;
  r.summary = run_batch(f.shared, f.target(), rows, o, f.clock,
                        [&](const BatchResult& res) { r.lines.push_back(to_json(res)); });
  CHECK(r.summary.unknown == 1);
  CHECK(r.summary.failed == 1);
  CHECK(r.by_row(3)["state"] == "unknown");
  CHECK(r.by_row(2).count("state") == 0);
  // The re-run does not send it again.
  auto rows2 = read_batch(f.dir / "b.csv", "acme");
  Run again;
  again.summary = run_batch(f.shared, f.target(), rows2, o, f.clock,
                            [&](const BatchResult& res) { again.lines.push_back(to_json(res)); });
  CHECK(again.summary.unknown == 1);
  CHECK(again.by_row(3)["state"] == "unknown");
  std::this_thread::sleep_for(1500ms);
  CHECK(f.graph.count("POST", "/messages") == 2);
}

TEST_CASE("batch: replies and reactions resolve their message, between grouped rows") {
  Fixture f;
  auto first = f.send(sendtest::text_to("+15551234567", "original"));
  REQUIRE(first.message);
  std::string local = std::to_string(first.message->id);
  std::string wamid = *first.message->message_id;
  auto p = write(f, "b.jsonl",
                 fmt::format(R"({{"to":"+15551234567","text":"a"}})"
                             "\n"
                             R"({{"to":"+15551234567","text":"re","reply_to":"{}"}})"
                             "\n"
                             R"({{"to":"+15551234567","reaction":"👍","reply_to":"{}"}})"
                             "\n"
                             R"({{"to":"+15551234567","text":"re","reply_to":"999999"}})"
                             "\n"
                             R"({{"to":"+15551234567","text":"b"}})"
                             "\n",
                             local, wamid));
  auto rows = read_batch(p, "acme");
  BatchOptions o;
  o.concurrency = 2;
  o.recipient_gap = std::chrono::nanoseconds(0);
  auto r = run(f, rows, o);
  CHECK(r.summary.sent == 4);
  CHECK(r.summary.failed == 1);
  REQUIRE(r.lines.size() == 5);
  CHECK(r.by_row(4)["ok"] == false); // the unknown message it replies to
  auto bodies = f.message_bodies();
  REQUIRE(bodies.size() == 5);
  std::size_t replies = 0;
  for (const auto& b : bodies) {
    if (b.contains("context")) {
      CHECK(b["context"]["message_id"] == wamid); // the local id became the wamid
      ++replies;
    }
    if (b.contains("reaction")) {
      CHECK(b["reaction"]["message_id"] == wamid);
      ++replies;
    }
  }
  CHECK(replies == 2);
}

TEST_CASE("batch: every content kind in CSV columns and JSON Lines keys") {
  Fixture f;
  auto image = write(f, "a.png", "\x89PNG");
  auto csv = write(
      f, "b.csv",
      "to,text,preview_url,template,lang,header_video,body1,button_params,image,caption,audio,"
      "document,filename,sticker,reaction,reply_to,location,name,address,video\n"
      "+15551234567,see https://x.example,true,,,,,,,,,,,,,,,,,\n"
      "+15551234567,,,promo,en,https://x.example/v.mp4,Jane,\"[{\"\"index\"\":0,\"\"value\"\":"
      "\"\"P-1\"\"}]\",,,,,,,,,,,,\n"
      "+15551234567,,,,,,,," +
          image.string() +
          ",look,,,,,,,,,,\n"
          "+15551234567,,,,,,,,,,https://x.example/a.mp3,,,,,,,,,\n"
          "+15551234567,,,,,,,,,,,https://x.example/d.pdf,D.pdf,,,,,,,\n"
          "+15551234567,,,,,,,,,,,,,https://x.example/s.webp,,,,,,\n"
          "+15551234567,,,,,,,,,,,,,,❤️,wamid.R1,,,,\n"
          "+15551234567,,,,,,,,,,,,,,,,\"52.52,13.405\",Office,Main St 1,\n"
          "+15551234567,,,,,,,,,,,,,,,,,,,https://x.example/v.mp4\n");
  auto rows = read_batch(csv, "acme");
  REQUIRE(rows.size() == 9);
  for (const auto& row : rows) {
    CAPTURE(row.error);
    REQUIRE(row.prepared);
  }
  CHECK(rows[0].prepared->body["text"]["preview_url"] == true);
  auto comps = rows[1].prepared->body["template"]["components"];
  CHECK(comps[0]["parameters"][0]["video"]["link"] == "https://x.example/v.mp4");
  CHECK(comps[1]["parameters"][0]["text"] == "Jane");
  CHECK(comps[2]["parameters"][0]["text"] == "P-1");
  REQUIRE(rows[2].prepared->upload); // a local image is uploaded first
  CHECK(rows[2].prepared->body["image"]["caption"] == "look");
  CHECK(rows[3].prepared->type == "audio");
  CHECK(rows[4].prepared->body["document"]["filename"] == "D.pdf");
  CHECK(rows[5].prepared->type == "sticker");
  CHECK(rows[6].prepared->body["reaction"]["message_id"] == "wamid.R1");
  CHECK(rows[7].prepared->body["location"]["name"] == "Office");
  CHECK(rows[8].prepared->type == "video");

  auto jsonl = write(
      f, "b.jsonl",
      R"({"to":"+15551234567","image":"https://x.example/a.png","caption":"c"})"
      "\n"
      R"({"to":15551234567,"latitude":52.52,"longitude":13.405,"address":"Main St 1"})"
      "\n"
      R"({"to":"+15551234567","template":"t","lang":"en","header_image":"https://x.example/h.png","button_params":[{"index":2,"value":"v"}]})"
      "\n"
      R"({"to":"+15551234567","reaction":"","reply_to":"wamid.R2"})"
      "\n"
      R"({"to":"+15551234567","text":"a","preview_url":"yes"})"
      "\n"
      R"({"to":"+15551234567","image":"https://x.example/a.png","text":"a"})"
      "\n");
  auto jrows = read_batch(jsonl, "acme");
  REQUIRE(jrows.size() == 6);
  for (std::size_t i = 0; i < 4; ++i) {
    CAPTURE(jrows[i].error);
    REQUIRE(jrows[i].prepared);
  }
  CHECK(jrows[0].prepared->body["image"]["caption"] == "c");
  CHECK(jrows[1].prepared->body["location"]["latitude"] == 52.52);
  CHECK(jrows[1].prepared->body["to"] == "15551234567");
  auto jcomps = jrows[2].prepared->body["template"]["components"];
  CHECK(jcomps[0]["parameters"][0]["image"]["link"] == "https://x.example/h.png");
  CHECK(jcomps[1]["index"] == "2");
  CHECK(jrows[3].prepared->body["reaction"]["emoji"] == "");
  CHECK_FALSE(jrows[4].prepared);
  CHECK(jrows[4].error == "line 5: 'preview_url' must be true or false");
  CHECK_FALSE(jrows[5].prepared);
  CHECK(jrows[5].error.rfind("line 6: give exactly one of 'text', 'template'", 0) == 0);
}
