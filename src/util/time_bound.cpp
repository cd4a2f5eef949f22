#include "wabactl/time_bound.hpp"

#include "wabactl/error.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>

#include <charconv>
#include <optional>

namespace wabactl {
namespace {

using namespace std::chrono;

constexpr std::size_t max_length = 64;
constexpr std::int64_t max_span_seconds = 100LL * 366 * 24 * 3600;

// Reads exactly `digits` decimal digits at `pos`, advancing it.
std::optional<int> fixed_number(std::string_view s, std::size_t& pos, std::size_t digits) {
  if (pos + digits > s.size()) return std::nullopt;
  int v = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  pos += digits;
  return v;
}

bool take(std::string_view s, std::size_t& pos, char c) {
  if (pos < s.size() && s[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

std::optional<std::int64_t> span_back(std::string_view s) {
  if (s.size() < 2) return std::nullopt;
  std::int64_t unit = 0;
  switch (s.back()) {
  case 's':
    unit = 1;
    break;
  case 'm':
    unit = 60;
    break;
  case 'h':
    unit = 3600;
    break;
  case 'd':
    unit = 86400;
    break;
  case 'w':
    unit = 7 * 86400;
    break;
  default:
    return std::nullopt;
  }
  std::string_view digits = s.substr(0, s.size() - 1);
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec == std::errc::result_out_of_range) return max_span_seconds + 1;
  if (ec != std::errc() || end != digits.data() + digits.size() || n < 0) return std::nullopt;
  if (n > max_span_seconds / unit) return max_span_seconds + 1;
  return n * unit;
}

// Unix seconds of an ISO 8601 date or date-time, nullopt when it is not one.
std::optional<std::int64_t> iso_seconds(std::string_view s) {
  std::size_t pos = 0;
  auto y = fixed_number(s, pos, 4);
  if (!y || !take(s, pos, '-')) return std::nullopt;
  auto mo = fixed_number(s, pos, 2);
  if (!mo || !take(s, pos, '-')) return std::nullopt;
  auto d = fixed_number(s, pos, 2);
  if (!d) return std::nullopt;
  year_month_day date{year{*y}, month{static_cast<unsigned>(*mo)}, day{static_cast<unsigned>(*d)}};
  if (!date.ok()) return std::nullopt;
  std::int64_t seconds = sys_seconds(sys_days(date)).time_since_epoch().count();
  if (pos == s.size()) return seconds;
  if (!take(s, pos, 'T') && !take(s, pos, 't') && !take(s, pos, ' ')) return std::nullopt;
  auto h = fixed_number(s, pos, 2);
  if (!h || *h > 23 || !take(s, pos, ':')) return std::nullopt;
  auto mi = fixed_number(s, pos, 2);
  if (!mi || *mi > 59) return std::nullopt;
  int sec = 0;
  if (take(s, pos, ':')) {
    auto v = fixed_number(s, pos, 2);
    if (!v || *v > 60) return std::nullopt; // 60: a leap second, read as the next one
    sec = *v;
    if (take(s, pos, '.') || take(s, pos, ',')) {
      std::size_t start = pos;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
      if (pos == start) return std::nullopt;
    }
  }
  seconds += *h * 3600 + *mi * 60 + sec;
  if (pos == s.size() || take(s, pos, 'Z') || take(s, pos, 'z')) {
    return pos == s.size() ? std::optional(seconds) : std::nullopt;
  }
  int sign = s[pos] == '+' ? -1 : s[pos] == '-' ? 1 : 0;
  if (sign == 0) return std::nullopt;
  ++pos;
  auto oh = fixed_number(s, pos, 2);
  if (!oh || *oh > 23) return std::nullopt;
  take(s, pos, ':');
  auto om = fixed_number(s, pos, 2);
  if (!om || *om > 59 || pos != s.size()) return std::nullopt;
  return seconds + sign * (*oh * 3600 + *om * 60);
}

} // namespace

std::string parse_time_bound(std::string_view value, std::string_view name,
                             system_clock::time_point now) {
  std::string_view v = trim(value);
  auto bad = [&](std::string_view why) {
    std::string shown(v.substr(0, max_length));
    if (!valid_utf8(shown)) shown = "…";
    return Error(Exit::usage, fmt::format("{} '{}' {}", name, shown, why),
                 "give an ISO 8601 time (2026-11-24T10:15:00Z) or a span back from now (30m, "
                 "24h, 7d)");
  };
  if (v.empty()) throw Error(Exit::usage, fmt::format("{} must not be empty", name));
  if (v.size() > max_length) throw bad("is too long");
  if (auto span = span_back(v)) {
    if (*span > max_span_seconds) throw bad("reaches back more than 100 years");
    return iso_from_unix(floor<seconds>(now).time_since_epoch().count() - *span);
  }
  auto at = iso_seconds(v);
  if (!at) throw bad("is not a time");
  std::string iso = iso_from_unix(*at);
  // iso_from_unix clamps: a zone offset that moved the instant out of 0000-9999 is refused.
  if (iso_seconds(iso) != at) throw bad("is outside the years 0000 to 9999");
  return iso;
}

} // namespace wabactl
