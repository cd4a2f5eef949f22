#pragma once
#include <vector>

namespace wabactl {
/// The forward migrations, in order: entry i moves the schema from version i to i+1.
const std::vector<const char*>& migrations();
} // namespace wabactl
