#pragma once
// The console's files, built into the binary: a table generated at build time from
// console/ by cmake/console_assets.cmake (only when WABACTL_CONSOLE is ON).

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

namespace wabactl::server {

/// How a browser may cache an asset.
enum class Caching {
  revalidate, ///< index.html: asked again on every load (no-cache, ETag)
  immutable,  ///< a versioned path: its bytes never change (max-age one year)
};

struct ConsoleAsset {
  std::string_view path;               ///< the URL path, /console/…
  std::string_view content_type;       ///< with its charset
  std::span<const unsigned char> gzip; ///< the bytes, gzip-compressed at build time
  std::size_t size;                    ///< the uncompressed size
  std::string_view etag;               ///< a quoted hash of the uncompressed bytes
  Caching caching;
};

/// Every asset; index.html's path is /console/.
const std::vector<ConsoleAsset>& console_assets();

} // namespace wabactl::server
