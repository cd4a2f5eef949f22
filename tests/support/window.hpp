#pragma once
// The customer-service window (CONTRACT.md §8) opened as Meta opens it: the customer writes.
// Tests of sending free-form messages first have the recipient write, through the same
// webhook ingest the daemon runs, into the database the real binary uses.

#include "support/fixtures.hpp"

#include <chrono>
#include <filesystem>
#include <string>

namespace testsupport {

/// Meta's webhook body for a text from `from` (digits) to `tenant`'s number, sent at `at`.
std::string customer_text_webhook(const fixtures::TestTenant& tenant, const std::string& from,
                                  std::chrono::system_clock::time_point at,
                                  const std::string& text = "hello");

/// Stores a text from `from` to `tenant` sent at `at` (default: now) in the database `db`,
/// which opens the window with `from` until 24 h after `at`.
void customer_wrote(const std::filesystem::path& db, const fixtures::TestTenant& tenant,
                    const std::string& from,
                    std::chrono::system_clock::time_point at = std::chrono::system_clock::now());

} // namespace testsupport
