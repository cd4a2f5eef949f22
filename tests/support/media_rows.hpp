#pragma once
// Messages with media for the media tests, without the daemon's fetcher: rows written with
// raw SQL in each media state, and bytes kept through the media folder as the fetcher keeps
// them (IncomingMedia), recorded with the store's record_kept_media.

#include "wabactl/media.hpp"
#include "wabactl/store.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace testsupport {

/// An incoming media message as a webhook leaves it, in media state `state`.
struct MediaRow {
  std::string tenant = "acme";
  std::string wamid;
  std::string phone = "15551234567";
  std::string type = "image";
  std::optional<std::string> mime_type = "image/jpeg";
  std::string timestamp = "2026-01-01T00:00:00Z";
  std::string state = "pending";
  std::optional<std::string> filename{};
  std::optional<std::string> error{};
};

/// Writes `row` with raw SQL, its media id "MEDIA-" + wamid (a pending one queued for
/// download); returns its local id.
std::int64_t insert_media_message(const wabactl::Store& store, const MediaRow& row);

/// Keeps `bytes` in the media folder and records message `id` of `tenant` as stored.
wabactl::StoredMedia keep_bytes(wabactl::Store& store, const std::string& tenant, std::int64_t id,
                                const std::string& bytes,
                                const std::optional<std::string>& filename = std::nullopt);

} // namespace testsupport
