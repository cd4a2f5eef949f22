// What a hook may be: its event types, its URL and the addresses it may reach, and the
// Standard Webhooks signature of what it is sent (hooks.hpp).
#include "wabactl/hooks.hpp"

#include "wabactl/error.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/util.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <set>

namespace wabactl {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::optional<std::string> v4_reason(const unsigned char* a) {
  auto in = [a](unsigned first, unsigned second_from, unsigned second_to) {
    return a[0] == first && a[1] >= second_from && a[1] <= second_to;
  };
  if (a[0] == 169 && a[1] == 254 && a[2] == 169 && a[3] == 254) return "cloud metadata";
  if (a[0] == 0) return "unspecified";
  if (a[0] == 127) return "loopback";
  if (a[0] == 10 || in(172, 16, 31) || in(192, 168, 168)) return "private (RFC 1918)";
  if (in(169, 254, 254)) return "link-local";
  if (in(100, 64, 127)) return "CGNAT (RFC 6598)";
  if (a[0] >= 224 && a[0] <= 239) return "multicast";
  // 192.0.0.0/24 (IETF protocol assignments), 198.18.0.0/15 (benchmarking), 240.0.0.0/4.
  if ((a[0] == 192 && a[1] == 0 && a[2] == 0) || in(198, 18, 19) || a[0] >= 240) {
    return "reserved";
  }
  return std::nullopt;
}

std::optional<std::string> v6_reason(const unsigned char* a) {
  static constexpr unsigned char zero[16] = {};
  if (std::memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1)) {
    return a[15] == 1 ? "loopback" : "unspecified";
  }
  // ::ffff:a.b.c.d (IPv4-mapped) and 64:ff9b::a.b.c.d (NAT64) reach the IPv4 address.
  static constexpr unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static constexpr unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(a, mapped, 12) == 0 || std::memcmp(a, nat64, 12) == 0) return v4_reason(a + 12);
  if (a[0] == 0xfd && a[1] == 0x00 && a[2] == 0x0e && a[3] == 0xc2) return "cloud metadata";
  if ((a[0] & 0xfe) == 0xfc) return "unique local (RFC 4193)";
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return "link-local";
  if (a[0] == 0xff) return "multicast";
  return std::nullopt;
}

bool printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}

Error bad_url(const std::string& url, std::string_view why) {
  return Error(Exit::usage, fmt::format("invalid hook URL '{}': {}", url.substr(0, 120), why),
               "a hook URL looks like https://app.example.com/whatsapp/events");
}

} // namespace

const std::vector<std::string>& hook_event_types() {
  static const std::vector<std::string> types = {
      event_message_received, event_message_sent,   event_message_status,   event_message_edited,
      event_message_revoked,  event_message_echoed, event_unread_changed,   event_config_changed,
      event_contact_merged,   event_media_stored,   event_template_changed, event_hook_disabled};
  return types;
}

std::vector<std::string> default_hook_events() {
  std::vector<std::string> out;
  for (const auto& t : hook_event_types()) {
    if (t != event_unread_changed) out.push_back(t);
  }
  return out;
}

std::vector<std::string> parse_hook_events(const std::vector<std::string>& list) {
  std::set<std::string> wanted;
  for (const auto& item : list) {
    std::string_view rest = item;
    while (true) {
      auto comma = rest.find(',');
      std::string_view one = trim(rest.substr(0, comma));
      if (!one.empty()) {
        const auto& known = hook_event_types();
        if (std::find(known.begin(), known.end(), one) == known.end()) {
          throw Error(Exit::usage, fmt::format("unknown event type '{}'", one.substr(0, 64)),
                      fmt::format("event types: {}", fmt::join(known, ", ")));
        }
        wanted.emplace(one);
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (wanted.empty()) {
    throw Error(Exit::usage, "no event types given",
                fmt::format("event types: {}", fmt::join(hook_event_types(), ", ")));
  }
  std::vector<std::string> out;
  for (const auto& t : hook_event_types()) {
    if (wanted.count(t)) out.push_back(t);
  }
  return out;
}

HookUrl parse_hook_url(const std::string& url) {
  if (url.empty()) throw bad_url(url, "it is empty");
  if (url.size() > max_hook_url_bytes) {
    throw bad_url(url, fmt::format("it is longer than {} bytes", max_hook_url_bytes));
  }
  if (!printable_ascii(url)) {
    throw bad_url(url, "it contains white space, control or non-ASCII characters");
  }
  HookUrl out;
  auto sep = url.find("://");
  if (sep == std::string::npos) throw bad_url(url, "it has no scheme (http:// or https://)");
  out.scheme = lower(url.substr(0, sep));
  if (out.scheme != "http" && out.scheme != "https") {
    throw bad_url(url,
                  fmt::format("the scheme is '{}', not http or https", out.scheme.substr(0, 16)));
  }
  if (url.find('#') != std::string::npos) throw bad_url(url, "it has a fragment (#...)");
  std::string_view rest = std::string_view(url).substr(sep + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  if (authority.find('@') != std::string_view::npos) {
    throw bad_url(url, "it carries user info (user:password@): put credentials in the "
                       "receiver's check of the signature instead");
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) throw bad_url(url, "its IPv6 address has no ']'");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw bad_url(url, "junk after its IPv6 address");
      port = after.substr(1);
    }
    in6_addr a6{};
    std::string h(host);
    if (inet_pton(AF_INET6, h.c_str(), &a6) != 1) {
      throw bad_url(url, "its IPv6 address is not valid");
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) throw bad_url(url, "it has no host");
  for (unsigned char c : host) {
    if (!(std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == ':')) {
      throw bad_url(url, "its host has characters a host name cannot have");
    }
  }
  out.host = lower(host);
  if (port.empty()) {
    out.port = out.scheme == "https" ? 443 : 80;
    if (authority.back() == ':') throw bad_url(url, "its port is empty");
  } else {
    int n = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (ec != std::errc() || end != port.data() + port.size() || n < 1 || n > 65535) {
      throw bad_url(url, "its port is not a number from 1 to 65535");
    }
    out.port = n;
  }
  return out;
}

std::optional<std::string> private_address_reason(std::string_view address) {
  std::string a(address);
  unsigned char buf[16];
  if (inet_pton(AF_INET, a.c_str(), buf) == 1) return v4_reason(buf);
  if (inet_pton(AF_INET6, a.c_str(), buf) == 1) return v6_reason(buf);
  return std::nullopt;
}

std::optional<std::string> private_address_reason(const sockaddr* address) {
  if (address == nullptr) return "unspecified";
  if (address->sa_family == AF_INET) {
    sockaddr_in in{};
    std::memcpy(&in, address, sizeof in);
    return v4_reason(reinterpret_cast<const unsigned char*>(&in.sin_addr));
  }
  if (address->sa_family == AF_INET6) {
    sockaddr_in6 in{};
    std::memcpy(&in, address, sizeof in);
    return v6_reason(in.sin6_addr.s6_addr);
  }
  return "reserved";
}

std::string address_text(const sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address->sa_family == AF_INET) {
    sockaddr_in in{};
    std::memcpy(&in, address, sizeof in);
    inet_ntop(AF_INET, &in.sin_addr, text, sizeof text);
  } else if (address->sa_family == AF_INET6) {
    sockaddr_in6 in{};
    std::memcpy(&in, address, sizeof in);
    inet_ntop(AF_INET6, &in.sin6_addr, text, sizeof text);
  }
  return text;
}

HookUrl check_hook_url(const std::string& url, bool allow_private) {
  HookUrl u = parse_hook_url(url);
  if (allow_private) return u;
  auto refuse = [&](const std::string& what, const std::string& reason) {
    return Error(
        Exit::usage,
        fmt::format("hook URL '{}' reaches {}, a {} address", url.substr(0, 120), what, reason),
        "a hook must reach a public address; 'wabactl hook add --allow-private' "
        "allows a receiver on this machine or your network");
  };
  if (u.host == "localhost" || (u.host.size() > 10 && u.host.ends_with(".localhost"))) {
    throw refuse(u.host, "loopback");
  }
  if (auto why = private_address_reason(u.host)) throw refuse(u.host, *why);
  unsigned char probe[16];
  if (inet_pton(AF_INET, u.host.c_str(), probe) == 1 ||
      inet_pton(AF_INET6, u.host.c_str(), probe) == 1) {
    return u;
  }
  // A name: what it resolves to now. A name that does not resolve yet may later; the
  // daemon checks every address it connects to anyway.
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(u.host.c_str(), nullptr, &hints, &found) != 0) return u;
  std::optional<std::string> why;
  std::string at;
  for (auto* ai = found; ai != nullptr && !why; ai = ai->ai_next) {
    why = private_address_reason(ai->ai_addr);
    if (why) at = address_text(ai->ai_addr);
  }
  freeaddrinfo(found);
  if (why) throw refuse(fmt::format("{} ({})", u.host, at), *why);
  return u;
}

std::string standard_webhook_signature(std::string_view secret, std::string_view id,
                                       std::int64_t timestamp, std::string_view body) {
  constexpr std::string_view prefix = "whsec_";
  if (!secret.starts_with(prefix)) {
    throw Error(Exit::internal, "a hook secret does not start with whsec_");
  }
  std::string_view b64 = secret.substr(prefix.size());
  std::array<unsigned char, 64> key{};
  std::size_t key_len = 0;
  if (sodium_base642bin(key.data(), key.size(), b64.data(), b64.size(), nullptr, &key_len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      key_len == 0) {
    throw Error(Exit::internal, "a hook secret is not base64 after whsec_");
  }
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key.data(), key_len);
  sodium_memzero(key.data(), key.size());
  std::string ts = std::to_string(timestamp);
  auto feed = [&st](std::string_view s) {
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  };
  feed(id);
  feed(".");
  feed(ts);
  feed(".");
  feed(body);
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_final(&st, mac);
  char out[sodium_base64_ENCODED_LEN(crypto_auth_hmacsha256_BYTES, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(out, sizeof out, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
  return std::string("v1,") + out;
}

} // namespace wabactl
