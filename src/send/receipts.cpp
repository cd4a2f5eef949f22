// Read receipts after a mark-read, for both doors (`wabactl mark-read` and the REST read
// routes, the typing route among them): one per conversation, for its newest incoming
// message, optionally with the typing indicator.
#include "wabactl/conversations.hpp"
#include "wabactl/send.hpp"

namespace wabactl {

std::size_t send_read_receipts(const MarkResult& marked,
                               const std::function<std::optional<SendTarget>()>& target,
                               const std::function<void(const ReceiptProblem&)>& report,
                               Typing typing) {
  std::vector<std::string> wamids;
  for (const auto& c : marked.conversations) {
    if (c.receipt_wamid) wamids.push_back(*c.receipt_wamid);
  }
  if (wamids.empty()) return 0;
  std::optional<SendTarget> from;
  try {
    from = target();
  } catch (const Error& e) {
    report({ReceiptProblem::Kind::unavailable, {}, std::nullopt, e.what()});
    return 0;
  }
  if (!from) {
    report({ReceiptProblem::Kind::not_configured, {}, std::nullopt, {}});
    return 0;
  }
  GraphClient client(from->graph);
  std::size_t sent = 0;
  for (const auto& wamid : wamids) {
    nlohmann::json body = {
        {"messaging_product", "whatsapp"}, {"status", "read"}, {"message_id", wamid}};
    if (typing == Typing::on) body["typing_indicator"] = {{"type", "text"}};
    HttpResult r = client.post_json(from->config.phone_number_id + "/messages", body);
    if (r.ok()) {
      ++sent;
      continue;
    }
    ReceiptProblem p{ReceiptProblem::Kind::failed, wamid, std::nullopt, r.transport_error};
    if (auto meta = parse_meta_error(r); meta && r.status != 0) p.meta = std::move(meta);
    report(p);
  }
  return sent;
}

} // namespace wabactl
