#pragma once
// Helpers shared by the unit tests: scoped environment variables.

#include <cstdlib>
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

} // namespace testhelpers
