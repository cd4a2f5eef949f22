#pragma once
// Shared fixtures of the send tests: a tenant with a config pointing at a FakeGraph, and a
// fake clock that never sleeps.

#include "support/fixtures.hpp"
#include "support/support.hpp"
#include "wabactl/configs.hpp"
#include "wabactl/secrets.hpp"
#include "wabactl/send.hpp"
#include "wabactl/store.hpp"
#include "wabactl/tenants.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <vector>

namespace sendtest {

/// Virtual time: sleeping moves it forward at once and is recorded.
class FakeClock final : public wabactl::Clock {
public:
  std::chrono::nanoseconds now() override { return std::chrono::nanoseconds(t_.load()); }
  void sleep_until(std::chrono::nanoseconds t) override {
    auto cur = t_.load();
    {
      std::lock_guard lock(mu_);
      if (t.count() > cur) sleeps_.push_back(std::chrono::nanoseconds(t.count() - cur));
    }
    while (cur < t.count() && !t_.compare_exchange_weak(cur, t.count())) {
    }
  }
  /// The sleeps asked for (only those that moved time), in order.
  std::vector<std::chrono::nanoseconds> sleeps() {
    std::lock_guard lock(mu_);
    return sleeps_;
  }

private:
  std::atomic<std::int64_t> t_{1'000'000'000'000};
  std::mutex mu_;
  std::vector<std::chrono::nanoseconds> sleeps_;
};

inline const unsigned char key_bytes[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                            12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                            23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
// The send tests' tenant is fixtures::acme: its token and number by short names.
inline const std::string& token = fixtures::acme.access_token;
inline const std::string& phone_number_id = fixtures::acme.phone_number_id;

/// A database with tenant "acme" configured against a FakeGraph (and tenant "other" with
/// no config).
struct Fixture {
  testsupport::TempDir dir;
  testsupport::FakeGraph graph;
  wabactl::MasterKey key{key_bytes, "test"};
  wabactl::Store store{dir / "wabactl.db"};
  wabactl::SharedStore shared{store};
  FakeClock clock;

  Fixture() {
    wabactl::init_crypto();
    fixtures::add_tenant_config(store, key, fixtures::acme, graph.url());
    wabactl::add_tenant(store, "other", std::nullopt);
    graph.accept_token(token);
  }

  wabactl::SendTarget target() {
    auto t = wabactl::send_target(
        store, [this]() -> const wabactl::MasterKey& { return key; }, "acme");
    REQUIRE(t);
    return *t;
  }

  static wabactl::SendPolicy policy() {
    wabactl::SendPolicy p;
    p.timeouts = {std::chrono::milliseconds(2000), std::chrono::milliseconds(2000)};
    return p;
  }

  wabactl::SendOutcome send(const wabactl::SendRequest& r,
                            const wabactl::SendPolicy& p = policy()) {
    wabactl::Sender sender(shared, target(), p, clock);
    return sender.send(wabactl::prepare_send(r));
  }

  /// The JSON bodies of every POST .../messages, in order.
  std::vector<nlohmann::json> message_bodies() const {
    std::vector<nlohmann::json> out;
    for (const auto& r : graph.requests()) {
      if (r.method == "POST" && r.path == "/v25.0/" + phone_number_id + "/messages") {
        out.push_back(nlohmann::json::parse(r.body));
      }
    }
    return out;
  }
};

inline wabactl::SendRequest text_to(const std::string& to, const std::string& body) {
  wabactl::SendRequest r;
  r.tenant = "acme";
  r.to = to;
  r.content.kind = wabactl::ContentKind::text;
  r.content.text = body;
  return r;
}

} // namespace sendtest
