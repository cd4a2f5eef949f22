// Unit tests of the media folder: content-addressed, private, complete or absent.
#include "support/temp_store.hpp"
#include "wabactl/error.hpp"
#include "wabactl/media.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

using namespace wabactl;
using testsupport::mode_of;
using testsupport::TempStore;

namespace {

std::size_t entries(const std::filesystem::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) ++n;
  }
  return n;
}

} // namespace

TEST_CASE("media bytes are stored once under their sha256, private, beside the database") {
  TempStore store;
  StoredMedia first;
  {
    IncomingMedia in(store);
    in.write("hello ", 6);
    in.write("world", 5);
    CHECK(in.size() == 11);
    first = in.keep();
  }
  // sha256("hello world")
  CHECK(first.sha256 == "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
  CHECK(first.size == 11);
  auto file = media_file(store, first.sha256);
  CHECK(file == store.dir() / "media" / "b9" / first.sha256);
  CHECK(media_stored(store, first.sha256));
  CHECK(mode_of(file) == 0600U);
  CHECK(mode_of(store.dir() / "media") == 0700U);
  CHECK(mode_of(file.parent_path()) == 0700U);

  auto source = store.dir() / "again.txt";
  std::ofstream(source) << "hello world";
  auto second = keep_media_copy(store, source);
  CHECK(second.sha256 == first.sha256);
  CHECK(entries(store.dir() / "media") == 1);

  remove_media_file(store, first.sha256);
  CHECK_FALSE(media_stored(store, first.sha256));
  CHECK_NOTHROW(remove_media_file(store, first.sha256));
}

TEST_CASE("media bytes that are not kept leave nothing behind") {
  TempStore store;
  {
    IncomingMedia in(store);
    in.write("partial", 7);
  }
  CHECK(entries(store.dir() / "media") == 0);
  CHECK_THROWS_AS(media_file(store, "../../etc/passwd"), Error);
  CHECK_THROWS_AS(keep_media_copy(store, store.dir() / "missing.bin"), Error);
}
