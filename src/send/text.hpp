#pragma once
// Text helpers of the send module.

#include <cstddef>
#include <optional>
#include <string_view>

namespace wabactl {

/// The number of code points in `s`, or nullopt when it is not valid UTF-8 (overlong
/// forms, surrogates and values above U+10FFFF are invalid).
std::optional<std::size_t> utf8_length(std::string_view s);

} // namespace wabactl
