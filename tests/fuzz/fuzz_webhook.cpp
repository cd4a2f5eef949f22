// libFuzzer target for the webhook path the daemon runs on bytes from the network:
// signature check, parse, and ingest into a store on a temporary file.

#include "support/fixtures.hpp"
#include "support/signing.hpp"
#include "support/temp_store.hpp"
#include "wabactl/error.hpp"
#include "wabactl/inbox.hpp"
#include "wabactl/log.hpp"
#include "wabactl/store.hpp"
#include "wabactl/webhook.hpp"

#include <sodium.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

namespace {

constexpr std::string_view secret = "fuzz-app-secret";

// A fresh store every few thousand inputs keeps memory flat across a long run.
wabactl::Store& store() {
  static std::unique_ptr<testsupport::TempStore> s;
  static unsigned uses = 0;
  if (!s || ++uses % 2000 == 0) {
    s.reset();
    s = std::make_unique<testsupport::TempStore>(
        std::initializer_list<std::string>{"acme", "beta"});
  }
  return *s;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Value-level errors in fuzzed bodies would otherwise log a warning per input.
  wabactl::log::threshold.store(static_cast<int>(wabactl::log::Level::error));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (sodium_init() < 0) std::abort();
  std::string_view body(reinterpret_cast<const char*>(data), size);

  // The body used as its own header must never verify; its real HMAC always must.
  std::string header = testsupport::signature_header(body, secret);
  if (!testsupport::verifies(body, header, secret)) std::abort();
  if (testsupport::verifies(body, body, secret)) std::abort();
  auto tenants = wabactl::authenticate(body, header, {{std::string(secret), {"acme"}, false}});
  if (tenants.size() != 1) std::abort();
  if (auto escaped = wabactl::escape_non_ascii(body)) {
    if (!testsupport::verifies(body, testsupport::signature_header(*escaped, secret), secret))
      std::abort();
  }

  wabactl::ParsedDelivery parsed;
  try {
    parsed = wabactl::parse_delivery(body);
  } catch (const wabactl::Error& e) {
    if (e.code() != wabactl::Exit::usage) std::abort();
    return 0;
  }
  auto& s = store();
  const auto numbers = fixtures::numbers({fixtures::acme, fixtures::beta});
  s.transaction([&] { wabactl::record_delivery(s, body, parsed, numbers, "/fuzz", "fuzz"); });
  // Ingesting the same bytes again must add nothing.
  wabactl::IngestStats again;
  s.transaction(
      [&] { again = wabactl::record_delivery(s, body, parsed, numbers, "/fuzz", "fuzz"); });
  if (!again.duplicate_delivery || again.messages != 0 || again.statuses != 0 ||
      !again.event_ids.empty()) {
    std::abort();
  }
  return 0;
}
