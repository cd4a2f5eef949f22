// Unit tests of --since/--until and REST since/until values (CONTRACT.md §13).
#include "unit/test_helpers.hpp"
#include "wabactl/error.hpp"
#include "wabactl/time_bound.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace wabactl;
using testhelpers::code_of;
using testhelpers::message_and_hint_of;

namespace {

// 2026-11-24T10:15:00Z.
const std::chrono::system_clock::time_point now{std::chrono::seconds(1795515300)};

std::string bound(std::string_view v) {
  return parse_time_bound(v, "--since", now);
}

} // namespace

TEST_CASE("a time bound reads ISO 8601 in its common spellings as UTC seconds") {
  CHECK(bound("2026-11-24T10:15:00Z") == "2026-11-24T10:15:00Z");
  CHECK(bound("2026-11-24") == "2026-11-24T00:00:00Z");
  CHECK(bound("2026-11-24T10:15") == "2026-11-24T10:15:00Z");
  CHECK(bound("2026-11-24 10:15:30") == "2026-11-24T10:15:30Z");
  CHECK(bound("2026-11-24t10:15:30z") == "2026-11-24T10:15:30Z");
  CHECK(bound("2026-11-24T10:15:30.999Z") == "2026-11-24T10:15:30Z");
  CHECK(bound("2026-11-24T10:15:00+02:00") == "2026-11-24T08:15:00Z");
  CHECK(bound("2026-11-24T01:15:00+0200") == "2026-11-23T23:15:00Z");
  CHECK(bound("2026-11-24T23:30:00-01:00") == "2026-11-25T00:30:00Z");
  CHECK(bound("2024-02-29") == "2024-02-29T00:00:00Z");
  CHECK(bound("  2026-11-24  ") == "2026-11-24T00:00:00Z");
}

TEST_CASE("a time bound reads a span back from now") {
  CHECK(bound("30m") == "2026-11-24T09:45:00Z");
  CHECK(bound("24h") == "2026-11-23T10:15:00Z");
  CHECK(bound("7d") == "2026-11-17T10:15:00Z");
  CHECK(bound("2w") == "2026-11-10T10:15:00Z");
  CHECK(bound("90s") == "2026-11-24T10:13:30Z");
  CHECK(bound("0d") == "2026-11-24T10:15:00Z");
}

TEST_CASE("a malformed, hostile or out-of-range time bound is a usage error naming the flag") {
  for (const std::string& v : std::vector<std::string>{"",
                                                       " ",
                                                       "yesterday",
                                                       "7",
                                                       "d",
                                                       "7y",
                                                       "-7d",
                                                       "+7d",
                                                       "7 d",
                                                       "1.5h",
                                                       "2026-13-01",
                                                       "2026-02-30",
                                                       "2023-02-29",
                                                       "2026-11-24T24:00",
                                                       "2026-11-24T10:60",
                                                       "2026-11-24T10:15:00+25:00",
                                                       "2026-11-24T10:15:00Zjunk",
                                                       "2026-11-24T",
                                                       "2026-11-24T10:15:00.",
                                                       "26-11-24",
                                                       "2026/11/24",
                                                       "99999999999999999999d",
                                                       "36525d00",
                                                       "40000d",
                                                       "\"; DROP TABLE x",
                                                       std::string(10 * 1024, '1') + "d",
                                                       "0000-01-01T00:00:00+01:00",
                                                       std::string("2026-11-24\0Z", 12)}) {
    CAPTURE(v);
    CHECK(code_of([&] { bound(v); }) == Exit::usage);
  }
  CHECK(message_and_hint_of([&] { bound("soon"); }) ==
        "--since 'soon' is not a time | give an ISO 8601 time (2026-11-24T10:15:00Z) or a span "
        "back from now (30m, 24h, 7d)");
  CHECK(message_and_hint_of([&] {
          parse_time_bound("", "'until'", now);
        }).starts_with("'until' must not be empty"));
  CHECK(bound("9999-12-31T23:59:59Z") == "9999-12-31T23:59:59Z");
  CHECK(bound("0000-01-01") == "0000-01-01T00:00:00Z");
}
