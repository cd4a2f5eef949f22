#pragma once
// libcurl, loaded when wabactl first talks to Meta instead of at program start: mapping
// libcurl and the ~25 libraries it needs (nghttp2, krb5, ldap, ...) costs about 4 ms per
// process, and most commands (history, unread, tenant, key, ...) never make a request.
// <curl/curl.h> is used for its types and constants only; every call goes through CurlApi.

#include <curl/curl.h>

#include <string>

namespace wabactl {

/// The soname wabactl loads; Debian's libcurl4 package ships it.
inline constexpr const char* curl_library = "libcurl.so.4";

/// The libcurl functions wabactl calls, resolved from the shared library at run time. Each
/// member has exactly the type of the function <curl/curl.h> declares under the same name
/// with the `curl_` prefix (`easy_setopt` is `curl_easy_setopt`).
struct CurlApi {
  decltype(&::curl_global_init) global_init = nullptr;
  decltype(&::curl_easy_init) easy_init = nullptr;
  decltype(&::curl_easy_setopt) easy_setopt = nullptr;
  decltype(&::curl_easy_perform) easy_perform = nullptr;
  decltype(&::curl_easy_getinfo) easy_getinfo = nullptr;
  decltype(&::curl_easy_reset) easy_reset = nullptr;
  decltype(&::curl_easy_cleanup) easy_cleanup = nullptr;
  decltype(&::curl_easy_strerror) easy_strerror = nullptr;
  decltype(&::curl_slist_append) slist_append = nullptr;
  decltype(&::curl_slist_free_all) slist_free_all = nullptr;
  decltype(&::curl_mime_init) mime_init = nullptr;
  decltype(&::curl_mime_addpart) mime_addpart = nullptr;
  decltype(&::curl_mime_name) mime_name = nullptr;
  decltype(&::curl_mime_data) mime_data = nullptr;
  decltype(&::curl_mime_filename) mime_filename = nullptr;
  decltype(&::curl_mime_type) mime_type = nullptr;
  decltype(&::curl_mime_free) mime_free = nullptr;
  decltype(&::curl_multi_init) multi_init = nullptr;
  decltype(&::curl_multi_cleanup) multi_cleanup = nullptr;
  decltype(&::curl_multi_add_handle) multi_add_handle = nullptr;
  decltype(&::curl_multi_remove_handle) multi_remove_handle = nullptr;
  decltype(&::curl_multi_perform) multi_perform = nullptr;
  decltype(&::curl_multi_poll) multi_poll = nullptr;
  decltype(&::curl_multi_wakeup) multi_wakeup = nullptr;
  decltype(&::curl_multi_info_read) multi_info_read = nullptr;
};

/// The process-wide libcurl: on the first call (thread-safe) loads `curl_library`, resolves
/// every CurlApi function and runs curl_global_init once. Throws Error (Exit::internal, with
/// a hint to install libcurl4) when the library or a function is missing or global init
/// fails; a later call tries again. The library stays loaded until the process exits.
const CurlApi& curl_api();

/// Loads `library` with dlopen and resolves every CurlApi function from it, without
/// calling curl_global_init (curl_api() does that once). Throws Error (Exit::internal)
/// naming the library, the missing function if any, and dlerror()'s text. On success the
/// library is never unloaded.
CurlApi load_curl_api(const std::string& library);

} // namespace wabactl
