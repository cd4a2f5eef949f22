#include "support/window.hpp"

#include "wabactl/inbox.hpp"
#include "wabactl/store.hpp"
#include "wabactl/webhook.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <atomic>

namespace testsupport {

std::string customer_text_webhook(const fixtures::TestTenant& tenant, const std::string& from,
                                  std::chrono::system_clock::time_point at,
                                  const std::string& text) {
  static std::atomic<long> next{1};
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
  nlohmann::json message = {{"from", from},
                            {"id", fmt::format("wamid.WINDOW{:06}{}", next++, secs)},
                            {"timestamp", std::to_string(secs)},
                            {"type", "text"},
                            {"text", {{"body", text}}}};
  nlohmann::json value = {
      {"messaging_product", "whatsapp"},
      {"metadata",
       {{"display_phone_number", "15550100000"}, {"phone_number_id", tenant.phone_number_id}}},
      {"contacts", {{{"profile", {{"name", "Customer"}}}, {"wa_id", from}}}},
      {"messages", {message}}};
  nlohmann::json body = {
      {"object", "whatsapp_business_account"},
      {"entry", {{{"id", "WABA"}, {"changes", {{{"field", "messages"}, {"value", value}}}}}}}};
  return body.dump();
}

void customer_wrote(const std::filesystem::path& db, const fixtures::TestTenant& tenant,
                    const std::string& from, std::chrono::system_clock::time_point at) {
  wabactl::Store store(db);
  std::string body = customer_text_webhook(tenant, from, at);
  store.transaction([&] {
    wabactl::record_delivery(store, body, wabactl::parse_delivery(body),
                             {{tenant.phone_number_id, tenant.id}}, "/api/whatsapp/webhook",
                             tenant.app_secret);
  });
}

} // namespace testsupport
