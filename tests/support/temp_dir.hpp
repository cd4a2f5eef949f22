#pragma once
// A fresh folder for one test, on its own so that targets without doctest (the fuzzer) can
// use it too.

#include <filesystem>
#include <string>

namespace testsupport {

/// A fresh folder under $TMPDIR, removed on destruction (WABACTL_KEEP_TMP=1 keeps it for
/// a post-mortem).
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
  std::filesystem::path path_;
};

/// The permission bits (and setuid/setgid/sticky) of `path`; throws when it cannot be read.
unsigned mode_of(const std::filesystem::path& path);

} // namespace testsupport
