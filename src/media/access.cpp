#include "wabactl/error.hpp"
#include "wabactl/media_index.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <ostream>
#include <sys/stat.h>
#include <unistd.h>

namespace wabactl {
namespace {

constexpr std::size_t max_name_bytes = 120;

// The extension a download without a name of its own gets, from the mime type Meta (or the
// sender) gave; parameters such as "; codecs=opus" are ignored.
std::string extension_for(const std::optional<std::string>& mime) {
  static constexpr std::pair<std::string_view, std::string_view> known[] = {
      {"image/jpeg", ".jpg"}, {"image/png", ".png"},       {"image/webp", ".webp"},
      {"image/gif", ".gif"},  {"audio/ogg", ".ogg"},       {"audio/mpeg", ".mp3"},
      {"audio/mp4", ".m4a"},  {"audio/aac", ".aac"},       {"audio/amr", ".amr"},
      {"video/mp4", ".mp4"},  {"video/3gpp", ".3gp"},      {"application/pdf", ".pdf"},
      {"text/plain", ".txt"}, {"application/zip", ".zip"}, {"text/csv", ".csv"},
  };
  if (!mime) return ".bin";
  std::string_view type = trim(std::string_view(*mime).substr(0, mime->find(';')));
  for (const auto& [m, ext] : known) {
    if (type == m) return std::string(ext);
  }
  return ".bin";
}

// A name chosen by whoever sent the file, made safe to offer and to create in a folder.
std::string safe_name(std::string_view raw) {
  auto slash = raw.find_last_of("/\\");
  if (slash != std::string_view::npos) raw.remove_prefix(slash + 1);
  std::string out;
  while (!raw.empty()) {
    auto c = decode_utf8(raw);
    if (!c) { // an invalid byte is dropped
      raw.remove_prefix(1);
      continue;
    }
    std::string_view bytes = raw.substr(0, c->length);
    raw.remove_prefix(c->length);
    char32_t cp = c->code_point;
    bool control = cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == 0x2028 ||
                   cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
    if (control || cp == '"' || cp == '\'' || cp == '`') continue;
    if (out.size() + bytes.size() > max_name_bytes) break;
    out.append(bytes);
  }
  // No hidden file, no "." or "..", no name of blanks.
  auto first = out.find_first_not_of(". ");
  if (first == std::string::npos) return {};
  out.erase(0, first);
  out.erase(out.find_last_not_of(". ") + 1);
  return out;
}

Error io_error(const std::string& what, const std::filesystem::path& path, int err) {
  return Error(exit_for_path_errno(err),
               fmt::format("cannot {} '{}': {}", what, path.string(), std::strerror(err)));
}

} // namespace

std::string media_download_name(const Message& m) {
  if (m.media && m.media->filename) {
    std::string name = safe_name(*m.media->filename);
    if (!name.empty()) return name;
  }
  return fmt::format("media-{}{}", m.id,
                     extension_for(m.media ? m.media->mime_type : m.media_type));
}

MediaReader::MediaReader(const Store& store, const std::string& sha256) {
  auto path = media_file(store, sha256);
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    if (errno == ENOENT) {
      throw Error(Exit::not_found, "the stored bytes are missing from the media folder",
                  "they were removed outside wabactl; the message keeps Meta's media id");
    }
    throw io_error("read", path, errno);
  }
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    int e = errno;
    ::close(fd_);
    throw io_error("read", path, e);
  }
  size_ = static_cast<std::int64_t>(st.st_size);
}

MediaReader::~MediaReader() {
  if (fd_ >= 0) ::close(fd_);
}

std::size_t MediaReader::read_at(std::int64_t offset, char* buf, std::size_t n) const {
  for (;;) {
    ssize_t got = ::pread(fd_, buf, n, static_cast<off_t>(offset));
    if (got >= 0) return static_cast<std::size_t>(got);
    if (errno != EINTR) {
      throw Error(Exit::internal,
                  fmt::format("cannot read stored media: {}", std::strerror(errno)));
    }
  }
}

void MediaReader::copy_to(std::ostream& out, std::int64_t offset, std::int64_t length) const {
  std::array<char, 64 * 1024> buf{};
  while (length > 0) {
    std::size_t want = static_cast<std::size_t>(
        std::min<std::int64_t>(length, static_cast<std::int64_t>(buf.size())));
    std::size_t got = read_at(offset, buf.data(), want);
    if (got == 0) throw Error(Exit::internal, "stored media ended early: the file was truncated");
    out.write(buf.data(), static_cast<std::streamsize>(got));
    if (!out) throw Error(Exit::internal, "cannot write the media: the output was closed");
    offset += static_cast<std::int64_t>(got);
    length -= static_cast<std::int64_t>(got);
  }
  out.flush();
}

void export_media(const Store& store, const std::string& sha256, const std::filesystem::path& path,
                  bool replace) {
  MediaReader reader(store, sha256);
  if (!replace && ::access(path.c_str(), F_OK) == 0) {
    throw Error(Exit::exists, fmt::format("'{}' already exists", path.string()),
                "--force replaces it");
  }
  std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
  std::string temp = (dir / ".wabactl-media-XXXXXX").string();
  int fd = ::mkostemp(temp.data(), O_CLOEXEC); // created 0600
  if (fd < 0) throw io_error("create a file in", dir, errno);
  auto fail = [&](const char* step, int err) {
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    throw io_error(step, path, err);
  };
  std::array<char, 64 * 1024> buf{};
  for (std::int64_t off = 0; off < reader.size();) {
    std::size_t got = reader.read_at(off, buf.data(), buf.size());
    if (got == 0) break;
    for (std::size_t done = 0; done < got;) {
      ssize_t n = ::write(fd, buf.data() + done, got - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail("write", errno);
      done += static_cast<std::size_t>(n);
    }
    off += static_cast<std::int64_t>(got);
  }
  if (::fsync(fd) != 0) fail("sync", errno);
  ::close(fd);
  fd = -1;
  // link() never replaces a file that appeared meanwhile; rename() replaces on purpose.
  int rc = replace ? ::rename(temp.c_str(), path.c_str()) : ::link(temp.c_str(), path.c_str());
  int e = errno;
  if (!replace || rc != 0) ::unlink(temp.c_str());
  if (rc != 0) {
    if (e == EEXIST) {
      throw Error(Exit::exists, fmt::format("'{}' already exists", path.string()),
                  "--force replaces it");
    }
    throw io_error("write", path, e);
  }
}

} // namespace wabactl
