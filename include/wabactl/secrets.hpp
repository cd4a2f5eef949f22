#pragma once
// The master key and sealed secrets. Every secret is sealed with XChaCha20-Poly1305 under
// the master key, with a fresh random nonce, a version byte, and associated data that binds
// the ciphertext to its tenant and field: a sealed value copied into another row or column
// fails to open.

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wabactl {

class Store;

/// 32 secret bytes, wiped on destruction, plus a description of where they came from.
class MasterKey {
public:
  static constexpr std::size_t size = 32;
  MasterKey(const unsigned char* bytes, std::string source);
  MasterKey(const MasterKey&);
  MasterKey& operator=(const MasterKey&);
  ~MasterKey();

  const unsigned char* data() const { return bytes_.data(); }
  /// Where the key came from, for messages: "key file '/x' (--key-file)".
  const std::string& source() const { return source_; }

private:
  std::array<unsigned char, size> bytes_{};
  std::string source_;
};

/// Options that select the master key (the global `--key-file`).
struct KeyOptions {
  std::optional<std::filesystem::path> key_file;
};

/// Initialises libsodium once; throws when it cannot.
void init_crypto();

/// Creates a new random key file (64 lowercase hex characters and a newline, mode 0600,
/// parent folders 0700). Refuses to overwrite unless `force`. Returns the path written.
std::filesystem::path create_key_file(const std::filesystem::path& path, bool force);

/// Reads a key file: refuses files readable or writable by group or others, and contents
/// that are not 64 hex characters. Errors are Error(credentials) naming the file.
MasterKey read_key_file(const std::filesystem::path& path, const std::string& origin);

/// Resolves the master key in the contract's order (flag, $WABACTL_KEY_FILE,
/// $CREDENTIALS_DIRECTORY, $WHATSAPP_ENCRYPTION_KEY via Argon2id with the salt kept in the
/// database, XDG default) and checks it against the database's key check value (written on
/// first use). Missing or wrong keys throw Error(credentials) saying which source was tried.
MasterKey load_master_key(const KeyOptions& options, Store& store);

/// Derives a key from a passphrase of at least 32 characters with Argon2id.
MasterKey derive_key(std::string_view passphrase, const std::vector<unsigned char>& salt);

/// Seals `plaintext` for (tenant, field).
std::vector<unsigned char> seal(const MasterKey& key, std::string_view plaintext,
                                std::string_view tenant, std::string_view field);
/// Opens a sealed value for (tenant, field); nullopt when it was tampered with, sealed
/// under another key, or belongs to another tenant or field.
std::optional<std::string> try_open(const MasterKey& key, const std::vector<unsigned char>& sealed,
                                    std::string_view tenant, std::string_view field);
/// As try_open, but throws Error(credentials) naming the field when it fails.
std::string open_sealed(const MasterKey& key, const std::vector<unsigned char>& sealed,
                        std::string_view tenant, std::string_view field);

/// Writes the key check value for `key` into the store (used by rotation and first use).
void write_key_check(Store& store, const MasterKey& key);
/// Whether `key` opens the store's key check value (true when none is stored yet).
bool key_matches(Store& store, const MasterKey& key);

/// Constant-time equality of two byte strings (length is not secret).
bool equal_constant_time(std::string_view a, std::string_view b);

} // namespace wabactl
