#include "wabactl/secrets.hpp"

#include "wabactl/error.hpp"
#include "wabactl/paths.hpp"
#include "wabactl/store.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>
#include <sodium.h>
#include <sys/stat.h>

#include <cstring>

namespace wabactl {
namespace {

constexpr unsigned char seal_version = 1;
constexpr std::size_t nonce_size = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t tag_size = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr std::size_t min_passphrase = 32;
constexpr const char* salt_setting = "argon2id_salt";
constexpr const char* check_setting = "key_check";
constexpr const char* check_plaintext = "wabactl key check";

// Associated data: version, tenant and field, length-prefixed so no two pairs collide.
std::string associated_data(std::string_view tenant, std::string_view field) {
  return fmt::format("wabactl:{}:{}:{}:{}:{}", seal_version, tenant.size(), tenant, field.size(),
                     field);
}

void require_passphrase_length(std::string_view passphrase) {
  if (passphrase.size() < min_passphrase) {
    throw Error(Exit::credentials,
                fmt::format("$WHATSAPP_ENCRYPTION_KEY is too short ({} characters; at least {} "
                            "are required)",
                            passphrase.size(), min_passphrase),
                "use a key file ('wabactl key init'), or a passphrase of 32 or more characters");
  }
}

} // namespace

MasterKey::MasterKey(const unsigned char* bytes, std::string source) : source_(std::move(source)) {
  std::memcpy(bytes_.data(), bytes, size);
}
MasterKey::MasterKey(const MasterKey&) = default;
MasterKey& MasterKey::operator=(const MasterKey&) = default;
MasterKey::~MasterKey() {
  sodium_memzero(bytes_.data(), bytes_.size());
}

void init_crypto() {
  static const int rc = sodium_init();
  if (rc < 0) {
    throw Error(Exit::internal, "libsodium could not be initialised");
  }
}

std::filesystem::path create_key_file(const std::filesystem::path& path, bool force) {
  init_crypto();
  make_private_dirs(path.parent_path());
  std::array<unsigned char, MasterKey::size> raw{};
  randombytes_buf(raw.data(), raw.size());
  std::string text = to_hex(raw.data(), raw.size()) + "\n";
  sodium_memzero(raw.data(), raw.size());
  try {
    write_file_atomic(path, text, 0600, !force);
  } catch (const Error& e) {
    sodium_memzero(text.data(), text.size());
    if (e.code() == Exit::exists) {
      throw Error(Exit::exists, fmt::format("a master key already exists at '{}'", path.string()),
                  "keep it, or pass --force to replace it (secrets sealed under the old key "
                  "become unreadable: use 'wabactl key rotate' to change keys)");
    }
    throw;
  }
  sodium_memzero(text.data(), text.size());
  return path;
}

MasterKey read_key_file(const std::filesystem::path& path, const std::string& origin) {
  init_crypto();
  std::string where = fmt::format("key file '{}' ({})", path.string(), origin);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw Error(Exit::credentials,
                fmt::format("no master key: {} does not exist or cannot be read: {}", where,
                            std::strerror(errno)),
                "run 'wabactl key init', or point --key-file, $WABACTL_KEY_FILE or "
                "$WHATSAPP_ENCRYPTION_KEY at your key");
  }
  if ((st.st_mode & 077) != 0) {
    throw Error(Exit::credentials,
                fmt::format("refusing to use {}: its mode {:04o} lets group or others access it",
                            where, st.st_mode & 07777),
                fmt::format("run 'chmod 600 {}'", path.string()));
  }
  std::string text;
  try {
    text = read_file_limited(path, 1024, "the master key");
  } catch (const Error& e) {
    throw Error(Exit::credentials, e.what());
  }
  auto bytes = from_hex(trim(text));
  sodium_memzero(text.data(), text.size());
  if (!bytes || bytes->size() != MasterKey::size) {
    if (bytes) sodium_memzero(bytes->data(), bytes->size());
    throw Error(Exit::credentials,
                fmt::format("{} is not a master key (64 hex characters expected)", where));
  }
  MasterKey key(bytes->data(), where);
  sodium_memzero(bytes->data(), bytes->size());
  return key;
}

MasterKey derive_key(std::string_view passphrase, const std::vector<unsigned char>& salt) {
  init_crypto();
  require_passphrase_length(passphrase);
  if (salt.size() != crypto_pwhash_SALTBYTES) {
    throw Error(Exit::internal, "the stored Argon2id salt has the wrong size");
  }
  std::array<unsigned char, MasterKey::size> out{};
  // OWASP's Argon2id baseline (t=2, m=19 MiB): about 30 ms here, and small enough for the
  // daemon's memory budget.
  if (crypto_pwhash(out.data(), out.size(), passphrase.data(), passphrase.size(), salt.data(), 2,
                    19u * 1024u * 1024u, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw Error(Exit::internal, "Argon2id ran out of memory deriving the master key");
  }
  MasterKey key(out.data(), "passphrase from $WHATSAPP_ENCRYPTION_KEY");
  sodium_memzero(out.data(), out.size());
  return key;
}

std::vector<unsigned char> seal(const MasterKey& key, std::string_view plaintext,
                                std::string_view tenant, std::string_view field) {
  init_crypto();
  std::string ad = associated_data(tenant, field);
  std::vector<unsigned char> out(1 + nonce_size + plaintext.size() + tag_size);
  out[0] = seal_version;
  unsigned char* nonce = out.data() + 1;
  randombytes_buf(nonce, nonce_size);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      out.data() + 1 + nonce_size, &clen, reinterpret_cast<const unsigned char*>(plaintext.data()),
      plaintext.size(), reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr,
      nonce, key.data());
  out.resize(1 + nonce_size + clen);
  return out;
}

std::optional<std::string> try_open(const MasterKey& key, const std::vector<unsigned char>& sealed,
                                    std::string_view tenant, std::string_view field) {
  init_crypto();
  if (sealed.size() < 1 + nonce_size + tag_size || sealed[0] != seal_version) {
    return std::nullopt;
  }
  std::string ad = associated_data(tenant, field);
  std::size_t clen = sealed.size() - 1 - nonce_size;
  std::string plain(clen - tag_size, '\0');
  unsigned long long plen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(plain.data()), &plen, nullptr,
          sealed.data() + 1 + nonce_size, clen, reinterpret_cast<const unsigned char*>(ad.data()),
          ad.size(), sealed.data() + 1, key.data()) != 0) {
    return std::nullopt;
  }
  plain.resize(plen);
  return plain;
}

std::string open_sealed(const MasterKey& key, const std::vector<unsigned char>& sealed,
                        std::string_view tenant, std::string_view field) {
  if (auto plain = try_open(key, sealed, tenant, field)) {
    return std::move(*plain);
  }
  throw Error(Exit::credentials,
              fmt::format("the {} of tenant '{}' cannot be opened with the master key from {}",
                          field, tenant, key.source()),
              "use the key it was sealed with, or set the secret again with 'wabactl config set'");
}

void write_key_check(Store& store, const MasterKey& key) {
  store.set_setting(check_setting, seal(key, check_plaintext, "", check_setting));
}

bool key_matches(Store& store, const MasterKey& key) {
  auto check = store.setting(check_setting);
  if (!check) return true;
  auto plain = try_open(key, *check, "", check_setting);
  return plain && *plain == check_plaintext;
}

MasterKey load_master_key(const KeyOptions& options, Store& store) {
  init_crypto();
  auto passphrase = env("WHATSAPP_ENCRYPTION_KEY");
  auto path = resolve_key_path(options.key_file, passphrase.has_value());
  std::optional<MasterKey> key;
  if (path) {
    key.emplace(read_key_file(path->path, path->origin));
  } else {
    // Checked before a salt is stored, so a refused passphrase leaves the database as it was.
    require_passphrase_length(*passphrase);
    auto salt = store.setting(salt_setting);
    if (!salt) {
      // Created under the write lock: two first uses at once must not store two salts.
      store.transaction([&] {
        salt = store.setting(salt_setting);
        if (salt) return;
        salt.emplace(crypto_pwhash_SALTBYTES);
        randombytes_buf(salt->data(), salt->size());
        store.set_setting(salt_setting, *salt);
      });
    }
    key.emplace(derive_key(*passphrase, *salt));
    sodium_memzero(passphrase->data(), passphrase->size());
  }
  bool matches = key_matches(store, *key);
  if (matches && !store.setting(check_setting)) {
    // First use: the check value is written once, under the write lock, so a second
    // process starting at the same moment with another key is refused rather than racing.
    store.transaction([&] {
      if (!store.setting(check_setting)) {
        write_key_check(store, *key);
      } else {
        matches = key_matches(store, *key);
      }
    });
  }
  if (!matches) {
    throw Error(Exit::credentials,
                fmt::format("the master key from {} does not match this database", key->source()),
                "use the key the database was created with (see 'man wabactl', MASTER KEY)");
  }
  return *key;
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace wabactl
