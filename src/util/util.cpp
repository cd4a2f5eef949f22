#include "wabactl/util.hpp"

#include "wabactl/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <iostream>
#include <sys/stat.h>
#include <unistd.h>

namespace wabactl {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    return std::nullopt;
  }
  return std::string(v);
}

// The civil date comes from <chrono>'s calendar rather than gmtime_r and strftime: those
// take glibc's time-zone lock and parse a format on every call, and the webhook writer
// formats a timestamp for every message, status and event it stores.
std::string iso_from_unix(std::int64_t seconds) {
  using namespace std::chrono;
  // Four-digit years only: an instant outside 0000-01-01..9999-12-31 reads as that bound
  // rather than as a string of wrong digits.
  sys_seconds instant{
      std::chrono::seconds(std::clamp<std::int64_t>(seconds, -62167219200, 253402300799))};
  auto day = floor<days>(instant);
  year_month_day date{day};
  hh_mm_ss time{instant - day};
  // Written digit by digit: fmt's padded integers cost a thousand instructions a field.
  char out[] = "0000-00-00T00:00:00Z";
  auto put = [&out](std::size_t at, std::int64_t value, std::size_t width) {
    for (std::size_t i = width; i-- > 0; value /= 10)
      out[at + i] = static_cast<char>('0' + value % 10);
  };
  put(0, static_cast<int>(date.year()), 4);
  put(5, static_cast<unsigned>(date.month()), 2);
  put(8, static_cast<unsigned>(date.day()), 2);
  put(11, time.hours().count(), 2);
  put(14, time.minutes().count(), 2);
  put(17, time.seconds().count(), 2);
  return std::string(out, sizeof out - 1);
}

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string now_iso() {
  // Formatted once per second and thread: a busy writer asks several times per delivery.
  thread_local std::int64_t cached_second = -1;
  thread_local std::string cached;
  std::int64_t second = now_ms() / 1000;
  if (second != cached_second) {
    cached = iso_from_unix(second);
    cached_second = second;
  }
  return cached;
}

std::string mask_secret(std::string_view secret) {
  if (secret.size() < 12) {
    return "…";
  }
  return fmt::format("{}…{}", secret.substr(0, 4), secret.substr(secret.size() - 4));
}

std::string to_hex(const unsigned char* data, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(digits[data[i] >> 4]);
    out.push_back(digits[data[i] & 0xf]);
  }
  return out;
}

std::optional<std::string> sha256_hex(std::string_view announced) {
  constexpr std::size_t digest = 32;
  if (announced.size() == 2 * digest) {
    auto bytes = from_hex(announced);
    if (!bytes) return std::nullopt;
    return to_hex(bytes->data(), bytes->size());
  }
  // 32 bytes are 43 base64 characters and one '=' of padding (which may be left out).
  if (announced.size() != 44 && announced.size() != 43) return std::nullopt;
  if (announced.size() == 44 && announced.back() != '=') return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::vector<unsigned char> out;
  std::uint32_t bits = 0;
  int held = 0;
  for (std::size_t i = 0; i < 43; ++i) {
    int v = value(announced[i]);
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    held += 6;
    if (held >= 8) {
      held -= 8;
      out.push_back(static_cast<unsigned char>((bits >> held) & 0xff));
    }
  }
  // The last character's two spare bits must be zero, as an encoder writes them.
  if ((bits & ((1u << held) - 1)) != 0 || out.size() != digest) return std::nullopt;
  return to_hex(out.data(), out.size());
}

std::optional<std::vector<unsigned char>> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return std::nullopt;
  }
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<unsigned char> out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(hex[2 * i]);
    int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return out;
}

namespace {
std::string read_fd_limited(int fd, std::size_t limit, std::string_view what,
                            const std::string& name) {
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(Exit::usage,
                  fmt::format("cannot read {} from {}: {}", what, name, std::strerror(errno)));
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > limit) {
      throw Error(Exit::usage,
                  fmt::format("{} from {} is too large (more than {} bytes)", what, name, limit));
    }
  }
  return out;
}
} // namespace

std::string read_file_limited(const std::filesystem::path& path, std::size_t limit,
                              std::string_view what) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw Error(Exit::usage, fmt::format("cannot read {} from '{}': {}", what, path.string(),
                                         std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw Error(Exit::usage,
                fmt::format("cannot read {} from '{}': it is a directory", what, path.string()));
  }
  try {
    std::string out = read_fd_limited(fd, limit, what, fmt::format("'{}'", path.string()));
    ::close(fd);
    return out;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

std::string read_stdin_limited(std::size_t limit, std::string_view what) {
  return read_fd_limited(STDIN_FILENO, limit, what, "standard input");
}

void write_file_atomic(const std::filesystem::path& path, std::string_view content, unsigned mode,
                       bool exclusive) {
  if (exclusive && ::access(path.c_str(), F_OK) == 0) {
    throw Error(Exit::exists, fmt::format("'{}' already exists", path.string()));
  }
  std::string tmp = path.string() + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    throw Error(exit_for_path_errno(errno),
                fmt::format("cannot create '{}': {}", tmp, std::strerror(errno)));
  }
  auto fail = [&](const char* step) {
    int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    throw Error(Exit::internal,
                fmt::format("cannot {} '{}': {}", step, path.string(), std::strerror(e)));
  };
  if (::fchmod(fd, mode) != 0) fail("set the mode of");
  std::size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write");
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail("sync");
  ::close(fd);
  int rc = exclusive ? ::link(tmp.c_str(), path.c_str()) : ::rename(tmp.c_str(), path.c_str());
  int e = errno;
  // After link() the temporary name is always dropped; after a failed rename it must be too.
  if (exclusive || rc != 0) ::unlink(tmp.c_str());
  if (rc != 0) {
    throw Error(e == EEXIST ? Exit::exists : exit_for_path_errno(e),
                fmt::format("cannot write '{}': {}", path.string(), std::strerror(e)));
  }
  std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void make_private_dirs(const std::filesystem::path& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return;
  make_private_dirs(dir.parent_path());
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw Error(exit_for_path_errno(errno),
                fmt::format("cannot create folder '{}': {}", dir.string(), std::strerror(errno)));
  }
}

Exit exit_for_path_errno(int err) {
  switch (err) {
  case EISDIR:
  case ENOTDIR:
  case ENOENT:
  case EACCES:
  case EPERM:
  case EROFS:
  case ENAMETOOLONG:
  case ELOOP:
    return Exit::usage;
  default:
    return Exit::internal;
  }
}

std::string_view trim(std::string_view s) {
  auto ws = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

std::string url_encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::optional<Utf8Char> decode_utf8(std::string_view s) {
  if (s.empty()) return std::nullopt;
  const auto lead = static_cast<unsigned char>(s[0]);
  std::size_t len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if (lead < 0x80) {
    return Utf8Char{lead, 1};
  } else if ((lead & 0xE0) == 0xC0) {
    len = 2, cp = lead & 0x1Fu, min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    len = 3, cp = lead & 0x0Fu, min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    len = 4, cp = lead & 0x07u, min = 0x10000;
  } else {
    return std::nullopt;
  }
  if (len > s.size()) return std::nullopt;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[k]);
    if ((b & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
  return Utf8Char{cp, len};
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    // ASCII is most of what passes through here; it needs no decoding.
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    auto c = decode_utf8(s.substr(i));
    if (!c) return false;
    i += c->length;
  }
  return true;
}

namespace {

// How many bytes at the front of `s` (not empty, not starting with valid UTF-8) start a
// well-formed sequence before it breaks off: the span one U+FFFD replaces. The second byte's
// range depends on the lead byte (Unicode table 3-7): that is what rules out overlong forms,
// surrogates and values past U+10FFFF as early as a validating decoder sees them.
std::size_t invalid_utf8_span(std::string_view s) {
  const auto lead = static_cast<unsigned char>(s[0]);
  std::size_t len = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    len = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    len = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    len = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 1;
  }
  std::size_t k = 1;
  for (; k < len && k < s.size(); ++k) {
    const auto b = static_cast<unsigned char>(s[k]);
    if (b < low || b > high) break;
    low = 0x80;
    high = 0xBF;
  }
  return k;
}

} // namespace

void append_unicode_escape(std::string& out, char16_t unit) {
  static constexpr char hex[] = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out.push_back(hex[(unit >> shift) & 0xFU]);
}

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  std::size_t i = 0;
  while (i < s.size()) {
    // Runs of printable ASCII, most of any text, go in one append.
    std::size_t plain = i;
    while (plain < s.size()) {
      const auto b = static_cast<unsigned char>(s[plain]);
      if (b < 0x20 || b >= 0x80 || b == '"' || b == '\\') break;
      ++plain;
    }
    out.append(s.substr(i, plain - i));
    i = plain;
    if (i == s.size()) break;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      if (auto ch = decode_utf8(s.substr(i))) {
        out.append(s.substr(i, ch->length));
        i += ch->length;
      } else {
        out.append("\xEF\xBF\xBD");
        i += invalid_utf8_span(s.substr(i));
      }
      continue;
    }
    switch (c) {
    case '"':
      out.append("\\\"");
      break;
    case '\\':
      out.append("\\\\");
      break;
    case '\b':
      out.append("\\b");
      break;
    case '\f':
      out.append("\\f");
      break;
    case '\n':
      out.append("\\n");
      break;
    case '\r':
      out.append("\\r");
      break;
    case '\t':
      out.append("\\t");
      break;
    default:
      append_unicode_escape(out, c);
    }
    ++i;
  }
  out.push_back('"');
}

} // namespace wabactl
