#pragma once
// Tenant API tokens: bearer tokens for the REST API, SSE and WebSocket streams. A token is
// shown once when created and stored only as its hash; presenting it authenticates as its
// tenant until it is revoked.

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace wabactl {

class Store;

/// A token's stored record (never the token itself).
struct ApiToken {
  std::string id;
  std::string tenant_id;
  std::optional<std::string> label;
  std::string created_at;
  std::optional<std::string> last_used_at;
  std::optional<std::string> revoked_at;
};

/// A freshly created token: its record and the plaintext bearer token (show it once).
struct CreatedToken {
  ApiToken record;
  std::string token;
};

/// The prefix every bearer token starts with, so that leaked tokens are recognisable.
inline constexpr std::string_view token_prefix = "wbt_";

/// Creates a token for `tenant` (Error(not_found) when the tenant does not exist,
/// Error(usage) for a label over 128 bytes or with control characters).
CreatedToken create_token(Store& store, const std::string& tenant,
                          const std::optional<std::string>& label);

/// The tenant's tokens, oldest first, revoked ones included.
std::vector<ApiToken> list_tokens(Store& store, const std::string& tenant);

/// Revokes one of the tenant's tokens. Error(not_found) when `token_id` is unknown or
/// belongs to another tenant; revoking an already revoked token keeps its first date.
ApiToken revoke_token(Store& store, const std::string& tenant, const std::string& token_id);

/// Authenticates a presented bearer token: its record when it exists and is not revoked,
/// else nullopt. Malformed input is rejected before any lookup. Records the use
/// (last_used_at) at most once a minute per token.
std::optional<ApiToken> authenticate_token(Store& store, std::string_view presented);

/// The ids among `token_ids` that are revoked or no longer exist (for ending the streams
/// they opened).
std::set<std::string> revoked_tokens(Store& store, const std::set<std::string>& token_ids);

/// The prefix of every console session id (the wabactl_session cookie's value).
inline constexpr std::string_view session_prefix = "wbs_";

/// How long a console session lives without being used; each use extends it (sliding).
inline constexpr std::chrono::hours session_lifetime{12};

/// A freshly created console session: its id (the cookie's value, shown once) and when it
/// expires unless used.
struct CreatedSession {
  std::string id;
  std::string expires_at;
};

/// Creates a console session for the (authenticated) token `token`: a random id stored only
/// as its hash, expiring after session_lifetime. Removes expired sessions on the way.
CreatedSession create_session(Store& store, const ApiToken& token);

/// Authenticates a console session id: the record of the token it was created from, when
/// the session exists, has not expired and its token is not revoked; else nullopt. Extends
/// the session (at most once a minute) and records the token's use, as authenticate_token.
std::optional<ApiToken> authenticate_session(Store& store, std::string_view session_id);

/// Ends a console session (nothing happens for an unknown id).
void delete_session(Store& store, std::string_view session_id);

/// The CSRF token bound to a session id: derived from it (a keyed hash), so it is stored
/// nowhere and dies with the session.
std::string session_csrf_token(std::string_view session_id);

/// Whether `presented` is the CSRF token of `session_id` (compared in constant time).
bool csrf_token_matches(std::string_view session_id, std::string_view presented);

} // namespace wabactl
