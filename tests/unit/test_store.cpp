// Unit tests of the store: migrations from every older version, refusal of newer ones,
// tenants, configs and their validation.
#include "store/migrations.hpp"
#include "support/support.hpp"
#include "support/temp_store.hpp"
#include "unit/test_helpers.hpp"
#include "wabactl/config_service.hpp"
#include "wabactl/configs.hpp"
#include "wabactl/error.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/secrets.hpp"
#include "wabactl/store.hpp"
#include "wabactl/tenants.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <fstream>
#include <set>

using namespace wabactl;
using testhelpers::code_of;
using testhelpers::message_and_hint_of;
using testhelpers::ScopedEnv;
using testsupport::raw_db;
using testsupport::TempDir;
using testsupport::TempStore;

namespace {

MasterKey test_key() {
  std::array<unsigned char, MasterKey::size> bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i * 7 + 1);
  return MasterKey(bytes.data(), "test key");
}

long long count(const Store& store, const std::string& sql) {
  return testsupport::query_int(store, sql);
}

// A database file at `version` of the schema, built by the migrations themselves on a
// connection of the test's own, as an older wabactl left it (WAL mode).
SQLite::Database old_database(const std::filesystem::path& path, int version) {
  SQLite::Database db(path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA foreign_keys = ON");
  migrate(db, version);
  return db;
}

void exec_bound(SQLite::Database& db, const std::string& sql, const std::vector<std::string>& args,
                const std::vector<unsigned char>& blob = {}) {
  SQLite::Statement q(db, sql);
  int i = 1;
  for (const auto& a : args) q.bind(i++, a);
  if (!blob.empty()) q.bind(i, blob.data(), static_cast<int>(blob.size()));
  q.exec();
}

// Rows a database at `version` can hold: each migration's tables get one representative row.
void insert_rows_for_version(SQLite::Database& db, int version, const MasterKey& key) {
  if (version >= 1) {
    exec_bound(db, "INSERT INTO settings(name, value) VALUES('probe', ?)", {}, {1, 2, 3});
    db.exec("INSERT INTO tenants(id, name, created_at) VALUES "
            "('acme', 'Acme Inc', '2026-01-01T00:00:00Z'), "
            "('beta', NULL, '2026-01-02T00:00:00Z')");
    auto sealed = seal(key, "EAAG-old-token", "acme", field_access_token);
    exec_bound(db,
               "INSERT INTO whatsapp_configs(tenant_id, api_key, phone_number_id, "
               "business_account_id, is_active, created_at, updated_at) "
               "VALUES('acme', ?, '1234', '5678', 1, '2026-01-01T00:00:00Z', "
               "'2026-01-01T00:00:00Z')",
               {}, sealed);
  }
  if (version >= 2) {
    db.exec("INSERT INTO contacts(tenant_id, phone_number, name, created_at, updated_at) VALUES "
            "('acme', '15551234567', 'Ann', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')");
    db.exec("INSERT INTO whatsapp_messages(tenant_id, phone_number, conversation, message_id, "
            "direction, status, type, message_text, timestamp, created_at) VALUES "
            "('acme', '15551234567', '15551234567', 'wamid.OLD1', 'incoming', 'received', 'text', "
            "'hello from the past', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')");
    db.exec("INSERT INTO message_statuses(tenant_id, message_id, status, timestamp) "
            "VALUES ('acme', 'wamid.OLD1', 'received', '2026-01-01T00:00:00Z')");
    db.exec("INSERT INTO webhook_deliveries(id, received_at, route, body) VALUES "
            "(1, '2026-01-01T00:00:00Z', '/api/whatsapp/webhook', x'7b7d')");
    db.exec("INSERT INTO delivery_tenants(delivery_id, tenant_id) VALUES (1, 'acme')");
    db.exec("INSERT INTO events(tenant_id, type, at, data) VALUES "
            "('acme', 'message.received', '2026-01-01T00:00:00Z', '{}')");
  }
  if (version >= 3) {
    db.exec("INSERT INTO api_tokens(id, tenant_id, label, token_hash, created_at) VALUES "
            "('tok1', 'acme', 'ci', x'00112233', '2026-01-01T00:00:00Z')");
  }
}

void check_rows_survived(Store& store, int version, const MasterKey& key) {
  if (version >= 1) {
    CHECK(store.setting("probe") == std::vector<unsigned char>{1, 2, 3});
    auto acme = find_tenant(store, "acme");
    REQUIRE(acme.has_value());
    CHECK(acme->name == "Acme Inc");
    CHECK(acme->created_at == "2026-01-01T00:00:00Z");
    CHECK(find_tenant(store, "beta").has_value());
    auto config = find_config(store, "acme");
    REQUIRE(config.has_value());
    CHECK(config->phone_number_id == "1234");
    CHECK(config->business_account_id == "5678");
    CHECK(config->is_active);
    CHECK_FALSE(config->needs_reauth);
    CHECK(open_secrets(*config, key).access_token == "EAAG-old-token");
  }
  if (version >= 2) {
    CHECK(count(store, "SELECT count(*) FROM contacts WHERE name = 'Ann'") == 1);
    CHECK(count(store, "SELECT count(*) FROM whatsapp_messages WHERE message_id = 'wamid.OLD1' "
                       "AND message_text = 'hello from the past'") == 1);
    CHECK(count(store, "SELECT count(*) FROM message_statuses") == 1);
    CHECK(count(store, "SELECT count(*) FROM webhook_deliveries") == 1);
    CHECK(count(store, "SELECT count(*) FROM delivery_tenants") == 1);
    CHECK(count(store, "SELECT count(*) FROM events WHERE type = 'message.received'") == 1);
    CHECK(count(store, "SELECT count(*) FROM delivery_tenants WHERE tenant_id = 'acme' AND "
                       "delivery_id = 1") == 1);
    // The unread counter is filled from the messages that were there before it existed.
    CHECK(unread_count(store, "acme") == 1);
    CHECK(unread_count(store, "beta") == 0);
  }
  if (version >= 3) {
    CHECK(count(store, "SELECT count(*) FROM api_tokens WHERE id = 'tok1'") == 1);
  }
}

} // namespace

TEST_CASE("a database from every older schema version migrates with its data intact") {
  MasterKey key = test_key();
  const int latest = Store::latest_version();
  REQUIRE(latest >= 3);
  for (int v = 0; v < latest; ++v) {
    CAPTURE(v);
    TempDir dir;
    auto path = dir / "old.db";
    {
      auto old = old_database(path, v);
      REQUIRE(old.execAndGet("PRAGMA user_version").getInt() == v);
      insert_rows_for_version(old, v, key);
    }
    Store store(path);
    CHECK(testsupport::query_int(store, "PRAGMA user_version") == latest);
    auto db = raw_db(store);
    CHECK(db.execAndGet("PRAGMA user_version").getInt() == latest);
    check_rows_survived(store, v, key);
    SQLite::Statement fk(db, "PRAGMA foreign_key_check");
    CHECK_FALSE(fk.executeStep());
    CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
    // The migrated database works like a new one.
    add_tenant(store, "after", std::nullopt);
    CHECK(find_tenant(store, "after").has_value());
  }
}

TEST_CASE("event ids never go back: not across the migration, not after removing a tenant") {
  // A version 4 database whose newest event was deleted: AUTOINCREMENT had given id 2.
  TempDir dir;
  auto path = dir / "v4.db";
  {
    auto old = old_database(path, 4);
    old.exec("INSERT INTO tenants(id, created_at) VALUES ('acme', '2026-01-01T00:00:00Z'), "
             "('beta', '2026-01-01T00:00:00Z')");
    old.exec("INSERT INTO events(tenant_id, type, at, data) VALUES "
             "('acme', 'message.received', '2026-01-01T00:00:00Z', '{}'), "
             "('acme', 'message.received', '2026-01-01T00:00:01Z', '{}')");
    old.exec("DELETE FROM events WHERE id = 2");
  }
  Store store(path);
  CHECK(count(store, "SELECT count(*) FROM sqlite_sequence WHERE name = 'events'") == 0);
  CHECK(count(store, "SELECT count(*) FROM events") == 1);
  CHECK(last_event_id(store) == 2);
  auto append = [&](const std::string& tenant) {
    std::int64_t id = 0;
    store.transaction([&] {
      id = append_event(store, tenant, event_config_changed, std::nullopt, std::nullopt);
    });
    return id;
  };
  CHECK(append("acme") == 3);
  CHECK(append("beta") == 4);
  CHECK(append("acme") == 5);

  // The newest event goes with beta; the next one still gets a new id.
  remove_tenant(store, "acme");
  CHECK(count(store, "SELECT count(*) FROM events") == 1);
  CHECK(last_event_id(store) == 5);
  add_tenant(store, "gamma", std::nullopt);
  CHECK(append("gamma") == 6);
  CHECK(append("beta") == 7);
  // Removing a tenant with no events, or from an empty log, keeps the mark where it is.
  remove_tenant(store, "gamma");
  remove_tenant(store, "beta");
  CHECK(count(store, "SELECT count(*) FROM events") == 0);
  CHECK(last_event_id(store) == 7);
  add_tenant(store, "delta", std::nullopt);
  remove_tenant(store, "delta");
  add_tenant(store, "delta", std::nullopt);
  CHECK(append("delta") == 8);
}

TEST_CASE("the unread count follows every change to a message, whoever writes it") {
  TempStore store{"acme", "beta"};
  // Raw SQL on purpose, on a connection of its own: the count must hold for any writer, not
  // only for wabactl's own code.
  auto db = raw_db(store);
  auto insert = [&](const std::string& tenant, const std::string& wamid, const char* direction,
                    const char* read_at) {
    db.exec(fmt::format(
        "INSERT INTO whatsapp_messages(tenant_id, phone_number, conversation, message_id, "
        "direction, status, type, timestamp, created_at, read_at) VALUES('{0}', '15550001111', "
        "'15550001111', '{1}', '{2}', 'received', 'text', '2026-01-01T00:00:00Z', "
        "'2026-01-01T00:00:00Z', {3})",
        tenant, wamid, direction, read_at));
  };
  auto truth = [&](const std::string& tenant) {
    return count(store, fmt::format("SELECT count(*) FROM whatsapp_messages WHERE tenant_id = "
                                    "'{}' AND direction = 'incoming' AND read_at IS NULL",
                                    tenant));
  };
  auto agrees = [&] {
    return unread_count(store, "acme") == truth("acme") &&
           unread_count(store, "beta") == truth("beta");
  };

  CHECK(unread_count(store, "acme") == 0);
  insert("acme", "wamid.A1", "incoming", "NULL");
  insert("acme", "wamid.A2", "incoming", "NULL");
  insert("acme", "wamid.A3", "incoming", "'2026-01-02T00:00:00Z'");
  insert("acme", "wamid.A4", "outgoing", "NULL");
  insert("beta", "wamid.B1", "incoming", "NULL");
  CHECK(unread_count(store, "acme") == 2);
  CHECK(unread_count(store, "beta") == 1);
  CHECK(agrees());

  db.exec("UPDATE whatsapp_messages SET read_at = '2026-01-03T00:00:00Z' "
          "WHERE message_id = 'wamid.A1'");
  CHECK(unread_count(store, "acme") == 1);
  // Marking a read message read again, or touching other columns, changes nothing.
  db.exec("UPDATE whatsapp_messages SET read_at = '2026-01-04T00:00:00Z', "
          "message_text = 'x' WHERE tenant_id = 'acme'");
  CHECK(unread_count(store, "acme") == 0);
  db.exec("UPDATE whatsapp_messages SET status = 'read' WHERE tenant_id = 'acme'");
  CHECK(unread_count(store, "acme") == 0);
  db.exec("UPDATE whatsapp_messages SET read_at = NULL WHERE tenant_id = 'acme'");
  CHECK(unread_count(store, "acme") == 3);
  db.exec("UPDATE whatsapp_messages SET direction = 'outgoing' "
          "WHERE message_id = 'wamid.A2'");
  CHECK(unread_count(store, "acme") == 2);
  db.exec("UPDATE whatsapp_messages SET tenant_id = 'beta' WHERE message_id = 'wamid.A1'");
  CHECK(unread_count(store, "acme") == 1);
  CHECK(unread_count(store, "beta") == 2);
  db.exec("DELETE FROM whatsapp_messages WHERE message_id IN ('wamid.A3', 'wamid.A4')");
  CHECK(unread_count(store, "acme") == 0);
  CHECK(agrees());

  // A transaction that rolls back leaves the count as it was.
  db.exec("BEGIN IMMEDIATE");
  insert("beta", "wamid.B2", "incoming", "NULL");
  db.exec("ROLLBACK");
  CHECK(unread_count(store, "beta") == 2);

  // Removing a tenant removes its counter; a tenant of the same name starts from zero.
  remove_tenant(store, "beta");
  CHECK(count(store, "SELECT count(*) FROM unread_counts WHERE tenant_id = 'beta'") == 0);
  add_tenant(store, "beta", std::nullopt);
  CHECK(unread_count(store, "beta") == 0);
  CHECK(agrees());
}

TEST_CASE("opening a database twice does not re-run migrations") {
  TempDir dir;
  { Store a(dir / "x.db"); }
  Store b(dir / "x.db");
  CHECK(testsupport::query_int(b, "PRAGMA user_version") == Store::latest_version());
}

TEST_CASE("a database from a newer wabactl is refused with a clear error and left alone") {
  TempDir dir;
  auto path = dir / "new.db";
  { Store s(path); }
  const int newer = Store::latest_version() + 1;
  {
    SQLite::Database raw(path.string(), SQLite::OPEN_READWRITE);
    raw.exec("PRAGMA user_version = " + std::to_string(newer));
  }
  std::string msg = message_and_hint_of([&] { Store s(path); });
  CHECK(msg.find("newer") != std::string::npos);
  CHECK(msg.find(std::to_string(newer)) != std::string::npos);
  CHECK(msg.find("upgrade wabactl") != std::string::npos);
  SQLite::Database raw(path.string(), SQLite::OPEN_READONLY);
  CHECK(raw.execAndGet("PRAGMA user_version").getInt() == newer);
}

TEST_CASE("a file that is not a database is refused with an Error, not a crash") {
  TempDir dir;
  auto path = dir / "junk.db";
  {
    std::ofstream out(path, std::ios::binary);
    out << std::string(8192, 'J');
  }
  CHECK(code_of([&] { Store s(path); }) != Exit::ok);
}

TEST_CASE("the database file is private and in WAL mode") {
  TempDir dir;
  auto path = dir / "nested" / "dir" / "w.db";
  Store store(path);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  REQUIRE(::stat(path.parent_path().c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);
  CHECK(raw_db(store).execAndGet("PRAGMA journal_mode").getString() == "wal");
  // Foreign keys are on for the store's connection: removing a tenant cascades to its config.
  add_tenant(store, "acme", std::nullopt);
  Config c;
  c.tenant_id = "acme";
  c.phone_number_id = "1";
  save_config(store, test_key(), c, ConfigSecrets{std::string("tok"), {}, {}});
  remove_tenant(store, "acme");
  CHECK(count(store, "SELECT count(*) FROM whatsapp_configs") == 0);
}

TEST_CASE("new databases get 2 KiB pages, an existing one keeps its own") {
  TempDir dir;
  {
    Store store(dir / "new.db");
    CHECK(raw_db(store).execAndGet("PRAGMA page_size").getInt() == 2048);
  }
  auto old_path = dir / "old.db";
  {
    SQLite::Database db(old_path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("PRAGMA page_size = 4096");
    db.exec("CREATE TABLE host_notes(t TEXT)");
    db.exec("INSERT INTO host_notes VALUES ('kept')");
  }
  Store store(old_path);
  auto db = raw_db(store);
  CHECK(db.execAndGet("PRAGMA page_size").getInt() == 4096);
  CHECK(db.execAndGet("SELECT t FROM host_notes").getString() == "kept");
  CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
  CHECK(testsupport::query_int(store, "PRAGMA user_version") == Store::latest_version());
}

TEST_CASE("transactions roll back when the body throws") {
  TempStore store;
  CHECK_THROWS_AS(store.transaction([&] {
    add_tenant(store, "gone", std::nullopt);
    throw Error(Exit::internal, "boom");
  }),
                  Error);
  CHECK_FALSE(find_tenant(store, "gone").has_value());
  store.transaction([&] { add_tenant(store, "kept", std::nullopt); });
  CHECK(find_tenant(store, "kept").has_value());
}

TEST_CASE("a nested transaction rolls back only its own changes") {
  TempStore store;
  store.transaction([&] {
    add_tenant(store, "outer", std::nullopt);
    CHECK_THROWS_AS(store.transaction([&] {
      add_tenant(store, "inner", std::nullopt);
      throw Error(Exit::internal, "boom");
    }),
                    Error);
    store.transaction([&] { add_tenant(store, "inner2", std::nullopt); });
  });
  CHECK(find_tenant(store, "outer").has_value());
  CHECK_FALSE(find_tenant(store, "inner").has_value());
  CHECK(find_tenant(store, "inner2").has_value());
  // The outer rollback takes the inner changes with it.
  CHECK_THROWS_AS(store.transaction([&] {
    store.transaction([&] { add_tenant(store, "both", std::nullopt); });
    throw Error(Exit::internal, "boom");
  }),
                  Error);
  CHECK_FALSE(find_tenant(store, "both").has_value());
}

TEST_CASE("settings are stored and replaced") {
  TempStore store;
  CHECK_FALSE(store.setting("x").has_value());
  store.set_setting("x", {1});
  store.set_setting("x", {2, 3});
  CHECK(store.setting("x") == std::vector<unsigned char>{2, 3});
}

TEST_CASE("tenants: add, list, find, duplicates and bad input") {
  TempStore store;
  auto t = add_tenant(store, "zeta", std::string("Zeta GmbH"));
  CHECK(t.id == "zeta");
  CHECK(t.name == "Zeta GmbH");
  add_tenant(store, "alpha", std::nullopt);
  add_tenant(store, "mid", std::string());
  CHECK(find_tenant(store, "mid")->name == std::nullopt);
  auto all = list_tenants(store);
  REQUIRE(all.size() == 3);
  CHECK(all[0].id == "alpha");
  CHECK(all[2].id == "zeta");

  CHECK(code_of([&] { add_tenant(store, "zeta", std::nullopt); }) == Exit::exists);
  CHECK(find_tenant(store, "zeta")->name == "Zeta GmbH");
  CHECK(code_of([&] { add_tenant(store, "Zeta", std::nullopt); }) == Exit::usage);
  CHECK(code_of([&] { add_tenant(store, "", std::nullopt); }) == Exit::usage);
  CHECK(code_of([&] { add_tenant(store, "x", std::string(257, 'n')); }) == Exit::usage);
  CHECK(code_of([&] { add_tenant(store, "x", std::string("a\nb")); }) == Exit::usage);
  CHECK(code_of([&] { add_tenant(store, "x", std::string("a\x1b[31m")); }) == Exit::usage);
  CHECK_FALSE(find_tenant(store, "x").has_value());
  CHECK(add_tenant(store, "unicode", std::string("Café Ünïcode 🙂")).name ==
        "Café Ünïcode 🙂");

  CHECK(code_of([&] { require_tenant(store, "nobody"); }) == Exit::not_found);
  CHECK(message_and_hint_of([&] {
          require_tenant(store, "nobody");
        }).find("wabactl tenant add nobody") != std::string::npos);
  CHECK(code_of([&] { require_tenant(store, "Bad Id"); }) == Exit::usage);
}

TEST_CASE("removing a tenant removes everything it owns and nothing else") {
  TempStore store;
  MasterKey key = test_key();
  auto db = raw_db(store);
  insert_rows_for_version(db, Store::latest_version(), key);
  // beta gets its own rows that must survive acme's removal.
  Config c;
  c.tenant_id = "beta";
  c.phone_number_id = "999";
  save_config(store, key, c, ConfigSecrets{std::string("beta-token"), std::nullopt, std::nullopt});
  db.exec("INSERT INTO events(tenant_id, type, at, data) VALUES "
          "('beta', 'config.changed', '2026-01-01T00:00:00Z', '{}')");
  db.exec("INSERT INTO webhook_deliveries(id, received_at, body) VALUES "
          "(2, '2026-01-01T00:00:00Z', x'7b7d')");
  db.exec("INSERT INTO delivery_tenants(delivery_id, tenant_id) VALUES (2, 'acme'), "
          "(2, 'beta')");

  remove_tenant(store, "acme");
  CHECK_FALSE(find_tenant(store, "acme").has_value());
  CHECK_FALSE(find_config(store, "acme").has_value());
  for (const char* table : {"contacts", "whatsapp_messages", "message_statuses", "events",
                            "api_tokens", "delivery_tenants", "whatsapp_configs"}) {
    CAPTURE(table);
    CHECK(count(store, fmt::format("SELECT count(*) FROM {} WHERE tenant_id = 'acme'", table)) ==
          0);
  }
  // acme's own delivery is gone; the shared one stays for beta.
  CHECK(count(store, "SELECT count(*) FROM webhook_deliveries WHERE id = 1") == 0);
  CHECK(count(store, "SELECT count(*) FROM webhook_deliveries WHERE id = 2") == 1);
  CHECK(find_config(store, "beta").has_value());
  CHECK(count(store, "SELECT count(*) FROM events WHERE tenant_id = 'beta'") == 1);

  CHECK(code_of([&] { remove_tenant(store, "acme"); }) == Exit::not_found);
  CHECK(code_of([&] { remove_tenant(store, "-bad"); }) == Exit::usage);
}

TEST_CASE("configs: create, replace, one number per tenant, delete, needs_reauth") {
  TempStore store;
  MasterKey key = test_key();
  add_tenant(store, "acme", std::nullopt);
  add_tenant(store, "beta", std::nullopt);
  CHECK_FALSE(find_config(store, "acme").has_value());
  CHECK(code_of([&] { require_config(store, "acme"); }) == Exit::not_found);

  Config c;
  c.tenant_id = "acme";
  c.phone_number_id = "111";
  c.business_account_id = "222";
  auto saved = save_config(
      store, key, c, ConfigSecrets{std::string("tok-1"), std::nullopt, std::string("verify-1")});
  CHECK(saved.created_at == saved.updated_at);
  auto stored = require_config(store, "acme");
  CHECK(stored.phone_number_id == "111");
  CHECK(stored.sealed_app_secret.empty());
  CHECK(open_secrets(stored, key).access_token == "tok-1");
  CHECK(open_secrets(stored, key).verify_token == "verify-1");
  CHECK(find_config_by_phone_number_id(store, "111")->tenant_id == "acme");

  // Another tenant cannot take the same number; acme's config is untouched.
  Config other;
  other.tenant_id = "beta";
  other.phone_number_id = "111";
  CHECK(code_of([&] {
          save_config(store, key, other, ConfigSecrets{std::string("x"), {}, {}});
        }) == Exit::exists);
  CHECK_FALSE(find_config(store, "beta").has_value());

  set_needs_reauth(store, "acme", true);
  CHECK(require_config(store, "acme").needs_reauth);
  c.phone_number_id = "333";
  save_config(store, key, c, ConfigSecrets{std::string("tok-2"), std::string("app-2"), {}});
  auto replaced = require_config(store, "acme");
  CHECK(replaced.phone_number_id == "333");
  CHECK_FALSE(replaced.needs_reauth);
  CHECK(replaced.created_at == stored.created_at);
  CHECK(open_secrets(replaced, key).app_secret == "app-2");
  CHECK_FALSE(open_secrets(replaced, key).verify_token.has_value());
  CHECK(count(store, "SELECT count(*) FROM whatsapp_configs") == 1);
  CHECK(list_configs(store).size() == 1);

  delete_config(store, "acme");
  CHECK_FALSE(find_config(store, "acme").has_value());
  CHECK(code_of([&] { delete_config(store, "acme"); }) == Exit::not_found);
  CHECK(find_tenant(store, "acme").has_value());
}

TEST_CASE("config field validation") {
  for (const std::string& ok :
       std::vector<std::string>{"1", "106540352242922", std::string(32, '9')}) {
    CHECK_NOTHROW(validate_phone_number_id(ok));
  }
  for (const std::string& bad : std::vector<std::string>{"", "+15551234567", "12a", "1 2",
                                                         std::string(33, '1'), "-1", "１２"}) {
    CAPTURE(bad);
    CHECK(code_of([&] { validate_phone_number_id(bad); }) == Exit::usage);
  }
  for (const std::string& ok : std::vector<std::string>{"v25.0", "v3.1", "v100.10"})
    CHECK_NOTHROW(validate_api_version(ok));
  for (const std::string& bad :
       std::vector<std::string>{"", "25.0", "v25", "v25.", "v.5", "V25.0", "v25.0.1", "vAB.C",
                                "v25.0 ", "v123456.0", "v25,0"}) {
    CAPTURE(bad);
    CHECK(code_of([&] { validate_api_version(bad); }) == Exit::usage);
  }
  for (const std::string& ok : std::vector<std::string>{"https://graph.facebook.com",
                                                        "http://127.0.0.1:8080", "http://h/"}) {
    CHECK_NOTHROW(validate_graph_url(ok));
  }
  for (const std::string& bad : std::vector<std::string>{
           "", "graph.facebook.com", "ftp://x.y", "http://", "https://", "http://a b", "http://x\n",
           "javascript:alert(1)", "http://" + std::string(3000, 'a')}) {
    CAPTURE(bad);
    CHECK(code_of([&] { validate_graph_url(bad); }) == Exit::usage);
  }
  CHECK_NOTHROW(validate_secret(std::string(4096, 'a'), "access token"));
  for (const std::string& bad :
       std::vector<std::string>{"", std::string(4097, 'a'), "two words", "tab\there", "nl\nx",
                                std::string("nul\0x", 5), "del\x7f", "tök\xC3\xA9n"}) {
    CAPTURE(bad.size());
    CHECK(code_of([&] { validate_secret(bad, "access token"); }) == Exit::usage);
  }
}

TEST_CASE("effective Graph URL and version: per tenant, then environment, then Meta's") {
  Config c;
  {
    ScopedEnv env{{"WABACTL_GRAPH_URL", std::nullopt}, {"META_API_VERSION", std::nullopt}};
    CHECK(effective_graph_url(c) == "https://graph.facebook.com");
    CHECK(effective_api_version(c) == "v25.0");
  }
  ScopedEnv env{{"WABACTL_GRAPH_URL", "http://127.0.0.1:1234//"}, {"META_API_VERSION", "v24.0"}};
  CHECK(effective_graph_url(c) == "http://127.0.0.1:1234");
  CHECK(effective_api_version(c) == "v24.0");
  c.graph_url = "https://tenant.example/";
  c.api_version = "v23.0";
  CHECK(effective_graph_url(c) == "https://tenant.example");
  CHECK(effective_api_version(c) == "v23.0");
}

TEST_CASE("config JSON has exactly the contract's keys, secrets masked unless asked") {
  Config c;
  c.tenant_id = "acme";
  c.phone_number_id = "123";
  c.created_at = c.updated_at = "2026-11-24T10:15:00Z";
  ConfigSecrets s{std::string("EAAGabcdefghijklmnop9Qf1"), std::string("short"), std::nullopt};
  auto j = config_json(c, s, false);
  CHECK(testsupport::keys_of(j) == testsupport::config_json_keys);
  CHECK(j["access_token"] == "EAAG…9Qf1");
  CHECK(j["app_secret"] == "…");
  CHECK(j["verify_token"].is_null());
  CHECK(j["business_account_id"].is_null());
  CHECK(j["is_active"] == true);
  auto shown = config_json(c, s, true);
  CHECK(shown["access_token"] == "EAAGabcdefghijklmnop9Qf1");
  CHECK(shown["app_secret"] == "short");
}
