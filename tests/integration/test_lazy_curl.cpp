// libcurl is loaded only by the commands that call Meta: the real binary does not link it
// (no DT_NEEDED entry), and the dynamic loader's own trace (LD_DEBUG=files) shows it is
// not mapped by local commands but is by a send.
#include "integration/test_cli_helpers.hpp"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

using namespace clitest;

namespace {

template <typename T> T read_at(const std::string& file, std::size_t offset) {
  REQUIRE(offset <= file.size());
  REQUIRE(sizeof(T) <= file.size() - offset);
  T value;
  std::memcpy(&value, file.data() + offset, sizeof(T));
  return value;
}

// The DT_NEEDED entries of a 64-bit ELF file, read from its SHT_DYNAMIC section and the
// string table that section links to.
std::vector<std::string> needed_libraries(const std::string& file) {
  auto header = read_at<Elf64_Ehdr>(file, 0);
  REQUIRE(std::memcmp(header.e_ident, ELFMAG, SELFMAG) == 0);
  REQUIRE(header.e_ident[EI_CLASS] == ELFCLASS64);
  REQUIRE(header.e_shentsize == sizeof(Elf64_Shdr));
  auto section = [&](std::size_t i) {
    return read_at<Elf64_Shdr>(file, header.e_shoff + i * sizeof(Elf64_Shdr));
  };
  std::vector<std::string> needed;
  for (std::size_t i = 0; i < header.e_shnum; ++i) {
    Elf64_Shdr dynamic = section(i);
    if (dynamic.sh_type != SHT_DYNAMIC) continue;
    Elf64_Shdr strings = section(dynamic.sh_link);
    for (std::size_t off = 0; off + sizeof(Elf64_Dyn) <= dynamic.sh_size;
         off += sizeof(Elf64_Dyn)) {
      auto entry = read_at<Elf64_Dyn>(file, dynamic.sh_offset + off);
      if (entry.d_tag == DT_NULL) break;
      if (entry.d_tag != DT_NEEDED) continue;
      REQUIRE(entry.d_un.d_val < strings.sh_size);
      needed.emplace_back(file.c_str() + strings.sh_offset + entry.d_un.d_val);
    }
  }
  return needed;
}

bool mentions_curl(const std::vector<std::string>& libraries) {
  for (const auto& name : libraries) {
    if (name.find("libcurl") != std::string::npos) return true;
  }
  return false;
}

// With LD_DEBUG=files, glibc's loader writes "file=NAME [0];  needed by ..." or
// "...dynamically loaded by ..." to stderr for every library it maps.
bool loaded(const RunResult& r, const std::string& soname) {
  return r.err.find("file=" + soname + " ") != std::string::npos;
}

const std::map<std::string, std::string> trace_loads{{"LD_DEBUG", "files"}};

} // namespace

TEST_CASE("lazy curl: the wabactl binary has no DT_NEEDED entry for libcurl") {
  auto needed = needed_libraries(testsupport::slurp(WABACTL_BINARY));
  CAPTURE(needed.size());
  // The reader works: the binary's real dependencies are there.
  CHECK(std::find(needed.begin(), needed.end(), "libc.so.6") != needed.end());
  CHECK(std::find(needed.begin(), needed.end(), "libsodium.so.23") != needed.end());
  CHECK_FALSE(mentions_curl(needed));
}

TEST_CASE("lazy curl: local commands never map libcurl, a send does") {
  Env e;
  check_ok(e.set_config({"--no-test"}));

  for (const std::vector<std::string>& args : {std::vector<std::string>{"--version"},
                                               {"--help"},
                                               {"tenant", "list"},
                                               {"history", "--tenant", "acme"},
                                               {"unread", "--tenant", "acme"},
                                               {"config", "get", "--tenant", "acme"}}) {
    auto r = e.w(args, {}, trace_loads);
    CAPTURE(args.front());
    CAPTURE(r.err.substr(0, 2000));
    check_ok(r);
    CHECK(loaded(r, "libc.so.6")); // the loader's trace is on
    CHECK_FALSE(loaded(r, "libcurl.so.4"));
  }

  auto r = e.w(
      {"send", "--outside-window", "--tenant", "acme", "--to", "+15551234567", "--text", "hello"},
      {}, trace_loads);
  check_ok(r);
  CHECK(r.out.rfind("sent wamid.FAKE", 0) == 0);
  CHECK(loaded(r, "libcurl.so.4"));
  CHECK(e.graph.count("POST", "/messages") == 1);
}
