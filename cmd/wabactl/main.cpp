#include "wabactl/cli.hpp"

#include <openssl/ssl.h>

#include <iostream>

namespace {

// libcpp-httplib's constructor initialises OpenSSL in full: it reads openssl.cnf, loads
// every error string and registers every cipher and digest. That is about 0.6 ms of the
// 6 ms a `wabactl history` takes on a 2-core VM, spent by commands that never open a
// connection. Functions in .preinit_array run before any shared library's constructor
// (only an executable has one; glibc passes them argc, argv and envp): for those commands
// OpenSSL is first given a bare initialisation, which makes the library's later request a
// no-op. Commands that may use TLS get OpenSSL's usual set-up. Nothing here may rely on a
// static constructor having run.
void skip_tls_setup_when_unused(int argc, char** argv, char** /*envp*/) {
  if (!wabactl::cli::opens_no_connection(argc, argv)) return;
  // NO_ATEXIT: nothing OpenSSL would free at exit is worth the time of a process that ends.
  OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_LOAD_SSL_STRINGS |
                       OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS | OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
                       OPENSSL_INIT_NO_ADD_ALL_DIGESTS | OPENSSL_INIT_NO_ATEXIT,
                   nullptr);
}

[[gnu::section(".preinit_array"),
  gnu::used]] void (*const preinit_entry)(int, char**, char**) = skip_tls_setup_when_unused;

} // namespace

int main(int argc, char** argv) {
  return wabactl::cli::run(argc, argv, std::cout, std::cerr);
}
