#include "send/text.hpp"

#include "wabactl/util.hpp"

namespace wabactl {

std::optional<std::size_t> utf8_length(std::string_view s) {
  std::size_t count = 0;
  while (!s.empty()) {
    auto c = decode_utf8(s);
    if (!c) return std::nullopt;
    s.remove_prefix(c->length);
    ++count;
  }
  return count;
}

} // namespace wabactl
