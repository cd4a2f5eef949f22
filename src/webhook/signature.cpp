#include "wabactl/configs.hpp"
#include "wabactl/error.hpp"
#include "wabactl/util.hpp"
#include "wabactl/webhook.hpp"

#include <sodium.h>

#include <array>

namespace wabactl {
namespace {

constexpr std::string_view signature_prefix = "sha256=";

using Mac = std::array<unsigned char, crypto_auth_hmacsha256_BYTES>;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The 32 bytes a well-formed header claims, or nullopt.
std::optional<Mac> claimed_mac(std::string_view header) {
  header = trim_spaces(header);
  if (header.size() != signature_prefix.size() + 2 * crypto_auth_hmacsha256_BYTES ||
      header.substr(0, signature_prefix.size()) != signature_prefix) {
    return std::nullopt;
  }
  std::string_view hex = header.substr(signature_prefix.size());
  Mac mac{};
  for (std::size_t i = 0; i < mac.size(); ++i) {
    int hi = hex_value(hex[2 * i]);
    int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    mac[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return mac;
}

Mac hmac_sha256(std::string_view body, std::string_view secret) {
  Mac mac{};
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret.data()),
                              secret.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(body.data()),
                                body.size());
  crypto_auth_hmacsha256_final(&st, mac.data());
  sodium_memzero(&st, sizeof st);
  return mac;
}

bool mac_matches(std::string_view body, std::string_view secret, const Mac& claimed) {
  Mac mac = hmac_sha256(body, secret);
  return sodium_memcmp(mac.data(), claimed.data(), mac.size()) == 0;
}

bool has_non_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

} // namespace

std::optional<std::string> escape_non_ascii(std::string_view body) {
  std::string out;
  out.reserve(body.size() + body.size() / 2);
  std::size_t i = 0;
  while (i < body.size()) {
    auto b0 = static_cast<unsigned char>(body[i]);
    if (b0 < 0x80) {
      out.push_back(static_cast<char>(b0));
      ++i;
      continue;
    }
    auto c = decode_utf8(body.substr(i));
    if (!c) return std::nullopt;
    const unsigned cp = c->code_point;
    if (cp >= 0x10000) {
      unsigned v = cp - 0x10000;
      append_unicode_escape(out, static_cast<char16_t>(0xD800 + (v >> 10)));
      append_unicode_escape(out, static_cast<char16_t>(0xDC00 + (v & 0x3FF)));
    } else {
      append_unicode_escape(out, static_cast<char16_t>(cp));
    }
    i += c->length;
  }
  return out;
}

namespace {

// The body as received plus its \u-escaped form, built at most once and only when the
// body has non-ASCII bytes (ASCII bodies have no second form).
class SignedForms {
public:
  explicit SignedForms(std::string_view body) : body_(body), pending_(has_non_ascii(body)) {}

  bool verified_by(std::string_view secret, const Mac& claimed) {
    if (secret.empty()) return false;
    if (mac_matches(body_, secret, claimed)) return true;
    if (pending_) {
      escaped_ = escape_non_ascii(body_);
      pending_ = false;
    }
    return escaped_ && mac_matches(*escaped_, secret, claimed);
  }

private:
  std::string_view body_;
  bool pending_;
  std::optional<std::string> escaped_;
};

} // namespace

std::set<std::string> authenticate(std::string_view body, std::string_view header,
                                   const std::vector<SecretCandidate>& candidates) {
  std::set<std::string> tenants;
  if (sodium_init() < 0) return tenants;
  auto claimed = claimed_mac(header);
  if (!claimed) return tenants;
  SignedForms forms(body);
  for (const auto& c : candidates) {
    if (!c.tenants.empty() && forms.verified_by(c.secret, *claimed)) {
      tenants.insert(c.tenants.begin(), c.tenants.end());
    }
  }
  return tenants;
}

std::vector<SecretCandidate> secret_candidates(const std::vector<Config>& configs,
                                               const MasterKey& key,
                                               const std::optional<std::string>& fallback_secret) {
  std::map<std::string, std::set<std::string>> by_secret;
  std::set<std::string> without_secret;
  for (const auto& config : configs) {
    if (!config.is_active) continue;
    auto secrets = open_secrets(config, key);
    if (secrets.app_secret && !secrets.app_secret->empty()) {
      by_secret[*secrets.app_secret].insert(config.tenant_id);
    } else {
      without_secret.insert(config.tenant_id);
    }
  }
  std::vector<SecretCandidate> out;
  for (auto& [secret, tenants] : by_secret) out.push_back({secret, std::move(tenants), false});
  if (fallback_secret && !fallback_secret->empty() && !without_secret.empty()) {
    out.push_back({*fallback_secret, std::move(without_secret), true});
  }
  return out;
}

} // namespace wabactl
