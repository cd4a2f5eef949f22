#include "support/temp_dir.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <random>
#include <stdexcept>
#include <system_error>

#include <sys/stat.h>

namespace testsupport {

TempDir::TempDir() {
  std::filesystem::path base = std::filesystem::temp_directory_path();
  std::random_device rd;
  for (int i = 0; i < 100; ++i) {
    auto p = base / fmt::format("wabactl-test-{:08x}", rd());
    std::error_code ec;
    if (std::filesystem::create_directory(p, ec)) {
      std::filesystem::permissions(p, std::filesystem::perms::owner_all);
      path_ = p;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary folder");
}

TempDir::~TempDir() {
  if (const char* keep = std::getenv("WABACTL_KEEP_TMP"); keep != nullptr && *keep == '1') {
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

unsigned mode_of(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw std::runtime_error(fmt::format("cannot stat '{}'", path.string()));
  }
  return st.st_mode & 07777U;
}

} // namespace testsupport
