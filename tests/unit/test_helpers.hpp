#pragma once
// Helpers shared by the unit tests: scoped environment variables, the exit code and
// message of a wabactl::Error a call throws.

#include "wabactl/error.hpp"

#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace testhelpers {

/// Sets (or, with nullopt, unsets) environment variables for one scope and restores the
/// previous values on destruction, so tests do not leak settings into each other.
class ScopedEnv {
public:
  ScopedEnv(std::initializer_list<std::pair<const char*, std::optional<std::string>>> vars) {
    for (const auto& [name, value] : vars) {
      const char* old = std::getenv(name);
      saved_.emplace(name, old ? std::optional<std::string>(old) : std::nullopt);
      if (value) {
        ::setenv(name, value->c_str(), 1);
      } else {
        ::unsetenv(name);
      }
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }

private:
  std::map<std::string, std::optional<std::string>> saved_;
};

/// The exit code of the Error `fn` throws, or Exit::ok when it returns normally.
inline wabactl::Exit code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const wabactl::Error& e) {
    return e.code();
  }
  return wabactl::Exit::ok;
}

/// The message of the Error `fn` throws, or "" when it returns normally.
inline std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const wabactl::Error& e) {
    return e.what();
  }
  return {};
}

/// The message and hint ("message | hint") of the Error `fn` throws, or "" when it returns
/// normally.
inline std::string message_and_hint_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const wabactl::Error& e) {
    return std::string(e.what()) + " | " + e.hint();
  }
  return {};
}

} // namespace testhelpers
