#pragma once
// Small helpers every module uses: time, environment, files, hex, UTF-8 and JSON text,
// masking. Domain rules (tenant ids, phone numbers, user ids) are in identity.hpp.

#include "wabactl/error.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wabactl {

/// The value of an environment variable, or nullopt when unset or empty.
std::optional<std::string> env(const char* name);

/// Current time as ISO 8601 UTC with seconds (`2026-11-24T10:15:00Z`).
std::string now_iso();
/// Unix seconds as ISO 8601 UTC, for years 0000 to 9999: instants outside are clamped to
/// those bounds (webhook timestamps are capped there already).
std::string iso_from_unix(std::int64_t seconds);
/// Current time in milliseconds since the epoch.
std::int64_t now_ms();

/// Masks a secret as its first 4 and last 4 characters around an ellipsis; shorter
/// secrets (under 12 characters) are masked whole.
std::string mask_secret(std::string_view secret);

/// Lowercase hex encoding and decoding (decoding returns nullopt on bad input).
std::string to_hex(const unsigned char* data, std::size_t size);
std::optional<std::vector<unsigned char>> from_hex(std::string_view hex);

/// A SHA-256 as Meta announces one, as lowercase hex: 64 hex digits (the media info answer)
/// or the digest in standard base64 (webhooks write `SfInY0gG…GUI=`). Nullopt for anything
/// else, which then cannot be checked.
std::optional<std::string> sha256_hex(std::string_view announced);

/// One character decoded from UTF-8: its code point and how many bytes it took.
struct Utf8Char {
  char32_t code_point = 0;
  std::size_t length = 0;
};
/// Decodes the character at the front of `s`, or nullopt when `s` is empty or does not
/// start with valid UTF-8 (stray continuation byte, truncated sequence, overlong form,
/// surrogate, or a value above U+10FFFF).
std::optional<Utf8Char> decode_utf8(std::string_view s);
/// Whether all of `s` is valid UTF-8 in the sense of decode_utf8.
bool valid_utf8(std::string_view s);
/// Appends `\\uXXXX` (four lowercase hex digits) for one UTF-16 code unit.
void append_unicode_escape(std::string& out, char16_t unit);
/// Appends `s` as a JSON string literal, quotes included, exactly as nlohmann::json's
/// dump() writes it with error_handler_t::replace and ensure_ascii off: `"` and `\\`
/// escaped, \b \f \n \r \t by name, other control characters as \u00xx, everything else
/// as it is, and each invalid UTF-8 sequence (its maximal valid prefix) as U+FFFD.
void append_json_string(std::string& out, std::string_view s);

/// Reads at most `limit` bytes of a file; throws Error(usage) when it cannot be read or is
/// larger, naming `what` in the message.
std::string read_file_limited(const std::filesystem::path& path, std::size_t limit,
                              std::string_view what);
/// Reads at most `limit` bytes from standard input (throws Error(usage) when larger).
std::string read_stdin_limited(std::size_t limit, std::string_view what);

/// Writes `content` to `path` atomically (temporary file, fsync, rename) with `mode`.
/// With `exclusive`, fails with Error(exists) when the path already exists.
void write_file_atomic(const std::filesystem::path& path, std::string_view content, unsigned mode,
                       bool exclusive);

/// Creates `dir` and missing parents with mode 0700 (existing folders are left alone).
void make_private_dirs(const std::filesystem::path& dir);

/// The exit code for a failed file operation: usage when the path is the user's to fix
/// (a folder, under a file, missing, not permitted, read-only, too long), else internal.
Exit exit_for_path_errno(int err);

/// Removes surrounding ASCII whitespace.
std::string_view trim(std::string_view s);

/// URL-encodes a string for a query component (RFC 3986 unreserved kept).
std::string url_encode(std::string_view s);

} // namespace wabactl
