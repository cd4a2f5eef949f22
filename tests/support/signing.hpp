#pragma once
// Meta's webhook signature as tests make it: the X-Hub-Signature-256 header of a body, and
// whether the daemon's check accepts a header for one App Secret.

#include <string>
#include <string_view>

namespace testsupport {

/// "sha256=" and the lowercase hex HMAC-SHA256 of the exact bytes keyed with `secret`.
std::string signature_header(std::string_view body, std::string_view secret);

/// Whether wabactl::authenticate() accepts `header` over `body` for a tenant whose App
/// Secret is `secret`.
bool verifies(std::string_view body, std::string_view header, std::string_view secret);

} // namespace testsupport
