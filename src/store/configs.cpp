#include "wabactl/configs.hpp"

#include "store/sql.hpp"
#include "wabactl/error.hpp"
#include "wabactl/hooks.hpp"
#include "wabactl/secrets.hpp"
#include "wabactl/store.hpp"
#include "wabactl/util.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

namespace wabactl {
namespace {

constexpr const char* columns =
    "tenant_id, phone_number_id, business_account_id, webhook_url, api_version, graph_url, "
    "is_active, needs_reauth, api_key, api_secret, verify_token, created_at, updated_at";

Config row_to_config(SQLite::Statement& q) {
  Config c;
  c.tenant_id = q.getColumn(0).getString();
  c.phone_number_id = q.getColumn(1).getString();
  c.business_account_id = opt_text(q.getColumn(2));
  c.webhook_url = opt_text(q.getColumn(3));
  c.api_version = opt_text(q.getColumn(4));
  c.graph_url = opt_text(q.getColumn(5));
  c.is_active = q.getColumn(6).getInt() != 0;
  c.needs_reauth = q.getColumn(7).getInt() != 0;
  c.sealed_access_token = blob(q.getColumn(8));
  c.sealed_app_secret = blob(q.getColumn(9));
  c.sealed_verify_token = blob(q.getColumn(10));
  c.created_at = q.getColumn(11).getString();
  c.updated_at = q.getColumn(12).getString();
  return c;
}

void bind_blob(SQLite::Statement& q, int i, const std::vector<unsigned char>& v) {
  if (v.empty()) {
    q.bind(i);
  } else {
    q.bind(i, v.data(), static_cast<int>(v.size()));
  }
}

std::optional<std::string> open_field(const std::vector<unsigned char>& sealed,
                                      const MasterKey& key, const std::string& tenant,
                                      const char* field) {
  if (sealed.empty()) return std::nullopt;
  return open_sealed(key, sealed, tenant, field);
}

std::vector<unsigned char> seal_field(const std::optional<std::string>& plain, const MasterKey& key,
                                      const std::string& tenant, const char* field) {
  if (!plain) return {};
  return seal(key, *plain, tenant, field);
}

} // namespace

std::optional<Config> find_config(Store& store, const std::string& tenant) {
  return translated([&]() -> std::optional<Config> {
    SQLite::Statement q(
        sqlite(store), fmt::format("SELECT {} FROM whatsapp_configs WHERE tenant_id = ?", columns));
    q.bind(1, tenant);
    if (!q.executeStep()) return std::nullopt;
    return row_to_config(q);
  });
}

Config require_config(Store& store, const std::string& tenant) {
  return translated([&]() -> Config {
    if (auto c = find_config(store, tenant)) return *c;
    throw Error(Exit::not_found, fmt::format("tenant '{}' has no WhatsApp config", tenant),
                fmt::format("run 'wabactl config set --tenant {} --phone-number-id ...'", tenant));
  });
}

std::optional<Config> find_config_by_phone_number_id(Store& store,
                                                     const std::string& phone_number_id) {
  return translated([&]() -> std::optional<Config> {
    SQLite::Statement q(
        sqlite(store),
        fmt::format("SELECT {} FROM whatsapp_configs WHERE phone_number_id = ?", columns));
    q.bind(1, phone_number_id);
    if (!q.executeStep()) return std::nullopt;
    return row_to_config(q);
  });
}

std::vector<Config> list_configs(Store& store) {
  return translated([&]() -> std::vector<Config> {
    SQLite::Statement q(sqlite(store),
                        fmt::format("SELECT {} FROM whatsapp_configs ORDER BY tenant_id", columns));
    std::vector<Config> out;
    while (q.executeStep()) out.push_back(row_to_config(q));
    return out;
  });
}

ConfigSecrets open_secrets(const Config& config, const MasterKey& key) {
  ConfigSecrets s;
  s.access_token =
      open_field(config.sealed_access_token, key, config.tenant_id, field_access_token);
  s.app_secret = open_field(config.sealed_app_secret, key, config.tenant_id, field_app_secret);
  s.verify_token =
      open_field(config.sealed_verify_token, key, config.tenant_id, field_verify_token);
  return s;
}

Config save_config(Store& store, const MasterKey& key, Config config,
                   const ConfigSecrets& secrets) {
  return translated([&]() -> Config {
    config.sealed_access_token =
        seal_field(secrets.access_token, key, config.tenant_id, field_access_token);
    config.sealed_app_secret =
        seal_field(secrets.app_secret, key, config.tenant_id, field_app_secret);
    config.sealed_verify_token =
        seal_field(secrets.verify_token, key, config.tenant_id, field_verify_token);
    config.needs_reauth = false;
    config.updated_at = now_iso();
    store.transaction([&] {
      // A rotation committed after the caller took its key (a daemon that has not noticed it
      // yet): sealed under that key, the config would open under none the store accepts.
      if (!key_matches(store, key)) {
        throw Error(Exit::tempfail, "the master key was rotated meanwhile: nothing was saved",
                    "retry with the new key");
      }
      if (auto other = find_config_by_phone_number_id(store, config.phone_number_id);
          other && other->tenant_id != config.tenant_id) {
        throw Error(Exit::exists,
                    fmt::format("phone number id {} is already configured for tenant '{}'",
                                config.phone_number_id, other->tenant_id),
                    "one WhatsApp number belongs to one tenant");
      }
      auto existing = find_config(store, config.tenant_id);
      config.created_at = existing ? existing->created_at : config.updated_at;
      SQLite::Statement q(
          sqlite(store),
          "INSERT INTO whatsapp_configs(tenant_id, phone_number_id, business_account_id, "
          "webhook_url, api_version, graph_url, is_active, needs_reauth, api_key, api_secret, "
          "verify_token, created_at, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9, "
          "?10, "
          "?11, ?12) ON CONFLICT(tenant_id) DO UPDATE SET phone_number_id = "
          "excluded.phone_number_id, "
          "business_account_id = excluded.business_account_id, webhook_url = excluded.webhook_url, "
          "api_version = excluded.api_version, graph_url = excluded.graph_url, "
          "is_active = excluded.is_active, needs_reauth = 0, api_key = excluded.api_key, "
          "api_secret = excluded.api_secret, verify_token = excluded.verify_token, "
          "updated_at = excluded.updated_at");
      q.bind(1, config.tenant_id);
      q.bind(2, config.phone_number_id);
      bind_opt(q, 3, config.business_account_id);
      bind_opt(q, 4, config.webhook_url);
      bind_opt(q, 5, config.api_version);
      bind_opt(q, 6, config.graph_url);
      q.bind(7, config.is_active ? 1 : 0);
      bind_blob(q, 8, config.sealed_access_token);
      bind_blob(q, 9, config.sealed_app_secret);
      bind_blob(q, 10, config.sealed_verify_token);
      q.bind(11, config.created_at);
      q.bind(12, config.updated_at);
      q.exec();
    });
    return config;
  });
}

void delete_config(Store& store, const std::string& tenant) {
  translated([&] {
    SQLite::Statement q(sqlite(store), "DELETE FROM whatsapp_configs WHERE tenant_id = ?");
    q.bind(1, tenant);
    if (q.exec() == 0) {
      throw Error(Exit::not_found, fmt::format("tenant '{}' has no WhatsApp config", tenant));
    }
  });
}

void set_needs_reauth(Store& store, const std::string& tenant, bool value) {
  translated([&] {
    SQLite::Statement q(
        sqlite(store),
        "UPDATE whatsapp_configs SET needs_reauth = ?, updated_at = ? WHERE tenant_id = ?");
    q.bind(1, value ? 1 : 0);
    q.bind(2, now_iso());
    q.bind(3, tenant);
    q.exec();
  });
}

std::string effective_graph_url(const Config& config) {
  std::string url = config.graph_url
                        ? *config.graph_url
                        : env("WABACTL_GRAPH_URL").value_or("https://graph.facebook.com");
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

std::string effective_api_version(const Config& config) {
  if (config.api_version) return *config.api_version;
  return env("META_API_VERSION").value_or("v25.0");
}

void validate_phone_number_id(const std::string& value) {
  bool ok = !value.empty() && value.size() <= 32;
  for (char c : value) ok = ok && c >= '0' && c <= '9';
  if (!ok) {
    throw Error(Exit::usage,
                fmt::format("invalid phone number id '{}': Meta's phone number ids are 1-32 digits "
                            "(the id, not the phone number itself)",
                            value.substr(0, 40)));
  }
}

void validate_api_version(const std::string& value) {
  // vNN.N as Meta names its versions.
  bool ok = value.size() >= 4 && value.size() <= 8 && value[0] == 'v';
  std::size_t dot = value.find('.');
  ok = ok && dot != std::string::npos && dot > 1 && dot + 1 < value.size();
  for (std::size_t i = 1; ok && i < value.size(); ++i) {
    ok = i == dot || (value[i] >= '0' && value[i] <= '9');
  }
  if (!ok) {
    throw Error(Exit::usage, fmt::format("invalid API version '{}': expected the form v25.0",
                                         value.substr(0, 40)));
  }
}

void validate_graph_url(const std::string& value) {
  bool scheme = value.rfind("https://", 0) == 0 || value.rfind("http://", 0) == 0;
  bool clean = value.size() <= 2048;
  for (unsigned char c : value) clean = clean && c > 0x20 && c < 0x7f;
  if (!scheme || !clean || value.size() <= 8) {
    throw Error(Exit::usage,
                fmt::format("invalid Graph API URL '{}': expected http(s)://host[:port]",
                            value.substr(0, 80)));
  }
}

void validate_secret(const std::string& value, const char* what) {
  if (value.empty()) {
    throw Error(Exit::usage, fmt::format("the {} is empty", what));
  }
  if (value.size() > 4096) {
    throw Error(Exit::usage,
                fmt::format("the {} is too long ({} bytes; at most 4096)", what, value.size()));
  }
  for (unsigned char c : value) {
    // Tokens travel in an HTTP header and app secrets are hex: printable ASCII only.
    if (c <= 0x20 || c >= 0x7f) {
      throw Error(Exit::usage, fmt::format("the {} contains white space, control or non-ASCII "
                                           "characters",
                                           what));
    }
  }
}

std::size_t rotate_master_key(Store& store, const MasterKey& old_key, const MasterKey& new_key) {
  return translated([&]() -> std::size_t {
    // Every sealed column in the schema, with the field name its associated data uses.
    struct Column {
      const char* column;
      const char* field;
    };
    static constexpr Column sealed[] = {
        {"api_key", field_access_token},
        {"api_secret", field_app_secret},
        {"verify_token", field_verify_token},
    };
    std::size_t count = 0;
    store.transaction([&] {
      for (const auto& col : sealed) {
        SQLite::Statement q(sqlite(store), fmt::format("SELECT tenant_id, {} FROM whatsapp_configs "
                                                       "WHERE {} IS NOT NULL",
                                                       col.column, col.column));
        std::vector<std::pair<std::string, std::vector<unsigned char>>> rows;
        while (q.executeStep()) {
          rows.emplace_back(q.getColumn(0).getString(), blob(q.getColumn(1)));
        }
        SQLite::Statement u(sqlite(store), fmt::format("UPDATE whatsapp_configs SET {} = ? "
                                                       "WHERE tenant_id = ?",
                                                       col.column));
        for (const auto& [tenant, sealed_value] : rows) {
          std::string plain = open_sealed(old_key, sealed_value, tenant, col.field);
          auto resealed = seal(new_key, plain, tenant, col.field);
          u.bind(1, resealed.data(), static_cast<int>(resealed.size()));
          u.bind(2, tenant);
          u.exec();
          u.reset();
          ++count;
        }
      }
      count += reseal_hook_secrets(store, old_key, new_key);
      write_key_check(store, new_key);
    });
    return count;
  });
}

std::string config_fingerprint(Store& store) {
  return translated([&] {
    // Sealing uses a fresh nonce, so every save of a config changes its sealed bytes: this
    // catches changes within the same second that updated_at would miss.
    auto q = prepare(store, "SELECT tenant_id, phone_number_id, is_active, api_secret, "
                            "verify_token FROM whatsapp_configs ORDER BY id");
    std::string fp;
    while (q->executeStep()) {
      for (int i = 0; i < 5; ++i) {
        const auto& c = q->getColumn(i);
        if (c.getBytes() > 0) {
          fp.append(static_cast<const char*>(c.getBlob()), static_cast<std::size_t>(c.getBytes()));
        }
        fp.push_back('\x1f');
      }
      fp.push_back('\x1e');
    }
    return fp;
  });
}

} // namespace wabactl
