#pragma once
// The start and end of a time range as a user gives them (`history --since/--until`, the
// REST messages route's `since`/`until`).

#include <chrono>
#include <string>
#include <string_view>

namespace wabactl {

/// A point in time given as ISO 8601 (`2026-11-24`, `2026-11-24T10:15`,
/// `2026-11-24T10:15:00Z`, `2026-11-24T10:15:00.5+02:00`; no zone means UTC, a date alone
/// its midnight, fractions of a second are dropped) or as a span back from `now`: a number
/// and `s`, `m`, `h`, `d` or `w` (`30m`, `24h`, `7d`). Returned as ISO 8601 UTC with seconds,
/// the form stored timestamps have, so they compare as text. Error(usage) naming `name`
/// (the flag or parameter) for anything else, for years outside 0000-9999 and for spans
/// longer than 100 years.
std::string parse_time_bound(std::string_view value, std::string_view name,
                             std::chrono::system_clock::time_point now);

} // namespace wabactl
