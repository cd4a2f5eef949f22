// Unit tests of sealing, the master key (files, passphrase, check value) and key rotation.
#include "support/fixtures.hpp"
#include "support/support.hpp"
#include "support/temp_store.hpp"
#include "unit/test_helpers.hpp"
#include "wabactl/configs.hpp"
#include "wabactl/error.hpp"
#include "wabactl/secrets.hpp"
#include "wabactl/store.hpp"
#include "wabactl/tenants.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>

using namespace wabactl;
using testhelpers::code_of;
using testhelpers::message_of;
using testhelpers::ScopedEnv;
using testsupport::TempDir;
using testsupport::TempStore;

namespace {

MasterKey key_of(unsigned char fill, const std::string& source = "test key") {
  std::array<unsigned char, MasterKey::size> bytes{};
  bytes.fill(fill);
  bytes[0] = static_cast<unsigned char>(fill ^ 0x5a);
  return MasterKey(bytes.data(), source);
}

bool same_key(const MasterKey& a, const MasterKey& b) {
  return std::equal(a.data(), a.data() + MasterKey::size, b.data());
}

void write_key_text(const std::filesystem::path& p, const std::string& text, mode_t mode) {
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
  }
  REQUIRE(::chmod(p.c_str(), mode) == 0);
}

const std::string valid_hex = std::string(32, 'a') + std::string(32, '7');

// A store with tenants acme and beta, each with all three secrets set.
void seed_configs(Store& store, const MasterKey& key) {
  for (const auto* t : {&fixtures::acme, &fixtures::beta})
    fixtures::add_tenant_config(store, key, *t);
}

// The fixture tenant with `id`.
const fixtures::TestTenant& tenant(const std::string& id) {
  return id == fixtures::acme.id ? fixtures::acme : fixtures::beta;
}

} // namespace

TEST_CASE("a sealed secret opens with the same key, tenant and field") {
  MasterKey key = key_of(1);
  for (const std::string& plain : std::vector<std::string>{
           std::string(), std::string("EAAGtoken"), std::string("ünï€ 🙂"),
           std::string(4096, 'x'), std::string("a\0b", 3)}) {
    auto sealed = seal(key, plain, "acme", "access_token");
    CHECK(sealed.size() == plain.size() + 1 + 24 + 16);
    auto opened = try_open(key, sealed, "acme", "access_token");
    REQUIRE(opened.has_value());
    CHECK(*opened == plain);
    CHECK(open_sealed(key, sealed, "acme", "access_token") == plain);
  }
}

TEST_CASE("sealing the same secret twice gives different bytes (fresh nonce)") {
  MasterKey key = key_of(1);
  CHECK(seal(key, "same", "acme", "f") != seal(key, "same", "acme", "f"));
}

TEST_CASE("a sealed secret does not contain its plaintext") {
  MasterKey key = key_of(1);
  std::string plain = "EAAG-plaintext-token-value";
  auto sealed = seal(key, plain, "acme", "access_token");
  std::string bytes(sealed.begin(), sealed.end());
  CHECK(bytes.find("EAAG") == std::string::npos);
}

TEST_CASE("flipping any byte of a sealed secret makes it fail closed") {
  MasterKey key = key_of(2);
  const auto sealed = seal(key, "EAAGsecret-token", "acme", "access_token");
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    for (unsigned char bit : {0x01, 0x80}) {
      auto tampered = sealed;
      tampered[i] ^= bit;
      CAPTURE(i);
      CHECK_FALSE(try_open(key, tampered, "acme", "access_token").has_value());
    }
  }
  CHECK(code_of([&] {
          auto t = sealed;
          t.back() ^= 1;
          open_sealed(key, t, "acme", "access_token");
        }) == Exit::credentials);
}

TEST_CASE("truncated, extended and empty sealed values fail closed") {
  MasterKey key = key_of(3);
  auto sealed = seal(key, "secret", "acme", "app_secret");
  for (std::size_t n :
       {std::size_t{0}, std::size_t{1}, std::size_t{25}, std::size_t{40}, sealed.size() - 1}) {
    std::vector<unsigned char> cut(sealed.begin(), sealed.begin() + static_cast<long>(n));
    CAPTURE(n);
    CHECK_FALSE(try_open(key, cut, "acme", "app_secret").has_value());
  }
  auto longer = sealed;
  longer.push_back(0);
  CHECK_FALSE(try_open(key, longer, "acme", "app_secret").has_value());
  auto versioned = sealed;
  versioned[0] = 2;
  CHECK_FALSE(try_open(key, versioned, "acme", "app_secret").has_value());
}

TEST_CASE("a sealed secret does not open under another key, tenant or field") {
  MasterKey key = key_of(4);
  auto sealed = seal(key, "secret", "acme", "access_token");
  CHECK_FALSE(try_open(key_of(5), sealed, "acme", "access_token").has_value());
  CHECK_FALSE(try_open(key, sealed, "acme2", "access_token").has_value());
  CHECK_FALSE(try_open(key, sealed, "", "access_token").has_value());
  CHECK_FALSE(try_open(key, sealed, "acme", "app_secret").has_value());
  CHECK_FALSE(try_open(key, sealed, "acme", "verify_token").has_value());
  // Tenant and field cannot be shifted into each other.
  auto shifted = seal(key, "secret", "a:b", "c");
  CHECK_FALSE(try_open(key, shifted, "a", "b:c").has_value());
  std::string msg = message_of([&] { open_sealed(key, sealed, "acme", "app_secret"); });
  CHECK(msg.find("app_secret") != std::string::npos);
  CHECK(msg.find("acme") != std::string::npos);
  CHECK(msg.find("test key") != std::string::npos);
}

TEST_CASE("Argon2id: short passphrases are refused, the same passphrase and salt agree") {
  std::vector<unsigned char> salt(16, 7);
  std::string short_pass(31, 'p');
  CHECK(code_of([&] { derive_key(short_pass, salt); }) == Exit::credentials);
  CHECK(code_of([&] { derive_key("", salt); }) == Exit::credentials);
  std::string pass(32, 'p');
  MasterKey a = derive_key(pass, salt);
  MasterKey b = derive_key(pass, salt);
  CHECK(same_key(a, b));
  CHECK_FALSE(same_key(a, derive_key(pass, std::vector<unsigned char>(16, 8))));
  CHECK_FALSE(same_key(a, derive_key(pass + "x", salt)));
  CHECK(code_of([&] { derive_key(pass, std::vector<unsigned char>(15, 7)); }) == Exit::internal);
}

TEST_CASE("the passphrase's salt is stored in the database on first use and reused") {
  TempDir dir;
  ScopedEnv env{{"WHATSAPP_ENCRYPTION_KEY", "correct horse battery staple 0123456789"},
                {"WABACTL_KEY_FILE", std::nullopt},
                {"CREDENTIALS_DIRECTORY", std::nullopt},
                {"XDG_CONFIG_HOME", (dir / "xdg").string()}};
  TempStore store;
  CHECK_FALSE(store.setting("argon2id_salt").has_value());
  MasterKey first = load_master_key(KeyOptions{}, store);
  auto salt = store.setting("argon2id_salt");
  REQUIRE(salt.has_value());
  CHECK(salt->size() == 16);
  MasterKey second = load_master_key(KeyOptions{}, store);
  CHECK(same_key(first, second));
  CHECK(store.setting("argon2id_salt") == salt);
  CHECK(first.source().find("WHATSAPP_ENCRYPTION_KEY") != std::string::npos);

  // Another database gets its own salt, hence another key.
  TempStore other;
  CHECK_FALSE(same_key(first, load_master_key(KeyOptions{}, other)));

  // A different passphrase on the same database is refused.
  ScopedEnv wrong{{"WHATSAPP_ENCRYPTION_KEY", "another passphrase that is long enough!!"}};
  CHECK(code_of([&] { load_master_key(KeyOptions{}, store); }) == Exit::credentials);
}

TEST_CASE("a too-short passphrase is refused before anything is stored") {
  TempDir dir;
  ScopedEnv env{{"WHATSAPP_ENCRYPTION_KEY", "too short"},
                {"WABACTL_KEY_FILE", std::nullopt},
                {"CREDENTIALS_DIRECTORY", std::nullopt},
                {"XDG_CONFIG_HOME", (dir / "xdg").string()}};
  TempStore store;
  CHECK(code_of([&] { load_master_key(KeyOptions{}, store); }) == Exit::credentials);
  CHECK_FALSE(store.setting("argon2id_salt").has_value());
  CHECK_FALSE(store.setting("key_check").has_value());
}

TEST_CASE("key files: 64 hex characters and a newline, mode 0600, no silent overwrite") {
  TempDir dir;
  auto path = dir / "sub" / "master.key";
  create_key_file(path, false);
  std::string text = testsupport::slurp(path);
  REQUIRE(text.size() == 65);
  CHECK(text.back() == '\n');
  for (char c : text.substr(0, 64)) {
    CHECK(((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')));
  }
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  REQUIRE(::stat((dir / "sub").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);

  CHECK(code_of([&] { create_key_file(path, false); }) == Exit::exists);
  CHECK(testsupport::slurp(path) == text);
  create_key_file(path, true);
  CHECK(testsupport::slurp(path) != text);
  CHECK(testsupport::slurp(path).size() == 65);
}

TEST_CASE("key files readable or writable by others are refused, 0600 and 0400 accepted") {
  TempDir dir;
  auto path = dir / "k";
  for (mode_t mode : {0640, 0644, 0604, 0660, 0602, 0620, 0666}) {
    write_key_text(path, valid_hex + "\n", mode);
    CAPTURE(mode);
    CHECK(code_of([&] { read_key_file(path, "--key-file"); }) == Exit::credentials);
    CHECK(message_of([&] { read_key_file(path, "--key-file"); }).find(path.string()) !=
          std::string::npos);
  }
  for (mode_t mode : {0600, 0400}) {
    write_key_text(path, valid_hex + "\n", mode);
    CAPTURE(mode);
    MasterKey key = read_key_file(path, "--key-file");
    CHECK(key.data()[0] == 0xaa);
    CHECK(key.data()[31] == 0x77);
    CHECK(key.source().find("--key-file") != std::string::npos);
  }
}

TEST_CASE("malformed, missing and special key files are refused") {
  TempDir dir;
  auto path = dir / "k";
  for (const std::string& text : std::vector<std::string>{
           std::string(), std::string("\n"), valid_hex.substr(1), valid_hex + "a", valid_hex + "aa",
           "zz" + valid_hex.substr(2), valid_hex.substr(0, 32) + " " + valid_hex.substr(32),
           std::string(5000, 'a'), std::string(64, '\0')}) {
    write_key_text(path, text, 0600);
    CAPTURE(text.size());
    CHECK(code_of([&] { read_key_file(path, "--key-file"); }) == Exit::credentials);
  }
  // Surrounding white space (an editor's newline) is tolerated.
  write_key_text(path, "  " + valid_hex + "\r\n", 0600);
  CHECK(read_key_file(path, "--key-file").data()[0] == 0xaa);
  CHECK(code_of([&] { read_key_file(dir / "missing", "--key-file"); }) == Exit::credentials);
  std::filesystem::create_directory(dir / "d");
  ::chmod((dir / "d").c_str(), 0700);
  CHECK(code_of([&] { read_key_file(dir / "d", "--key-file"); }) == Exit::credentials);
}

TEST_CASE("the key check value accepts the first key and refuses any other") {
  TempDir dir;
  auto path = dir / "k";
  create_key_file(path, false);
  TempStore store;
  MasterKey key = load_master_key(KeyOptions{path}, store);
  CHECK(store.setting("key_check").has_value());
  CHECK(key_matches(store, key));
  CHECK(same_key(key, load_master_key(KeyOptions{path}, store)));

  create_key_file(dir / "other", false);
  std::string msg = message_of([&] { load_master_key(KeyOptions{dir / "other"}, store); });
  CHECK(msg.find((dir / "other").string()) != std::string::npos);
  CHECK(code_of([&] { load_master_key(KeyOptions{dir / "other"}, store); }) == Exit::credentials);
  CHECK_FALSE(key_matches(store, key_of(9)));
}

TEST_CASE("rotation re-seals every secret under the new key only") {
  TempStore store;
  MasterKey old_key = key_of(10, "old");
  MasterKey new_key = key_of(11, "new");
  write_key_check(store, old_key);
  seed_configs(store, old_key);
  auto before = list_configs(store);

  CHECK(rotate_master_key(store, old_key, new_key) == 6);
  CHECK(key_matches(store, new_key));
  CHECK_FALSE(key_matches(store, old_key));
  auto after = list_configs(store);
  REQUIRE(after.size() == 2);
  for (std::size_t i = 0; i < after.size(); ++i) {
    const auto& c = after[i];
    CAPTURE(c.tenant_id);
    CHECK(c.sealed_access_token != before[i].sealed_access_token);
    auto s = open_secrets(c, new_key);
    CHECK(s.access_token == tenant(c.tenant_id).access_token);
    CHECK(s.app_secret == tenant(c.tenant_id).app_secret);
    CHECK(s.verify_token == tenant(c.tenant_id).verify_token);
    CHECK(code_of([&] { open_secrets(c, old_key); }) == Exit::credentials);
    CHECK(c.phone_number_id == before[i].phone_number_id);
  }
}

TEST_CASE("a config sealed under a key the rotation replaced is refused, nothing written") {
  TempStore store;
  MasterKey old_key = key_of(14, "old");
  MasterKey new_key = key_of(15, "new");
  write_key_check(store, old_key);
  seed_configs(store, old_key);
  REQUIRE(rotate_master_key(store, old_key, new_key) == 6);
  auto before = list_configs(store);
  Config c = before[0];
  CHECK(code_of([&] {
          save_config(store, old_key, c, ConfigSecrets{std::string("late"), {}, {}});
        }) == Exit::tempfail);
  auto after = list_configs(store);
  REQUIRE(after.size() == before.size());
  CHECK(after[0].sealed_access_token == before[0].sealed_access_token);
  CHECK(open_secrets(after[0], new_key).access_token == fixtures::acme.access_token);
  save_config(store, new_key, c, ConfigSecrets{std::string("late"), {}, {}});
  CHECK(open_secrets(find_config(store, "acme").value(), new_key).access_token == "late");
}

TEST_CASE("rotation skips unset secrets and works on an empty store") {
  TempStore store;
  MasterKey old_key = key_of(12);
  MasterKey new_key = key_of(13);
  write_key_check(store, old_key);
  CHECK(rotate_master_key(store, old_key, new_key) == 0);
  CHECK(key_matches(store, new_key));

  add_tenant(store, "solo", std::nullopt);
  Config c;
  c.tenant_id = "solo";
  c.phone_number_id = "42";
  save_config(store, new_key, c, ConfigSecrets{std::string("tok"), std::nullopt, std::nullopt});
  MasterKey third = key_of(14);
  CHECK(rotate_master_key(store, new_key, third) == 1);
  auto s = open_secrets(*find_config(store, "solo"), third);
  CHECK(s.access_token == "tok");
  CHECK_FALSE(s.app_secret.has_value());
  CHECK_FALSE(s.verify_token.has_value());
}

TEST_CASE("a secret that cannot be opened aborts rotation and leaves everything as it was") {
  TempStore store;
  MasterKey old_key = key_of(20, "old");
  MasterKey new_key = key_of(21, "new");
  write_key_check(store, old_key);
  seed_configs(store, old_key);
  // beta's app secret was sealed under a key nobody has any more.
  auto stray = seal(key_of(22), "lost", "beta", field_app_secret);
  auto db = testsupport::raw_db(store);
  SQLite::Statement q(db, "UPDATE whatsapp_configs SET api_secret = ? WHERE tenant_id = ?");
  q.bind(1, stray.data(), static_cast<int>(stray.size()));
  q.bind(2, "beta");
  REQUIRE(q.exec() == 1);

  std::string msg = message_of([&] { rotate_master_key(store, old_key, new_key); });
  CHECK(msg.find("beta") != std::string::npos);
  CHECK(msg.find("app_secret") != std::string::npos);
  CHECK(code_of([&] { rotate_master_key(store, old_key, new_key); }) == Exit::credentials);

  CHECK(key_matches(store, old_key));
  CHECK_FALSE(key_matches(store, new_key));
  auto acme = *find_config(store, "acme");
  auto s = open_secrets(acme, old_key);
  CHECK(s.access_token == fixtures::acme.access_token);
  CHECK(s.app_secret == fixtures::acme.app_secret);
  CHECK(try_open(old_key, find_config(store, "beta")->sealed_access_token, "beta",
                 field_access_token) == fixtures::beta.access_token);
  CHECK_FALSE(try_open(new_key, acme.sealed_access_token, "acme", field_access_token));
}

TEST_CASE("constant-time comparison") {
  CHECK(equal_constant_time("abc", "abc"));
  CHECK(equal_constant_time("", ""));
  CHECK_FALSE(equal_constant_time("abc", "abd"));
  CHECK_FALSE(equal_constant_time("abc", "abcd"));
  CHECK_FALSE(equal_constant_time("", "a"));
}
