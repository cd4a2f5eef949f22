// "Did you mean": which known name a mistyped one is taken for, and when none is offered.
#include "wabactl/suggest.hpp"

#include <doctest/doctest.h>

using wabactl::closest_match;

TEST_CASE("suggest: one edit on a short word, two on a longer one") {
  const std::vector<std::string> commands = {"key",     "tenant", "config", "send",
                                             "history", "unread", "status", "serve"};
  CHECK(closest_match("tenat", commands) == "tenant");    // a deletion
  CHECK(closest_match("tennant", commands) == "tenant");  // an insertion
  CHECK(closest_match("histroy", commands) == "history"); // a swap counts as one edit
  CHECK(closest_match("confg", commands) == "config");
  CHECK(closest_match("kye", commands) == "key"); // a swap in a short word
  CHECK(closest_match("sned", commands) == "send");
  CHECK(closest_match("hstry", commands) == "history"); // two edits in a long word
  CHECK(closest_match("--jsn", {"--json", "--db"}) == "--json");
}

TEST_CASE("suggest: nothing when no candidate is close, or the word is one of them") {
  const std::vector<std::string> commands = {"key", "tenant", "config", "send"};
  CHECK_FALSE(closest_match("bogus", commands));
  CHECK_FALSE(closest_match("kxz", commands)); // two edits in a short word
  CHECK_FALSE(closest_match("x", commands));
  CHECK_FALSE(closest_match("", commands));
  CHECK_FALSE(closest_match("send", commands)); // not a typo
  CHECK_FALSE(closest_match("tenat", {}));
  // A tenant id one edit from a short existing one is offered; the typo itself never is.
  CHECK(closest_match("acm", {"acme", "beta"}) == "acme");
  CHECK_FALSE(closest_match("zzz", {"acme", "beta"}));
}

TEST_CASE("suggest: the nearest candidate wins, ties go to the first listed") {
  CHECK(closest_match("statu", {"serve", "status"}) == "status");
  CHECK(closest_match("sta", {"stb", "stc"}) == "stb");
  CHECK(closest_match("abcdefgh", {"abcdefxy", "abcdefgx"}) == "abcdefgx");
  // Very long input costs no more than its length times the candidate's.
  CHECK_FALSE(closest_match(std::string(10000, 'a'), {"tenant"}));
}
