#include "support/ingest_store.hpp"

#include "support/support.hpp"
#include "wabactl/webhook.hpp"

namespace testsupport {

wabactl::IngestStats
IngestStore::ingest(const std::string& body,
                    const std::optional<std::map<std::string, std::string>>& only) {
  wabactl::IngestStats stats;
  store.transaction([&] {
    stats = wabactl::record_delivery(store, body, wabactl::parse_delivery(body),
                                     only ? *only : numbers, "/api/whatsapp/webhook", "app-secret");
  });
  return stats;
}

std::int64_t IngestStore::count(const std::string& sql) {
  return query_int(store, sql);
}

std::vector<std::string> IngestStore::event_types(const std::string& tenant) {
  std::vector<std::string> out;
  for (const auto& e : events_after(store, tenant, 0, 10000)) out.push_back(e.type);
  return out;
}

} // namespace testsupport
