#include "server/stream_slots.hpp"

#include <doctest/doctest.h>

using wabactl::server::StreamSlots;

TEST_CASE("stream slots: a lone tenant leaves the reserve free, a newcomer still gets in") {
  StreamSlots slots(32); // reserve: 2
  int acme = 0;
  while (slots.acquire("acme")) ++acme;
  CHECK(acme == 30);
  CHECK(slots.acquire("globex"));
  CHECK(slots.acquire("initech"));
  CHECK(slots.taken() == 32);
  CHECK_FALSE(slots.acquire("umbrella"));
}

TEST_CASE("stream slots: a tenant holding streams is held to its share") {
  StreamSlots slots(32);
  REQUIRE(slots.acquire("globex"));
  int acme = 0;
  while (slots.acquire("acme")) ++acme;
  CHECK(acme == 16); // 32 / 2 tenants
  int globex = 1;
  while (slots.acquire("globex")) ++globex;
  CHECK(globex == 14); // its share is 16, but the last 2 slots are the reserve
  CHECK(slots.acquire("initech"));
}

TEST_CASE("stream slots: released slots are taken again, unknown releases change nothing") {
  StreamSlots slots(2); // reserve: 1
  REQUIRE(slots.acquire("acme"));
  CHECK_FALSE(slots.acquire("acme"));
  slots.release("nobody");
  CHECK(slots.taken() == 1);
  slots.release("acme");
  CHECK(slots.taken() == 0);
  CHECK(slots.acquire("acme"));
  CHECK(slots.acquire("globex"));
  CHECK_FALSE(slots.acquire("initech"));
}

TEST_CASE("stream slots: a cap of one serves one stream") {
  StreamSlots slots(1);
  CHECK(slots.acquire("acme"));
  CHECK_FALSE(slots.acquire("globex"));
  slots.release("acme");
  CHECK(slots.acquire("globex"));
}
