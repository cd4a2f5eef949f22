#pragma once
// "Did you mean …": the known name closest to a mistyped one.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wabactl {

/// The candidate closest to `typed` by edit distance (insertions, deletions, substitutions
/// and swaps of two neighbouring characters), if it is close enough to be a typo: at most
/// one edit for words of up to 4 characters, two for longer ones. Ties go to the earlier
/// candidate; an exact match is not a suggestion (nullopt).
std::optional<std::string> closest_match(std::string_view typed,
                                         const std::vector<std::string>& candidates);

} // namespace wabactl
