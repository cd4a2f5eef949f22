#pragma once
// Forwarded events (CONTRACT.md §13): URLs a tenant registers, to which the daemon POSTs
// each of the tenant's events, signed by the Standard Webhooks scheme and retried until the
// receiver acknowledges it. A hook's deliveries come from the event log: each hook has a
// cursor, and every event past it of a type the hook takes becomes one pending delivery
// row. A delivery waits for the one before it in its lane (the event's conversation), so a
// receiver sees a conversation in event-id order while conversations go in parallel.

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct sockaddr;

namespace wabactl {

class Store;
class MasterKey;

inline constexpr const char* event_hook_disabled = "hook.disabled";
/// The event `hook test` appends and delivers itself; never forwarded by the daemon.
inline constexpr const char* event_hook_test = "hook.test";

/// The event types a hook may take (`--events`), in the order `hook add --help` lists them.
const std::vector<std::string>& hook_event_types();
/// What a hook takes when `--events` is not given: every type but unread.changed.
std::vector<std::string> default_hook_events();
/// `list` (comma-separated, or JSON array items) checked and deduplicated, in the order of
/// hook_event_types(). Error(usage) naming an unknown type, or for an empty list.
std::vector<std::string> parse_hook_events(const std::vector<std::string>& list);

/// A hook's limits.
inline constexpr std::size_t max_hooks_per_tenant = 20;
inline constexpr std::size_t max_hook_url_bytes = 2048;

/// A URL a hook may POST to, taken apart.
struct HookUrl {
  std::string scheme; ///< http or https
  std::string host;   ///< a name, an IPv4 address, or an IPv6 address without brackets
  int port = 0;
};

/// Checks a hook URL: http or https, a host, no user info, no fragment, at most 2 KiB of
/// printable ASCII. Error(usage) naming what is wrong.
HookUrl parse_hook_url(const std::string& url);

/// Why a hook may not connect to `address` (a numeric IPv4 or IPv6 address): "loopback",
/// "private (RFC 1918)", "unique local (RFC 4193)", "link-local", "CGNAT (RFC 6598)",
/// "cloud metadata", "unspecified", "multicast", "reserved"; nullopt for a public address.
/// IPv4-mapped and NAT64 IPv6 addresses are judged by the IPv4 address they carry.
std::optional<std::string> private_address_reason(std::string_view address);
/// The same for a socket address as the resolver or libcurl gives it.
std::optional<std::string> private_address_reason(const sockaddr* address);

/// A socket address as text ("127.0.0.1", "::1"), for messages.
std::string address_text(const sockaddr* address);

/// Checks that `url` may be registered: parse_hook_url, and unless `allow_private`, a host
/// that is "localhost" or an address that private_address_reason refuses, and a name that
/// resolves now to such an address, are refused with Error(usage) naming the reason. (The
/// daemon checks every resolved address again at connect time.)
HookUrl check_hook_url(const std::string& url, bool allow_private);

enum class HookState { active, disabled };

struct Hook {
  std::string id; ///< hk_ and 12 hex digits
  std::string tenant_id;
  std::string url;
  std::vector<std::string> events;
  HookState state = HookState::active;
  bool allow_private = false;
  std::string created_at;
};

/// {"id", "url", "events", "state", "allow_private", "created_at"}.
nlohmann::json to_json(const Hook& hook);

/// A new hook and its signing secret (`whsec_` and the base64 of 32 random bytes), which
/// is shown this once and stored sealed.
struct NewHook {
  Hook hook;
  std::string secret;
};

/// Adds a hook to `tenant` (url and events already checked). Its cursor starts at the newest
/// event: it forwards what happens from now on. Error(exists) when the tenant already has
/// max_hooks_per_tenant hooks.
NewHook add_hook(Store& store, const MasterKey& key, const std::string& tenant,
                 const std::string& url, const std::vector<std::string>& events,
                 bool allow_private);
/// The tenant's hooks, oldest first.
std::vector<Hook> list_hooks(Store& store, const std::string& tenant);
/// One of the tenant's hooks; nullopt when there is none with that id (or it is another
/// tenant's).
std::optional<Hook> find_hook(Store& store, const std::string& tenant, const std::string& id);
/// Removes a hook and its deliveries; false when the tenant has none with that id.
bool remove_hook(Store& store, const std::string& tenant, const std::string& id);
/// The hook's signing secret, opened.
std::string hook_secret(Store& store, const MasterKey& key, const Hook& hook);
/// Re-seals every hook secret from `old_key` to `new_key` (a key rotation, inside its
/// transaction). Returns how many.
std::size_t reseal_hook_secrets(Store& store, const MasterKey& old_key, const MasterKey& new_key);

/// `hook test` succeeded: the hook is active again, its failing clock stopped, and its
/// waiting deliveries are due now. Appends no event.
void enable_hook(Store& store, const Hook& hook);
/// Appends a `hook.test` event for the hook (its `hook` field names it) and returns its id
/// and the Event JSON.
std::pair<std::int64_t, std::string> append_hook_test_event(Store& store, const Hook& hook);

/// The Standard Webhooks signature of a delivery: "v1," and the base64 of HMAC-SHA256 over
/// "<id>.<timestamp>.<body>" keyed with the base64-decoded part of `secret` after "whsec_".
/// Error(internal) for a secret that is not of that form.
std::string standard_webhook_signature(std::string_view secret, std::string_view id,
                                       std::int64_t timestamp, std::string_view body);

enum class DeliveryState { pending, acknowledged, failed };
const char* to_string(DeliveryState state);

/// One event's delivery to one hook.
struct HookDelivery {
  std::int64_t event_id = 0;
  std::string type;
  DeliveryState state = DeliveryState::pending;
  int attempts = 0;
  std::optional<int> last_status;             ///< the receiver's last HTTP status
  std::optional<std::string> last_error;      ///< why the last attempt failed
  std::optional<std::string> next_attempt_at; ///< ISO time; null when not scheduled
};

/// {"event_id", "type", "state", "attempts", "last_status", "last_error", "next_attempt_at"}.
nlohmann::json to_json(const HookDelivery& d);

/// The hook's deliveries, newest first, at most `limit`; only failed ones with `failed_only`.
std::vector<HookDelivery> list_hook_deliveries(Store& store, const Hook& hook, bool failed_only,
                                               std::size_t limit);

/// Pending deliveries and the age of the oldest, per hook (for /metrics).
struct HookBacklog {
  std::string hook_id;
  std::string tenant_id;
  std::int64_t pending = 0;
  double oldest_seconds = 0;
};
std::vector<HookBacklog> hook_backlogs(Store& store);

} // namespace wabactl
