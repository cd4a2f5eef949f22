// Unit tests of the identity rules: tenant ids, phone numbers, business-scoped user ids.
#include "unit/test_helpers.hpp"
#include "wabactl/error.hpp"
#include "wabactl/identity.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace wabactl;
using testhelpers::code_of;

TEST_CASE("tenant ids follow [a-z0-9][a-z0-9_-]{0,63}") {
  const std::string max(64, 'a');
  const std::string over(65, 'a');
  struct Row {
    std::string id;
    bool valid;
  };
  const Row rows[] = {
      {"acme", true},
      {"a", true},
      {"0", true},
      {"acme-corp_2", true},
      {"9lives", true},
      {max, true},
      {"a" + std::string(63, '-'), true},
      {over, false},
      {"", false},
      {"Acme", false},
      {"ACME", false},
      {"-acme", false},
      {"_acme", false},
      {"acme corp", false},
      {"acme.corp", false},
      {"acme/../x", false},
      {"acmé", false},
      {"\xD0\xB0"
       "cme",
       false},
      {"acme\n", false},
      {std::string("ac\0me", 5), false},
      {"acme;drop", false},
  };
  for (const auto& row : rows) {
    CAPTURE(row.id);
    CHECK(valid_tenant_id(row.id) == row.valid);
    CHECK(code_of([&] { require_tenant_id(row.id); }) == (row.valid ? Exit::ok : Exit::usage));
  }
}

TEST_CASE("an invalid tenant id is named in the error, cut short when huge") {
  try {
    require_tenant_id(std::string(10000, 'X'));
    FAIL("no error");
  } catch (const Error& e) {
    std::string what = e.what();
    CHECK(what.find("invalid tenant id") != std::string::npos);
    CHECK(what.size() < 400);
  }
}

TEST_CASE("phone numbers normalise to their digits") {
  CHECK(normalize_phone("+15551234567") == "15551234567");
  CHECK(normalize_phone("+1 (555) 123-4567") == "15551234567");
  CHECK(normalize_phone("  +44 20 7946 0958 ") == "442079460958");
  CHECK(normalize_phone("49.30.1234567") == "49301234567");
  CHECK(normalize_phone("1234567") == "1234567");
  CHECK(normalize_phone("123456789012345") == "123456789012345");
  for (const std::string& bad : std::vector<std::string>{
           "", "+", "123456", "1234567890123456", "+1 555 CALL NOW", "0155512345", "++15551234567",
           "1555+1234567", "+1\n5551234567", "US.13491208655302741918", std::string(100, '1'),
           "+1 555 123 4567 ext 9", "１５５５１２３４５６７"}) {
    CAPTURE(bad);
    CHECK_FALSE(normalize_phone(bad).has_value());
  }
}

TEST_CASE("business-scoped user ids are recognised") {
  CHECK(is_business_scoped_user_id("US.13491208655302741918"));
  CHECK(is_business_scoped_user_id("BR.abcDEF123"));
  CHECK_FALSE(is_business_scoped_user_id("+15551234567"));
  CHECK_FALSE(is_business_scoped_user_id("us.1349"));
  CHECK_FALSE(is_business_scoped_user_id("US."));
  CHECK_FALSE(is_business_scoped_user_id("US.12 34"));
  CHECK_FALSE(is_business_scoped_user_id("US." + std::string(200, '1')));
}
