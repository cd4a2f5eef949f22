// Unit tests of the small helpers: masking, hex, times, files, paths, UTF-8 and JSON text.
#include "support/support.hpp"
#include "unit/test_helpers.hpp"
#include "wabactl/error.hpp"
#include "wabactl/paths.hpp"
#include "wabactl/util.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <ctime>
#include <fstream>
#include <limits>
#include <random>
#include <utility>
#include <vector>

using namespace wabactl;
using testhelpers::code_of;
using testhelpers::ScopedEnv;
using testsupport::TempDir;

namespace {

void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

} // namespace

TEST_CASE("secrets are masked as first 4 … last 4, short ones whole") {
  CHECK(mask_secret("EAAGm0PX4ZCpsBAKZC0123456789abcd") == "EAAG…abcd");
  CHECK(mask_secret("abcdefghijkl") == "abcd…ijkl");
  for (const std::string& s : std::vector<std::string>{"", "a", "abcdefgh", "abcdefghijk"}) {
    CAPTURE(s);
    std::string masked = mask_secret(s);
    CHECK(masked == "…");
  }
  // A long secret never shows its middle.
  std::string secret = "EAAG" + std::string(200, 'Z') + "9Qf1";
  std::string masked = mask_secret(secret);
  CHECK(masked.find("ZZ") == std::string::npos);
  CHECK(masked.size() < 16);
}

TEST_CASE("hex round-trips and rejects malformed input") {
  const unsigned char bytes[] = {0x00, 0x7f, 0x80, 0xff, 0x12};
  std::string hex = to_hex(bytes, sizeof bytes);
  CHECK(hex == "007f80ff12");
  auto back = from_hex(hex);
  REQUIRE(back.has_value());
  CHECK(std::vector<unsigned char>(bytes, bytes + sizeof bytes) == *back);
  CHECK(from_hex("007F80FF12") == back);
  CHECK(from_hex("")->empty());
  CHECK_FALSE(from_hex("abc").has_value());
  CHECK_FALSE(from_hex("zz").has_value());
  CHECK_FALSE(from_hex("0g").has_value());
  CHECK_FALSE(from_hex(" 00").has_value());
}

TEST_CASE("trim and url_encode") {
  CHECK(trim("  a b \n\t") == "a b");
  CHECK(trim("\r\n").empty());
  CHECK(url_encode("Hello world & ünï/?=") == "Hello%20world%20%26%20%C3%BCn%C3%AF%2F%3F%3D");
  CHECK(url_encode("a-b_c.d~e") == "a-b_c.d~e");
}

TEST_CASE("ISO 8601 times are UTC with seconds") {
  CHECK(iso_from_unix(0) == "1970-01-01T00:00:00Z");
  CHECK(iso_from_unix(1795515300) == "2026-11-24T10:15:00Z");
  CHECK(iso_from_unix(951782400) == "2000-02-29T00:00:00Z");
  CHECK(iso_from_unix(1709164800) == "2024-02-29T00:00:00Z");
  CHECK(iso_from_unix(4107456000) == "2100-02-28T00:00:00Z");
  CHECK(iso_from_unix(4107542400) == "2100-03-01T00:00:00Z");
  CHECK(iso_from_unix(946684799) == "1999-12-31T23:59:59Z");
  CHECK(iso_from_unix(253402300799) == "9999-12-31T23:59:59Z");
  CHECK(iso_from_unix(-1) == "1969-12-31T23:59:59Z");
  CHECK(iso_from_unix(-62167219200) == "0000-01-01T00:00:00Z");
  // Beyond four-digit years: the nearest bound, never a malformed string.
  CHECK(iso_from_unix(253402300800) == "9999-12-31T23:59:59Z");
  CHECK(iso_from_unix(std::numeric_limits<std::int64_t>::max()) == "9999-12-31T23:59:59Z");
  CHECK(iso_from_unix(std::numeric_limits<std::int64_t>::min()) == "0000-01-01T00:00:00Z");
  CHECK(now_iso().size() == 20);
  CHECK(now_iso() >= iso_from_unix(1795515300));
}

TEST_CASE("ISO 8601 times agree with the C library on every day from 1900 to 2500") {
  auto libc = [](std::int64_t seconds) {
    std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    REQUIRE(gmtime_r(&t, &tm) != nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(buf);
  };
  int mismatches = 0;
  // A prime step walks through every hour, minute and second over the years.
  for (std::int64_t s = -2208988800; s < 16725225600; s += 86400 + 3607) {
    if (iso_from_unix(s) != libc(s)) ++mismatches;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("read_file_limited refuses large, missing, directory and special files") {
  TempDir dir;
  write_text(dir / "ok", "secret\n");
  CHECK(read_file_limited(dir / "ok", 100, "the token") == "secret\n");
  write_text(dir / "big", std::string(101, 'x'));
  CHECK(code_of([&] { read_file_limited(dir / "big", 100, "the token"); }) == Exit::usage);
  CHECK(code_of([&] { read_file_limited(dir / "missing", 100, "the token"); }) == Exit::usage);
  CHECK(code_of([&] { read_file_limited(dir.path(), 100, "the token"); }) == Exit::usage);
  CHECK(code_of([&] { read_file_limited(dir / "ok" / "child", 100, "the token"); }) == Exit::usage);
  try {
    read_file_limited(dir / "missing", 100, "the token");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("the token") != std::string::npos);
    CHECK(std::string(e.what()).find("missing") != std::string::npos);
  }
}

TEST_CASE("write_file_atomic writes the mode asked and refuses to overwrite when exclusive") {
  TempDir dir;
  auto p = dir / "key";
  write_file_atomic(p, "one\n", 0600, true);
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(code_of([&] { write_file_atomic(p, "two\n", 0600, true); }) == Exit::exists);
  CHECK(testsupport::slurp(p) == "one\n");
  write_file_atomic(p, "three\n", 0600, false);
  CHECK(testsupport::slurp(p) == "three\n");
  // Replacing a folder or writing under a file fails as the user's mistake.
  std::filesystem::create_directory(dir / "folder");
  CHECK(code_of([&] { write_file_atomic(dir / "folder", "x", 0600, false); }) == Exit::usage);
  CHECK(code_of([&] { write_file_atomic(dir / "key" / "sub", "x", 0600, false); }) == Exit::usage);
  std::filesystem::remove(dir / "folder");
  // No temporary files are left behind.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  CHECK(entries == 1);
}

TEST_CASE("make_private_dirs creates missing parents with mode 0700") {
  TempDir dir;
  auto deep = dir / "a" / "b" / "c";
  make_private_dirs(deep);
  for (auto p : {dir / "a", dir / "a" / "b", deep}) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0700);
  }
  make_private_dirs(deep);
}

TEST_CASE("the database path follows flag > $WABACTL_DB > $STATE_DIRECTORY > XDG") {
  ScopedEnv env{{"WABACTL_DB", "/env/db"},
                {"STATE_DIRECTORY", "/state:/other"},
                {"XDG_DATA_HOME", "/xdg"},
                {"HOME", "/home/u"}};
  CHECK(resolve_db_path(std::filesystem::path("/flag/db")).path == "/flag/db");
  CHECK(resolve_db_path(std::nullopt).path == "/env/db");
  {
    ScopedEnv no_db{{"WABACTL_DB", std::nullopt}};
    CHECK(resolve_db_path(std::nullopt).path == "/state/wabactl.db");
    ScopedEnv no_state{{"STATE_DIRECTORY", std::nullopt}};
    CHECK(resolve_db_path(std::nullopt).path == "/xdg/wabactl/wabactl.db");
    ScopedEnv no_xdg{{"XDG_DATA_HOME", std::nullopt}};
    CHECK(resolve_db_path(std::nullopt).path == "/home/u/.local/share/wabactl/wabactl.db");
  }
}

TEST_CASE("the key path follows flag > $WABACTL_KEY_FILE > credentials dir > XDG") {
  TempDir dir;
  ScopedEnv env{{"WABACTL_KEY_FILE", "/env/key"},
                {"CREDENTIALS_DIRECTORY", dir.path().string()},
                {"XDG_CONFIG_HOME", (dir / "xdg").string()}};
  CHECK(resolve_key_path(std::filesystem::path("/flag/key"), false)->path == "/flag/key");
  CHECK(resolve_key_path(std::filesystem::path("/flag/key"), true)->origin == "--key-file");
  CHECK(resolve_key_path(std::nullopt, true)->path == "/env/key");
  ScopedEnv no_env{{"WABACTL_KEY_FILE", std::nullopt}};
  CHECK(resolve_key_path(std::nullopt, false)->path == dir / "wabactl.key");
  // With a passphrase, implicit locations count only when the file exists.
  CHECK_FALSE(resolve_key_path(std::nullopt, true).has_value());
  write_text(dir / "wabactl.key", "x");
  CHECK(resolve_key_path(std::nullopt, true)->path == dir / "wabactl.key");
  ScopedEnv no_creds{{"CREDENTIALS_DIRECTORY", std::nullopt}};
  CHECK(resolve_key_path(std::nullopt, false)->path == dir / "xdg" / "wabactl" / "master.key");
  CHECK_FALSE(resolve_key_path(std::nullopt, true).has_value());
  std::filesystem::create_directories(dir / "xdg" / "wabactl");
  write_text(dir / "xdg" / "wabactl" / "master.key", "x");
  CHECK(resolve_key_path(std::nullopt, true)->path == dir / "xdg" / "wabactl" / "master.key");
}

TEST_CASE("UTF-8 validation rejects overlongs, surrogates and truncations") {
  CHECK(valid_utf8("héllo ✓ 😀"));
  CHECK(valid_utf8(""));
  CHECK(valid_utf8(std::string("a\0b", 3))); // NUL is valid UTF-8; callers refuse it apart
  CHECK_FALSE(valid_utf8("\xc0\xaf"));
  CHECK_FALSE(valid_utf8("\xed\xa0\x80"));
  CHECK_FALSE(valid_utf8("\xf4\x90\x80\x80"));
  CHECK_FALSE(valid_utf8("\xe2\x9c"));
  CHECK_FALSE(valid_utf8("\xff"));
  // Boundaries of each length, just inside and just outside.
  struct Row {
    std::string bytes;
    bool valid;
  };
  for (const auto& [bytes, valid] : std::vector<Row>{
           {"\x7f", true},
           {"\xc1\xbf", false}, // overlong U+007F
           {"\xc2\x80", true},  // U+0080
           {"\xdf\xbf", true},  // U+07FF
           {"\xe0\x9f\xbf", false},
           {"\xe0\xa0\x80", true},      // U+0800
           {"\xed\x9f\xbf", true},      // U+D7FF
           {"\xed\xbf\xbf", false},     // U+DFFF, a surrogate
           {"\xee\x80\x80", true},      // U+E000
           {"\xef\xbf\xbf", true},      // U+FFFF
           {"\xf0\x8f\xbf\xbf", false}, // overlong U+FFFF
           {"\xf0\x90\x80\x80", true},  // U+10000
           {"\xf4\x8f\xbf\xbf", true},  // U+10FFFF
           {"\xf8\x88\x80\x80\x80", false},
           {"\x80", false},          // a continuation byte alone
           {"\xc3\x28", false},      // lead byte without its continuation
           {"a\xf0\x9f\x98", false}, // cut at the end
       }) {
    CAPTURE(bytes);
    CHECK(valid_utf8(bytes) == valid);
    CHECK(valid_utf8("ok " + bytes + " ok") == valid);
  }
}

namespace {

std::string json_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

std::string nlohmann_string(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace

TEST_CASE("append_unicode_escape writes four lowercase hex digits") {
  std::string out;
  for (char16_t unit : {u'\x01', u'\xe9', char16_t{0xD83D}, char16_t{0xFFFF}}) {
    append_unicode_escape(out, unit);
  }
  CHECK(out == R"(\u0001\u00e9\ud83d\uffff)");
}

TEST_CASE("append_json_string escapes what JSON needs and keeps the rest") {
  CHECK(json_string("") == R"("")");
  CHECK(json_string("plain text") == R"("plain text")");
  CHECK(json_string("say \"hi\" \\ @ /") == R"("say \"hi\" \\ @ /")");
  CHECK(json_string("a\nb\tc\rd\be\ff") == R"("a\nb\tc\rd\be\ff")");
  CHECK(json_string(std::string("nul\0x\x01\x1f\x7f", 8)) == "\"nul\\u0000x\\u0001\\u001f\x7f\"");
  CHECK(json_string("héllo ✓ 😀") == "\"héllo ✓ 😀\"");
  // Each invalid sequence, as far as it is a valid prefix, becomes one U+FFFD.
  CHECK(json_string("a\xff") == "\"a\xEF\xBF\xBD\"");
  CHECK(json_string("\xe2\x9c") == "\"\xEF\xBF\xBD\"");
  CHECK(json_string("\xe2\x9cx") == "\"\xEF\xBF\xBDx\"");
  CHECK(json_string("\xed\xa0\x80") == "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST_CASE("append_json_string writes what nlohmann::json's dump writes, invalid UTF-8 included") {
  std::vector<std::string> cases = {
      "",
      "ascii only",
      "quote \" backslash \\ slash /",
      std::string("\0\x01\x08\x09\x0a\x0b\x0c\x0d\x1e\x1f\x20\x7f", 12),
      "Grüße, 日本語, 😀🎉",
      "\xc0\xaf",
      "\xc1\xbf",
      "\xe0\x9f\xbf",
      "\xed\xbf\xbf",
      "\xf0\x8f\xbf\xbf",
      "\xf4\x90\x80\x80",
      "\xf8\x88\x80\x80\x80",
      "\x80\x80",
      "\xc3\x28",
      "a\xf0\x9f\x98",
      "\xf0\x9f\x98\xe2\x9c\x93",
      "\xe2\x9c\xf0\x9f\x98\x80"};
  // And random bytes, mostly high ones, where the two must agree too.
  std::mt19937 rng(20261124);
  for (int n = 0; n < 2000; ++n) {
    std::string bytes(static_cast<std::size_t>(rng() % 12), '\0');
    for (auto& b : bytes) {
      auto r = rng();
      b = static_cast<char>(r % 4 == 0 ? r % 0x80 : 0x80 + r % 0x80);
    }
    cases.push_back(bytes);
  }
  for (const auto& c : cases) {
    CAPTURE(c);
    CHECK(json_string(c) == nlohmann_string(c));
  }
}

TEST_CASE("decode_utf8 gives the code point and length of the first character") {
  auto one = [](std::string_view s) {
    auto c = decode_utf8(s);
    REQUIRE(c.has_value());
    return std::pair<std::uint32_t, std::size_t>(c->code_point, c->length);
  };
  CHECK(one("A rest") == std::pair<std::uint32_t, std::size_t>(0x41, 1));
  CHECK(one("é") == std::pair<std::uint32_t, std::size_t>(0xE9, 2));
  CHECK(one("✓x") == std::pair<std::uint32_t, std::size_t>(0x2713, 3));
  CHECK(one("😀") == std::pair<std::uint32_t, std::size_t>(0x1F600, 4));
  CHECK(one("\xf4\x8f\xbf\xbf") == std::pair<std::uint32_t, std::size_t>(0x10FFFF, 4));
  CHECK_FALSE(decode_utf8("").has_value());
  CHECK_FALSE(decode_utf8("\xbf").has_value());
  CHECK_FALSE(decode_utf8("\xe2\x9c").has_value());
  CHECK_FALSE(decode_utf8("\xf4\x90\x80\x80").has_value());
}
