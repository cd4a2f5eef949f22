#pragma once
// Binding and reading SQL NULLs as std::optional, for the modules that write SQL.

#include <SQLiteCpp/SQLiteCpp.h>

#include <optional>
#include <string>

namespace wabactl {

/// A column's text, or nullopt when it is NULL.
inline std::optional<std::string> opt_text(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getString();
}

/// Binds `v` to the parameter `key` (index or name), or NULL when it is nullopt.
template <typename Key, typename T>
void bind_opt(SQLite::Statement& q, Key key, const std::optional<T>& v) {
  if (v) {
    q.bind(key, *v);
  } else {
    q.bind(key);
  }
}

} // namespace wabactl
