#include "graph/curl_api.hpp"

#include "wabactl/error.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <mutex>

namespace wabactl {
namespace {

// Exit::internal rather than tempfail: a missing libcurl is a broken installation (the
// package depends on libcurl4), so retrying later cannot help and nothing reached Meta.
constexpr const char* install_hint = "install libcurl4 (Debian: apt-get install libcurl4)";

std::string dl_message() {
  const char* why = dlerror();
  return why != nullptr ? why : "no reason given";
}

// Resolves `name` from `handle` into `fn`, whose type is the function's own (CurlApi).
template <typename Fn>
void resolve(void* handle, const std::string& library, const char* name, Fn& fn) {
  dlerror();
  void* symbol = dlsym(handle, name);
  if (symbol == nullptr) {
    std::string why = dl_message();
    dlclose(handle);
    throw Error(Exit::internal,
                fmt::format("{} has no function {}, which wabactl needs to call the WhatsApp "
                            "Cloud API: {}",
                            library, name, why),
                install_hint);
  }
  fn = reinterpret_cast<Fn>(symbol);
}

} // namespace

CurlApi load_curl_api(const std::string& library) {
  // RTLD_LOCAL keeps curl's symbols (and those of its dependencies) out of the global
  // namespace, so they cannot interpose on anything the rest of the program resolves.
  // RTLD_LAZY binds as a linked libcurl was bound: RTLD_NOW resolved every symbol of curl
  // and its ~25 libraries up front, ~0.5 ms more per send. The functions wabactl calls are
  // all checked below by dlsym.
  void* handle = dlopen(library.c_str(), RTLD_LAZY | RTLD_LOCAL);
  if (handle == nullptr) {
    throw Error(Exit::internal,
                fmt::format("cannot load {}, which wabactl needs to call the WhatsApp Cloud "
                            "API: {}",
                            library, dl_message()),
                install_hint);
  }
  CurlApi api;
  resolve(handle, library, "curl_global_init", api.global_init);
  resolve(handle, library, "curl_easy_init", api.easy_init);
  resolve(handle, library, "curl_easy_setopt", api.easy_setopt);
  resolve(handle, library, "curl_easy_perform", api.easy_perform);
  resolve(handle, library, "curl_easy_getinfo", api.easy_getinfo);
  resolve(handle, library, "curl_easy_reset", api.easy_reset);
  resolve(handle, library, "curl_easy_cleanup", api.easy_cleanup);
  resolve(handle, library, "curl_easy_strerror", api.easy_strerror);
  resolve(handle, library, "curl_slist_append", api.slist_append);
  resolve(handle, library, "curl_slist_free_all", api.slist_free_all);
  resolve(handle, library, "curl_mime_init", api.mime_init);
  resolve(handle, library, "curl_mime_addpart", api.mime_addpart);
  resolve(handle, library, "curl_mime_name", api.mime_name);
  resolve(handle, library, "curl_mime_data", api.mime_data);
  resolve(handle, library, "curl_mime_filename", api.mime_filename);
  resolve(handle, library, "curl_mime_type", api.mime_type);
  resolve(handle, library, "curl_mime_free", api.mime_free);
  resolve(handle, library, "curl_multi_init", api.multi_init);
  resolve(handle, library, "curl_multi_cleanup", api.multi_cleanup);
  resolve(handle, library, "curl_multi_add_handle", api.multi_add_handle);
  resolve(handle, library, "curl_multi_remove_handle", api.multi_remove_handle);
  resolve(handle, library, "curl_multi_perform", api.multi_perform);
  resolve(handle, library, "curl_multi_poll", api.multi_poll);
  resolve(handle, library, "curl_multi_wakeup", api.multi_wakeup);
  resolve(handle, library, "curl_multi_info_read", api.multi_info_read);
  return api;
}

const CurlApi& curl_api() {
  static CurlApi api;
  static std::once_flag once;
  // An exception leaves `once` unset, so the next caller tries again.
  std::call_once(once, [] {
    CurlApi loaded = load_curl_api(curl_library);
    if (loaded.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw Error(Exit::internal, "libcurl could not be initialised");
    }
    api = loaded;
  });
  return api;
}

} // namespace wabactl
