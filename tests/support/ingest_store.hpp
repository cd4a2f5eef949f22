#pragma once
// A store that webhook bodies are ingested into as the daemon's writer stores them
// (record_delivery in one transaction), for the ingest, revision and coexistence tests.

#include "support/fixtures.hpp"
#include "support/temp_store.hpp"
#include "wabactl/inbox.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace testsupport {

/// Tenants acme and beta with the fixtures' phone numbers.
struct IngestStore {
  TempStore store{"acme", "beta"};
  std::map<std::string, std::string> numbers = fixtures::numbers({fixtures::acme, fixtures::beta});

  /// Parses and stores `body`, for the numbers of `only` when given (else every tenant's).
  wabactl::IngestStats ingest(const std::string& body,
                              const std::optional<std::map<std::string, std::string>>& only = {});
  /// The first column of the first row of `sql`.
  std::int64_t count(const std::string& sql);
  /// The types of `tenant`'s events, oldest first.
  std::vector<std::string> event_types(const std::string& tenant = "acme");
};

} // namespace testsupport
