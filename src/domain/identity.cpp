#include "wabactl/identity.hpp"

#include "wabactl/error.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>

namespace wabactl {

bool valid_tenant_id(std::string_view id) {
  if (id.empty() || id.size() > 64) {
    return false;
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(id[0])) {
    return false;
  }
  for (char c : id.substr(1)) {
    if (!alnum(c) && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

void require_tenant_id(std::string_view id) {
  if (!valid_tenant_id(id)) {
    std::string shown(id.substr(0, 80));
    throw Error(Exit::usage,
                fmt::format("invalid tenant id '{}'{}: use 1-64 characters of a-z, 0-9, '_' and "
                            "'-', starting with a letter or digit",
                            shown, id.size() > 80 ? "..." : ""));
  }
}

std::optional<std::string> normalize_phone(std::string_view input) {
  std::string_view s = trim(input);
  if (s.size() > 64) return std::nullopt;
  std::string digits;
  bool plus_seen = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
    } else if (c == '+' && digits.empty() && !plus_seen) {
      plus_seen = true;
    } else if (c == ' ' || c == '-' || c == '(' || c == ')' || c == '.') {
      continue;
    } else {
      return std::nullopt;
    }
  }
  // E.164 numbers have at most 15 digits; the shortest real ones have 7 or 8.
  if (digits.size() < 7 || digits.size() > 15 || digits[0] == '0') return std::nullopt;
  return digits;
}

bool is_business_scoped_user_id(std::string_view s) {
  // Two-letter country prefix, a dot, then an opaque id of letters and digits.
  if (s.size() < 4 || s.size() > 128 || s[2] != '.') return false;
  for (std::size_t i = 0; i < 2; ++i) {
    if (s[i] < 'A' || s[i] > 'Z') return false;
  }
  for (char c : s.substr(3)) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Peer parse_peer(std::string_view input) {
  std::string_view v = trim(input);
  if (is_business_scoped_user_id(v)) return Peer{std::nullopt, std::string(v)};
  if (auto digits = normalize_phone(v)) return Peer{*digits, std::nullopt};
  std::string shown(v.substr(0, 64));
  bool printable = valid_utf8(shown);
  for (unsigned char c : shown) printable = printable && c >= 0x20 && c != 0x7f;
  throw Error(Exit::usage,
              printable ? fmt::format("'{}' is not a phone number or a WhatsApp user id", shown)
                        : std::string("the recipient is not a phone number or a WhatsApp user id"),
              "give the number in international form (+15551234567) or a user id (US.1349…)");
}

} // namespace wabactl
