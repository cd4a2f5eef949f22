// Unit tests of the libcurl loader: the real library resolves, and a missing or wrong
// library is an Error that names it and says what to install.
#include "graph/curl_api.hpp"
#include "support/support.hpp"
#include "unit/test_helpers.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <string>

using namespace wabactl;
using testhelpers::code_of;
using testhelpers::message_and_hint_of;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("curl loader: libcurl.so.4 resolves every function and curl_api() is one object") {
  CurlApi api = load_curl_api(curl_library);
  CHECK((api.global_init != nullptr));
  CHECK((api.easy_init != nullptr));
  CHECK((api.easy_setopt != nullptr));
  CHECK((api.easy_perform != nullptr));
  CHECK((api.easy_getinfo != nullptr));
  CHECK((api.easy_reset != nullptr));
  CHECK((api.easy_cleanup != nullptr));
  CHECK((api.slist_append != nullptr));
  CHECK((api.slist_free_all != nullptr));
  CHECK((api.mime_init != nullptr));
  CHECK((api.mime_addpart != nullptr));
  CHECK((api.mime_name != nullptr));
  CHECK((api.mime_data != nullptr));
  CHECK((api.mime_filename != nullptr));
  CHECK((api.mime_type != nullptr));
  CHECK((api.mime_free != nullptr));
  REQUIRE((api.easy_strerror != nullptr));
  CHECK(std::string(api.easy_strerror(CURLE_COULDNT_CONNECT)) == "Couldn't connect to server");

  const CurlApi& shared = curl_api();
  CHECK(&shared == &curl_api());
  // The functions come from the same library whichever way it was loaded.
  CHECK((shared.easy_perform == api.easy_perform));
  CURL* handle = shared.easy_init();
  REQUIRE(handle != nullptr);
  CHECK(shared.easy_setopt(handle, CURLOPT_URL, "http://127.0.0.1:1/") == CURLE_OK);
  long status = -1;
  CHECK(shared.easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK);
  CHECK(status == 0);
  shared.easy_cleanup(handle);
}

TEST_CASE("curl loader: a library that is not installed names it, dlerror and the package") {
  auto what = message_and_hint_of([] { load_curl_api("libwabactl-no-such-curl.so.4"); });
  CAPTURE(what);
  CHECK(contains(what, "cannot load libwabactl-no-such-curl.so.4"));
  CHECK(contains(what, "cannot open shared object file")); // dlerror()'s text
  CHECK(contains(what, "apt-get install libcurl4"));
  CHECK(code_of([] { load_curl_api("libwabactl-no-such-curl.so.4"); }) == Exit::internal);
}

TEST_CASE("curl loader: a library without curl's functions names the missing one") {
  auto what = message_and_hint_of([] { load_curl_api("libc.so.6"); });
  CAPTURE(what);
  CHECK(contains(what, "libc.so.6 has no function curl_global_init"));
  CHECK(contains(what, "undefined symbol")); // dlerror()'s text
  CHECK(contains(what, "apt-get install libcurl4"));
  CHECK(code_of([] { load_curl_api("libc.so.6"); }) == Exit::internal);
}

TEST_CASE("curl loader: empty, non-ELF and directory names are refused with an Error") {
  testsupport::TempDir dir;
  auto fake = dir / "libcurl.so.4";
  std::ofstream(fake) << "not a shared object\n";

  auto what = message_and_hint_of([&] { load_curl_api(fake.string()); });
  CAPTURE(what);
  CHECK(contains(what, "cannot load " + fake.string()));
  CHECK(contains(what, "apt-get install libcurl4"));

  CHECK(code_of([&] { load_curl_api(dir.path().string()); }) == Exit::internal);
  // dlopen("") means the test program itself, which has no curl functions of its own.
  CHECK(contains(message_and_hint_of([] { load_curl_api(""); }), "has no function curl_"));
  CHECK(code_of([] { load_curl_api(std::string(5000, 'x')); }) == Exit::internal);
}
