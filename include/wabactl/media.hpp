#pragma once
// The bytes of media kept (CONTRACT.md §7): content-addressed files in a `media/` folder
// beside the database (folder 0700, files 0600), named by their SHA-256 so the same bytes
// are stored once. Bytes arrive by streaming (never whole files in memory) and are hashed
// as they come; a file appears under its name only once it is complete and synced.

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace wabactl {

class Store;

/// Bytes that are kept: their SHA-256 (lowercase hex) and size.
struct StoredMedia {
  std::string sha256;
  std::int64_t size = 0;
};

/// The media folder of `store` (created 0700 on first use).
std::filesystem::path media_dir(const Store& store);

/// Where the bytes with `sha256` live (whether or not they are there).
std::filesystem::path media_file(const Store& store, const std::string& sha256);

/// Whether the bytes with `sha256` are stored.
bool media_stored(const Store& store, const std::string& sha256);

/// Removes the bytes with `sha256`; a missing file is no error.
void remove_media_file(const Store& store, const std::string& sha256);

/// Bytes being received into the media folder: a private temporary file, hashed as it is
/// written. keep() moves it in under its SHA-256; otherwise the destructor removes it.
class IncomingMedia {
public:
  explicit IncomingMedia(const Store& store);
  ~IncomingMedia();
  IncomingMedia(const IncomingMedia&) = delete;
  IncomingMedia& operator=(const IncomingMedia&) = delete;

  /// Appends bytes. Throws Error when the disk refuses them.
  void write(const char* data, std::size_t size);
  /// Bytes written so far.
  std::int64_t size() const { return size_; }
  /// The SHA-256 (lowercase hex) of the bytes written so far, before they are kept: a
  /// download checks it against Meta's before its bytes join the folder.
  std::string sha256() const;
  /// Syncs the file and moves it to media_file(sha256) (bytes already stored there are kept
  /// as they are and the copy is dropped). Call once.
  StoredMedia keep();

private:
  std::filesystem::path dir_;
  std::filesystem::path temp_;
  int fd_ = -1;
  std::int64_t size_ = 0;
  crypto_hash_sha256_state hash_{};
  bool kept_ = false;
};

/// Copies a local file into the media folder (an outgoing upload, so the chat can show what
/// was sent).
StoredMedia keep_media_copy(const Store& store, const std::filesystem::path& source);

} // namespace wabactl
