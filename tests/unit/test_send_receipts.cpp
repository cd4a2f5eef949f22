// The read receipts both doors (`wabactl mark-read`, the REST read routes) send after a
// mark: one per conversation, problems reported to the door.
#include "unit/test_send_support.hpp"

#include "wabactl/conversations.hpp"

using nlohmann::json;
using sendtest::Fixture;
using testsupport::Recorded;
using testsupport::Reply;
using namespace wabactl;

TEST_CASE("read receipts: one per conversation, problems reported, never thrown") {
  Fixture f;
  MarkResult marked;
  marked.conversations = {{"c1", 2, std::string("wamid.OK")},
                          {"c2", 1, std::string("wamid.REFUSED")},
                          {"c3", 1, std::nullopt}};
  f.graph.set_handler([](const Recorded& r) -> std::optional<Reply> {
    if (r.body.find("wamid.REFUSED") != std::string::npos) {
      return Reply{400, testsupport::FakeGraph::error_body(100, "Invalid parameter")};
    }
    return std::nullopt;
  });
  std::vector<ReceiptProblem> problems;
  auto report = [&](const ReceiptProblem& p) { problems.push_back(p); };
  std::size_t sent = send_read_receipts(
      marked, [&]() -> std::optional<SendTarget> { return f.target(); }, report);
  CHECK(sent == 1);
  auto bodies = f.message_bodies();
  REQUIRE(bodies.size() == 2);
  CHECK(bodies[0] ==
        json{{"messaging_product", "whatsapp"}, {"status", "read"}, {"message_id", "wamid.OK"}});
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].kind == ReceiptProblem::Kind::failed);
  CHECK(problems[0].wamid == "wamid.REFUSED");
  REQUIRE(problems[0].meta);
  CHECK(problems[0].meta->code == 100);

  // Without an active config, or with a token that does not open: nothing goes.
  f.graph.clear();
  problems.clear();
  CHECK(send_read_receipts(
            marked, [] { return std::optional<SendTarget>(); }, report) == 0);
  CHECK(send_read_receipts(
            marked,
            []() -> std::optional<SendTarget> {
              throw Error(Exit::credentials, "tenant 'acme' has no access token");
            },
            report) == 0);
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].kind == ReceiptProblem::Kind::not_configured);
  CHECK(problems[1].kind == ReceiptProblem::Kind::unavailable);
  CHECK(problems[1].detail == "tenant 'acme' has no access token");
  CHECK(f.graph.requests().empty());

  // No conversation to send a receipt for: the target is not even looked up.
  MarkResult none;
  none.conversations = {{"c3", 1, std::nullopt}};
  bool asked = false;
  CHECK(send_read_receipts(
            none,
            [&] {
              asked = true;
              return std::optional<SendTarget>();
            },
            report) == 0);
  CHECK_FALSE(asked);

  // A receipt that gets no answer at all is reported with the transport error.
  SendTarget unreachable = f.target();
  unreachable.graph.base_url = "http://127.0.0.1:1";
  problems.clear();
  CHECK(send_read_receipts(
            marked, [&] { return std::optional<SendTarget>(unreachable); }, report) == 0);
  REQUIRE(problems.size() == 2);
  CHECK_FALSE(problems[0].meta);
  CHECK_FALSE(problems[0].detail.empty());
}

TEST_CASE("read receipts carry the typing indicator only when asked") {
  Fixture f;
  MarkResult marked;
  marked.conversations = {{"c1", 1, std::string("wamid.T1")}};
  auto target = [&]() -> std::optional<SendTarget> { return f.target(); };
  std::vector<ReceiptProblem> problems;
  auto report = [&](const ReceiptProblem& p) { problems.push_back(p); };
  const json plain = {
      {"messaging_product", "whatsapp"}, {"status", "read"}, {"message_id", "wamid.T1"}};
  json typing = plain;
  typing["typing_indicator"] = {{"type", "text"}};

  CHECK(send_read_receipts(marked, target, report, Typing::on) == 1);
  CHECK(send_read_receipts(marked, target, report, Typing::off) == 1);
  CHECK(send_read_receipts(marked, target, report) == 1);
  auto bodies = f.message_bodies();
  REQUIRE(bodies.size() == 3);
  CHECK(bodies[0] == typing);
  CHECK(bodies[1] == plain);
  CHECK(bodies[2] == plain);
  CHECK(problems.empty());
}
