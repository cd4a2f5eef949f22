#pragma once
// Logging to stderr. One macro that costs nothing when the level is off; under systemd
// (JOURNAL_STREAM set) lines carry no timestamp because journald adds its own. Never pass
// secrets: mask them with mask_secret() first.

#include <fmt/format.h>

#include <atomic>
#include <string_view>

namespace wabactl::log {

enum class Level : int { error = 0, warn = 1, info = 2, debug = 3 };

/// The current threshold; messages above it are not formatted at all.
extern std::atomic<int> threshold;

/// Sets the threshold from the -q/-v counts: quiet shows errors only, each -v adds a level.
void configure(int verbosity);
/// Writes one line at `level` (the caller has checked the threshold).
void write(Level level, std::string_view line);

} // namespace wabactl::log

#define WABACTL_LOG(level, ...)                                                                    \
  do {                                                                                             \
    if (static_cast<int>(level) <= ::wabactl::log::threshold.load(std::memory_order_relaxed)) {    \
      ::wabactl::log::write(level, ::fmt::format(__VA_ARGS__));                                    \
    }                                                                                              \
  } while (0)

#define LOG_ERROR(...) WABACTL_LOG(::wabactl::log::Level::error, __VA_ARGS__)
#define LOG_WARN(...) WABACTL_LOG(::wabactl::log::Level::warn, __VA_ARGS__)
#define LOG_INFO(...) WABACTL_LOG(::wabactl::log::Level::info, __VA_ARGS__)
#define LOG_DEBUG(...) WABACTL_LOG(::wabactl::log::Level::debug, __VA_ARGS__)
