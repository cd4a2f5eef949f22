#pragma once
// Stores for the unit tests: a Store on a file in a temporary folder of its own, and a
// second connection of the test's own on that file for the SQL a test needs to set up or
// check what wabactl's interface does not offer. Tests never reach into the store's engine.

#include "support/temp_dir.hpp"
#include "wabactl/store.hpp"

#include <SQLiteCpp/Database.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

namespace testsupport {

namespace detail {
// A base of TempStore, so that the folder exists before the Store opens and is removed
// after it closes.
struct TempStoreFolder {
  TempDir folder;
};
} // namespace detail

/// A Store on `wabactl.db` in a fresh temporary folder (removed with it), with `tenants`
/// added. Durability::normal by default: a test does not need an fsync per commit.
class TempStore : private detail::TempStoreFolder, public wabactl::Store {
public:
  explicit TempStore(std::initializer_list<std::string> tenants = {},
                     wabactl::Durability durability = wabactl::Durability::normal);
  TempStore(const TempStore&) = delete;
  TempStore& operator=(const TempStore&) = delete;

  /// The folder the database is in, for other files a test needs beside it.
  const TempDir& dir() const { return folder; }
};

/// A connection of the test's own on the database file at `db`, for raw SQL. Like the
/// store's connections it enforces foreign keys and waits up to 10 s for a write lock
/// another connection holds.
SQLite::Database raw_db(const std::filesystem::path& db);
/// The same on `store`'s file.
SQLite::Database raw_db(const wabactl::Store& store);

/// An outgoing message as a finished send leaves it, for tests that need one without sending.
struct OutgoingRow {
  std::string tenant;
  std::string phone;
  std::string wamid;
  std::string status = "sent";
  std::string timestamp = "2026-01-01T00:00:00Z";
  std::string text = "Your invoice";
};
/// Writes `row` with raw SQL (its status_rank that of its status).
void insert_outgoing(const wabactl::Store& store, const OutgoingRow& row);

/// The integer in the first column of the first row of `sql`, read on a raw connection.
std::int64_t query_int(const wabactl::Store& store, const std::string& sql);

/// One row of the event log with its Event JSON parsed.
struct Event {
  std::int64_t id = 0;
  std::string type;
  std::string tenant_id;
  std::string at;
  nlohmann::json data;
};

/// The events of `tenant` with id > `after`, oldest first, at most `limit` (the store's
/// event_rows_after, parsed).
std::vector<Event> events_after(wabactl::Store& store, const std::string& tenant,
                                std::int64_t after, std::size_t limit);

} // namespace testsupport
