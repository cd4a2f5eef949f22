#include "store/search.hpp"

#include "store/sql.hpp"
#include "wabactl/error.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <array>
#include <memory>
#include <vector>

namespace wabactl {
namespace {

// Below this many matches a search reads its matches and sorts them (cost: the matches);
// above, it walks the time index and keeps the rows that match (cost: the matches' rowids
// once, then only the rows up to a page). Measured on 1,000,000 messages: 10,000 matches by
// the first way take ~20 ms, a word in every message by the second ~0.3 s against ~1 s.
constexpr int few_matches_bound = 10000;

Error no_words() {
  return Error(Exit::usage, "the search has no words to look for (only punctuation or symbols)",
               "search for whole words, or a word's start followed by '*' (ref*)");
}

fts5_api* fts5(sqlite3* db) {
  fts5_api* api = nullptr;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &stmt, nullptr) == SQLITE_OK) {
    sqlite3_bind_pointer(stmt, 1, static_cast<void*>(&api), "fts5_api_ptr", nullptr);
    sqlite3_step(stmt);
  }
  sqlite3_finalize(stmt);
  if (api == nullptr) throw StoreError("this SQLite has no FTS5");
  return api;
}

// The index's tokenizer (migration 15's `unicode61 remove_diacritics 2`), so a query is cut
// and folded exactly as the stored text was.
class Tokenizer {
public:
  explicit Tokenizer(sqlite3* db) {
    fts5_api* api = fts5(db);
    void* context = nullptr;
    if (api->xFindTokenizer(api, "unicode61", &context, &module_) != SQLITE_OK) {
      throw StoreError("FTS5 has no unicode61 tokenizer");
    }
    std::array<const char*, 2> args = {"remove_diacritics", "2"};
    if (module_.xCreate(context, args.data(), static_cast<int>(args.size()), &tokenizer_) !=
        SQLITE_OK) {
      throw StoreError("FTS5's unicode61 tokenizer refused remove_diacritics 2");
    }
  }
  ~Tokenizer() { module_.xDelete(tokenizer_); }
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  std::vector<std::string> tokens(std::string_view text) {
    std::vector<std::string> out;
    auto add = [](void* ctx, int, const char* token, int size, int, int) -> int {
      static_cast<std::vector<std::string>*>(ctx)->emplace_back(token,
                                                                static_cast<std::size_t>(size));
      return SQLITE_OK;
    };
    if (module_.xTokenize(tokenizer_, &out, FTS5_TOKENIZE_QUERY, text.data(),
                          static_cast<int>(text.size()), add) != SQLITE_OK) {
      throw StoreError("FTS5's tokenizer failed");
    }
    return out;
  }

private:
  fts5_tokenizer module_{};
  Fts5Tokenizer* tokenizer_ = nullptr;
};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

} // namespace

std::string match_expression(Store& store, std::string_view words) {
  if (words.size() > max_search_length) {
    throw Error(Exit::usage, fmt::format("the search is longer than {} bytes", max_search_length));
  }
  if (!valid_utf8(words)) throw Error(Exit::usage, "the search is not valid UTF-8");
  Tokenizer tokenizer(sqlite(store).getHandle());
  std::string match;
  std::size_t pos = 0;
  while (pos < words.size()) {
    while (pos < words.size() && is_space(words[pos])) ++pos;
    std::size_t end = pos;
    while (end < words.size() && !is_space(words[end])) ++end;
    std::string_view word = words.substr(pos, end - pos);
    pos = end;
    if (word.empty()) continue;
    auto tokens = tokenizer.tokens(word);
    if (tokens.empty()) continue;
    if (!match.empty()) match += ' ';
    // A phrase of the word's tokens: `e-mail` is the phrase "e mail", as in the text.
    match += '"';
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) match += ' ';
      for (char c : tokens[i]) match += c == '"' ? std::string("\"\"") : std::string(1, c);
    }
    match += '"';
    if (word.back() == '*') match += '*';
  }
  if (match.empty()) throw no_words();
  return match;
}

bool few_matches(Store& store, const std::string& match) {
  auto q = prepare(store, fmt::format("SELECT count(*) FROM (SELECT rowid FROM message_search "
                                      "WHERE message_search MATCH ? LIMIT {})",
                                      few_matches_bound));
  q->bind(1, match);
  q->executeStep();
  return q->getColumn(0).getInt() < few_matches_bound;
}

} // namespace wabactl
