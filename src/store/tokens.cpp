#include "wabactl/tokens.hpp"

#include "store/sql.hpp"
#include "wabactl/error.hpp"
#include "wabactl/secrets.hpp"
#include "wabactl/store.hpp"
#include "wabactl/tenants.hpp"
#include "wabactl/util.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <sodium.h>

#include <array>

namespace wabactl {
namespace {

constexpr std::size_t token_bytes = 32;
constexpr std::size_t max_label = 128;
constexpr std::size_t hash_bytes = crypto_generichash_BYTES;
constexpr std::int64_t last_used_resolution_s = 60;
constexpr const char* columns = "id, tenant_id, label, created_at, last_used_at, revoked_at";

using TokenHash = std::array<unsigned char, hash_bytes>;

// The token is 32 random bytes, so a plain (unkeyed, unsalted) BLAKE2b hash is as strong
// as a password hash would be and makes the lookup an index probe.
TokenHash hash_token(std::string_view token) {
  TokenHash h{};
  crypto_generichash(h.data(), h.size(), reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  return h;
}

std::string encode_token(const unsigned char* bytes, std::size_t size,
                         std::string_view prefix = token_prefix) {
  std::string out(sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes, size, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::char_traits<char>::length(out.c_str()));
  return std::string(prefix) + out;
}

// A fresh random secret with `prefix`: a token or a session id.
std::string random_secret(std::string_view prefix) {
  std::array<unsigned char, token_bytes> secret{};
  randombytes_buf(secret.data(), secret.size());
  std::string out = encode_token(secret.data(), secret.size(), prefix);
  sodium_memzero(secret.data(), secret.size());
  return out;
}

// The exact length of a token (or session id) we issue: the prefix and 43 base64url
// characters.
std::size_t token_length(std::string_view prefix) {
  return prefix.size() +
         sodium_base64_ENCODED_LEN(token_bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING) - 1;
}

bool well_formed(std::string_view token, std::string_view prefix = token_prefix) {
  if (token.size() != token_length(prefix) || token.substr(0, prefix.size()) != prefix) {
    return false;
  }
  for (char c : token.substr(prefix.size())) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

void validate_label(const std::optional<std::string>& label) {
  if (!label) return;
  if (label->size() > max_label) {
    throw Error(Exit::usage, fmt::format("token label is too long ({} bytes; at most {})",
                                         label->size(), max_label));
  }
  for (unsigned char c : *label) {
    if (c < 0x20 || c == 0x7f)
      throw Error(Exit::usage, "token label must not contain control characters");
  }
}

void validate_token_id(const std::string& id) {
  bool ok = !id.empty() && id.size() <= 64;
  for (char c : id) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  if (!ok) {
    throw Error(Exit::usage, fmt::format("'{}' is not a token id", id.substr(0, 64)),
                "token ids look like tok_0123456789ab; see 'wabactl token list'");
  }
}

ApiToken row_to_token(SQLite::Statement& q) {
  ApiToken t;
  t.id = q.getColumn(0).getString();
  t.tenant_id = q.getColumn(1).getString();
  t.label = opt_text(q.getColumn(2));
  t.created_at = q.getColumn(3).getString();
  t.last_used_at = opt_text(q.getColumn(4));
  t.revoked_at = opt_text(q.getColumn(5));
  return t;
}

std::optional<ApiToken> find_token(Store& store, const std::string& tenant, const std::string& id) {
  SQLite::Statement q(
      sqlite(store),
      fmt::format("SELECT {} FROM api_tokens WHERE tenant_id = ? AND id = ?", columns));
  q.bind(1, tenant);
  q.bind(2, id);
  if (!q.executeStep()) return std::nullopt;
  return row_to_token(q);
}

// Records a use of the authenticated token `t` (at most once a minute).
void note_use(Store& store, ApiToken& t) {
  std::string now = now_iso();
  std::string stale = iso_from_unix(now_ms() / 1000 - last_used_resolution_s);
  if (!t.last_used_at || *t.last_used_at <= stale) {
    SQLite::Statement upd(sqlite(store), "UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND "
                                         "(last_used_at IS NULL OR last_used_at <= ?)");
    upd.bind(1, now);
    upd.bind(2, t.id);
    upd.bind(3, stale);
    try {
      upd.exec();
      t.last_used_at = now;
    } catch (const SQLite::Exception&) {
      // A busy database must not turn a valid token into a failed request; the next use
      // records it.
    }
  }
}

// Whether the hash a row holds is `hash` (the lookup found it by index; this is the check).
bool same_hash(const SQLite::Column& stored, const TokenHash& hash) {
  return stored.getBytes() == static_cast<int>(hash.size()) &&
         sodium_memcmp(stored.getBlob(), hash.data(), hash.size()) == 0;
}

constexpr std::int64_t session_lifetime_s =
    std::chrono::duration_cast<std::chrono::seconds>(session_lifetime).count();

// When a session created or used now expires.
std::string session_expiry(std::int64_t from_s = now_ms() / 1000) {
  return iso_from_unix(from_s + session_lifetime_s);
}

} // namespace

CreatedToken create_token(Store& store, const std::string& tenant,
                          const std::optional<std::string>& label) {
  return translated([&]() -> CreatedToken {
    init_crypto();
    validate_label(label);
    require_tenant(store, tenant);

    CreatedToken created;
    created.token = random_secret(token_prefix);
    TokenHash hash = hash_token(created.token);

    std::array<unsigned char, 6> id_bytes{};
    randombytes_buf(id_bytes.data(), id_bytes.size());
    created.record.id = "tok_" + to_hex(id_bytes.data(), id_bytes.size());
    created.record.tenant_id = tenant;
    if (label && !label->empty()) created.record.label = label;
    created.record.created_at = now_iso();

    SQLite::Statement q(sqlite(store), "INSERT INTO api_tokens(id, tenant_id, label, token_hash, "
                                       "created_at) VALUES(?, ?, ?, ?, ?)");
    q.bind(1, created.record.id);
    q.bind(2, tenant);
    if (created.record.label) {
      q.bind(3, *created.record.label);
    } else {
      q.bind(3);
    }
    q.bind(4, hash.data(), static_cast<int>(hash.size()));
    q.bind(5, created.record.created_at);
    q.exec();
    return created;
  });
}

std::vector<ApiToken> list_tokens(Store& store, const std::string& tenant) {
  return translated([&]() -> std::vector<ApiToken> {
    require_tenant(store, tenant);
    SQLite::Statement q(sqlite(store), fmt::format("SELECT {} FROM api_tokens WHERE tenant_id = ? "
                                                   "ORDER BY created_at, id",
                                                   columns));
    q.bind(1, tenant);
    std::vector<ApiToken> out;
    while (q.executeStep()) out.push_back(row_to_token(q));
    return out;
  });
}

ApiToken revoke_token(Store& store, const std::string& tenant, const std::string& token_id) {
  return translated([&]() -> ApiToken {
    require_tenant(store, tenant);
    validate_token_id(token_id);
    SQLite::Statement q(sqlite(store), "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) "
                                       "WHERE tenant_id = ? AND id = ?");
    q.bind(1, now_iso());
    q.bind(2, tenant);
    q.bind(3, token_id);
    if (q.exec() == 0) {
      throw Error(Exit::not_found, fmt::format("tenant '{}' has no token '{}'", tenant, token_id),
                  fmt::format("run 'wabactl token list --tenant {}'", tenant));
    }
    return *find_token(store, tenant, token_id);
  });
}

std::optional<ApiToken> authenticate_token(Store& store, std::string_view presented) {
  return translated([&]() -> std::optional<ApiToken> {
    if (!well_formed(presented)) return std::nullopt;
    init_crypto();
    TokenHash hash = hash_token(presented);
    SQLite::Statement q(sqlite(store), fmt::format("SELECT {}, token_hash FROM api_tokens "
                                                   "WHERE token_hash = ?",
                                                   columns));
    q.bind(1, hash.data(), static_cast<int>(hash.size()));
    if (!q.executeStep()) return std::nullopt;
    if (!same_hash(q.getColumn(6), hash)) return std::nullopt;
    ApiToken t = row_to_token(q);
    q.reset();
    if (t.revoked_at) return std::nullopt;
    note_use(store, t);
    return t;
  });
}

CreatedSession create_session(Store& store, const ApiToken& token) {
  return translated([&]() -> CreatedSession {
    init_crypto();
    std::string now = now_iso();
    SQLite::Statement prune(sqlite(store), "DELETE FROM console_sessions WHERE expires_at <= ?");
    prune.bind(1, now);
    prune.exec();
    CreatedSession created{random_secret(session_prefix), session_expiry()};
    TokenHash hash = hash_token(created.id);
    SQLite::Statement q(sqlite(store), "INSERT INTO console_sessions(id_hash, token_id, "
                                       "created_at, expires_at) VALUES(?, ?, ?, ?)");
    q.bind(1, hash.data(), static_cast<int>(hash.size()));
    q.bind(2, token.id);
    q.bind(3, now);
    q.bind(4, created.expires_at);
    q.exec();
    return created;
  });
}

std::optional<ApiToken> authenticate_session(Store& store, std::string_view session_id) {
  return translated([&]() -> std::optional<ApiToken> {
    if (!well_formed(session_id, session_prefix)) return std::nullopt;
    init_crypto();
    TokenHash hash = hash_token(session_id);
    std::string now = now_iso();
    SQLite::Statement q(sqlite(store),
                        "SELECT t.id, t.tenant_id, t.label, t.created_at, t.last_used_at, "
                        "t.revoked_at, s.id_hash, s.expires_at FROM console_sessions s "
                        "JOIN api_tokens t ON t.id = s.token_id WHERE s.id_hash = ?");
    q.bind(1, hash.data(), static_cast<int>(hash.size()));
    if (!q.executeStep()) return std::nullopt;
    if (!same_hash(q.getColumn(6), hash)) return std::nullopt;
    ApiToken t = row_to_token(q);
    std::string expires_at = q.getColumn(7).getString();
    q.reset();
    if (t.revoked_at || expires_at <= now) return std::nullopt;
    // Sliding expiry, written at most once a minute per session.
    std::int64_t now_s = now_ms() / 1000;
    if (expires_at <= session_expiry(now_s - last_used_resolution_s)) {
      SQLite::Statement upd(sqlite(store),
                            "UPDATE console_sessions SET expires_at = ? WHERE id_hash = ?");
      upd.bind(1, session_expiry(now_s));
      upd.bind(2, hash.data(), static_cast<int>(hash.size()));
      try {
        upd.exec();
      } catch (const SQLite::Exception&) {
        // As with last_used_at: a busy database must not fail a valid session.
      }
    }
    note_use(store, t);
    return t;
  });
}

void delete_session(Store& store, std::string_view session_id) {
  translated([&] {
    if (!well_formed(session_id, session_prefix)) return;
    init_crypto();
    TokenHash hash = hash_token(session_id);
    SQLite::Statement q(sqlite(store), "DELETE FROM console_sessions WHERE id_hash = ?");
    q.bind(1, hash.data(), static_cast<int>(hash.size()));
    q.exec();
  });
}

std::string session_csrf_token(std::string_view session_id) {
  init_crypto();
  // The session id hashed under a key naming the purpose: unguessable without the id, and
  // a different value from the id's stored (unkeyed) hash.
  constexpr std::string_view purpose = "wabactl console CSRF token";
  static_assert(purpose.size() >= crypto_generichash_KEYBYTES_MIN);
  TokenHash h{};
  crypto_generichash(h.data(), h.size(), reinterpret_cast<const unsigned char*>(session_id.data()),
                     session_id.size(), reinterpret_cast<const unsigned char*>(purpose.data()),
                     purpose.size());
  return encode_token(h.data(), h.size(), "");
}

bool csrf_token_matches(std::string_view session_id, std::string_view presented) {
  std::string expected = session_csrf_token(session_id);
  return presented.size() == expected.size() &&
         sodium_memcmp(presented.data(), expected.data(), expected.size()) == 0;
}

std::set<std::string> revoked_tokens(Store& store, const std::set<std::string>& token_ids) {
  return translated([&]() -> std::set<std::string> {
    std::set<std::string> revoked;
    auto q = prepare(store, "SELECT revoked_at IS NULL FROM api_tokens WHERE id = ?");
    for (const auto& id : token_ids) {
      q->reset();
      q->bind(1, id);
      if (!q->executeStep() || q->getColumn(0).getInt() != 1) revoked.insert(id);
    }
    return revoked;
  });
}

} // namespace wabactl
