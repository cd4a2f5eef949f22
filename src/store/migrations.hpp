#pragma once
#include <vector>

namespace SQLite {
class Database;
}

namespace wabactl {
/// The forward migrations, in order: entry i moves the schema from version i to i+1.
const std::vector<const char*>& migrations();
/// Migrates the open database forward to `target`, one transaction a step; a newer schema
/// than this build knows is refused with a clear error.
void migrate(SQLite::Database& db, int target);
} // namespace wabactl
