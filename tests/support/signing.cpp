#include "support/signing.hpp"

#include "wabactl/util.hpp"
#include "wabactl/webhook.hpp"

#include <sodium.h>

#include <stdexcept>

namespace testsupport {

std::string signature_header(std::string_view body, std::string_view secret) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(secret.data()),
                              secret.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(body.data()),
                                body.size());
  crypto_auth_hmacsha256_final(&state, mac);
  return "sha256=" + wabactl::to_hex(mac, sizeof mac);
}

bool verifies(std::string_view body, std::string_view header, std::string_view secret) {
  return !wabactl::authenticate(body, header, {{std::string(secret), {"tenant"}, false}}).empty();
}

} // namespace testsupport
