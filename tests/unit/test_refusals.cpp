// Unit tests of the refusal log: counted by route and reason, at most N lines a second for
// each, the rest summed up.
#include "server/refusals.hpp"

#include <doctest/doctest.h>

using wabactl::server::Metrics;
using wabactl::server::Refusals;

TEST_CASE("refusals are counted by route and reason and their log lines are rate-limited") {
  Metrics metrics;
  Refusals refusals(metrics, 3);
  auto t0 = Refusals::Clock::now();
  std::size_t lines = 0;
  for (int i = 0; i < 20; ++i) {
    auto out = refusals.note("webhook", "signature", 401, "198.51.100.7", "invalid signature",
                             t0 + std::chrono::milliseconds(i));
    lines += out.size();
    if (i < 3) {
      REQUIRE(out.size() == 1);
      CHECK(out[0] == "webhook request refused: 401 invalid signature (signature) from "
                      "198.51.100.7");
    }
  }
  CHECK(lines == 3);
  // Another reason has its own allowance.
  CHECK(refusals.note("api", "token", 401, "198.51.100.7", "bad token", t0).size() == 1);
  // A second later: the summary of what was left out, then the refusal itself.
  auto later = refusals.note("webhook", "signature", 401, "198.51.100.7", "invalid signature",
                             t0 + std::chrono::seconds(1));
  REQUIRE(later.size() == 2);
  CHECK(later[0] == "webhook refusals: suppressed 17 similar refusals (signature)");
  // An address is logged as one clean line.
  auto odd = refusals.note("api", "no_token", 401, "a b\nc", "missing", t0);
  REQUIRE(odd.size() == 1);
  CHECK(odd[0].find('\n') == std::string::npos);
  CHECK(odd[0].find("from a?b?c") != std::string::npos);

  std::string text = metrics.render();
  CHECK(text.find("wabactl_requests_refused_total{route=\"webhook\",reason=\"signature\"} 21\n") !=
        std::string::npos);
  CHECK(text.find("wabactl_requests_refused_total{route=\"api\",reason=\"token\"} 1\n") !=
        std::string::npos);
}
