#pragma once
// Full-text search of messages (CONTRACT.md §13), inside the store: the words a user typed
// become an FTS5 query over the message_search index (migration 15).

#include "wabactl/store.hpp"

#include <string>
#include <string_view>

namespace wabactl {

/// The longest search (bytes) a query may carry.
inline constexpr std::size_t max_search_length = 1024;

/// The FTS5 MATCH expression that finds messages containing every word of `words`. Each
/// word (split at whitespace) is cut into tokens by the index's own tokenizer and quoted as
/// one phrase, so no character the user typed is FTS5 syntax; a word ending in `*` is a
/// prefix. Error(usage) when `words` is too long, not UTF-8, or holds no word characters.
std::string match_expression(Store& store, std::string_view words);

/// Whether a search matches so few messages that reading them by the index and sorting
/// them by time beats walking the tenant's messages in time order and testing each.
bool few_matches(Store& store, const std::string& match);

} // namespace wabactl
