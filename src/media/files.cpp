#include "wabactl/media.hpp"

#include "wabactl/error.hpp"
#include "wabactl/store.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace wabactl {
namespace {

bool is_sha256_hex(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Error io_error(const std::string& what, const std::filesystem::path& path, int err) {
  return Error(exit_for_path_errno(err),
               fmt::format("cannot {} '{}': {}", what, path.string(), std::strerror(err)));
}

void sync_dir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

} // namespace

std::filesystem::path media_dir(const Store& store) {
  auto parent = store.path().parent_path();
  return (parent.empty() ? std::filesystem::path(".") : parent) / "media";
}

std::filesystem::path media_file(const Store& store, const std::string& sha256) {
  if (!is_sha256_hex(sha256)) {
    throw Error(Exit::internal, fmt::format("'{}' is not a SHA-256 in hex", sha256.substr(0, 80)));
  }
  return media_dir(store) / sha256.substr(0, 2) / sha256;
}

bool media_stored(const Store& store, const std::string& sha256) {
  std::error_code ec;
  return std::filesystem::is_regular_file(media_file(store, sha256), ec);
}

void remove_media_file(const Store& store, const std::string& sha256) {
  auto path = media_file(store, sha256);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw io_error("remove", path, errno);
}

IncomingMedia::IncomingMedia(const Store& store) : dir_(media_dir(store)) {
  make_private_dirs(dir_);
  std::string pattern = (dir_ / ".incoming-XXXXXX").string();
  fd_ = ::mkostemp(pattern.data(), O_CLOEXEC); // mkostemp creates it 0600
  if (fd_ < 0) throw io_error("create a file in", dir_, errno);
  temp_ = pattern;
  crypto_hash_sha256_init(&hash_);
}

IncomingMedia::~IncomingMedia() {
  if (fd_ >= 0) ::close(fd_);
  if (!kept_ && !temp_.empty()) ::unlink(temp_.c_str());
}

void IncomingMedia::write(const char* data, std::size_t size) {
  crypto_hash_sha256_update(&hash_, reinterpret_cast<const unsigned char*>(data), size);
  while (size > 0) {
    ssize_t n = ::write(fd_, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw io_error("write", temp_, errno);
    }
    data += n;
    size -= static_cast<std::size_t>(n);
    size_ += n;
  }
}

std::string IncomingMedia::sha256() const {
  crypto_hash_sha256_state copy = hash_;
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256_final(&copy, digest.data());
  return to_hex(digest.data(), digest.size());
}

StoredMedia IncomingMedia::keep() {
  if (kept_ || fd_ < 0) throw Error(Exit::internal, "incoming media kept twice");
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256_final(&hash_, digest.data());
  StoredMedia out{to_hex(digest.data(), digest.size()), size_};
  if (::fsync(fd_) != 0) throw io_error("sync", temp_, errno);
  ::close(fd_);
  fd_ = -1;
  auto target = dir_ / out.sha256.substr(0, 2) / out.sha256;
  make_private_dirs(target.parent_path());
  // link() fails on an existing name, so bytes already stored are never replaced.
  if (::link(temp_.c_str(), target.c_str()) != 0 && errno != EEXIST) {
    throw io_error("store", target, errno);
  }
  ::unlink(temp_.c_str());
  kept_ = true;
  sync_dir(target.parent_path());
  return out;
}

StoredMedia keep_media_copy(const Store& store, const std::filesystem::path& source) {
  struct File {
    int fd;
    ~File() {
      if (fd >= 0) ::close(fd);
    }
  } in{::open(source.c_str(), O_RDONLY | O_CLOEXEC)};
  if (in.fd < 0) throw io_error("read", source, errno);
  IncomingMedia incoming(store);
  std::array<char, 64 * 1024> buf{};
  for (;;) {
    ssize_t n = ::read(in.fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw io_error("read", source, errno);
    if (n == 0) break;
    incoming.write(buf.data(), static_cast<std::size_t>(n));
  }
  return incoming.keep();
}

} // namespace wabactl
