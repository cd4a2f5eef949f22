#include "wabactl/log.hpp"

#include "wabactl/util.hpp"

#include <cstdio>
#include <mutex>
#include <string>

namespace wabactl::log {

std::atomic<int> threshold{static_cast<int>(Level::warn)};

void configure(int verbosity) {
  int level = static_cast<int>(Level::warn) + verbosity;
  if (level < 0) level = 0;
  if (level > static_cast<int>(Level::debug)) level = static_cast<int>(Level::debug);
  threshold.store(level);
}

void write(Level level, std::string_view line) {
  static const bool journald = env("JOURNAL_STREAM").has_value();
  static std::mutex mu;
  static constexpr const char* names[] = {"error", "warning", "info", "debug"};
  std::string out;
  if (journald) {
    // sd-daemon(3) priority prefixes let journald keep the level.
    static constexpr const char* prio[] = {"<3>", "<4>", "<6>", "<7>"};
    out = fmt::format("{}{}\n", prio[static_cast<int>(level)], line);
  } else {
    out = fmt::format("{} wabactl: {}: {}\n", now_iso(), names[static_cast<int>(level)], line);
  }
  std::lock_guard lock(mu);
  std::fwrite(out.data(), 1, out.size(), stderr);
  std::fflush(stderr);
}

} // namespace wabactl::log
