#pragma once
// What users see of kept media (CONTRACT.md §7): a tenant's messages with media, one
// message's bytes, pruning old bytes, the name a download is offered under, and reading the
// bytes back from the media folder (media.hpp) without holding a whole file in memory.

#include "wabactl/media.hpp"
#include "wabactl/messages.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wabactl {

class Store;

/// The media states of MessageMedia::state.
inline constexpr const char* media_state_pending = "pending";
inline constexpr const char* media_state_stored = "stored";
inline constexpr const char* media_state_failed = "failed";

/// Whether `state` is one of pending, stored and failed.
bool is_media_state(std::string_view state);

/// The daemon's route for a message's bytes (its Message JSON `media_url` once stored).
std::string local_media_url(std::int64_t message_id);

/// The most messages list_media() returns at once.
inline constexpr std::size_t max_media_list_limit = 1000;

/// Which messages with media to list.
struct MediaQuery {
  std::optional<std::string> state{}; ///< only this state (is_media_state); every state if unset
  std::size_t limit = 100;            ///< 1 to max_media_list_limit
};

/// `tenant`'s messages that have media (a media state), newest first. Error(usage) for a
/// state or limit out of range.
std::vector<Message> list_media(Store& store, const std::string& tenant, const MediaQuery& q);

/// The message `id_or_wamid` (local id or wamid) of `tenant` when it has media; nullopt when
/// there is no such message of that tenant or it has none.
std::optional<Message> find_media(Store& store, const std::string& tenant,
                                  const std::string& id_or_wamid);

/// Records that message `id` of `tenant` has its bytes kept as `kept`: state stored, its
/// sha256, size and `filename` (when given; else the one it had), and media_url the local route.
/// Error(not_found) when the message is not the tenant's.
Message record_kept_media(Store& store, const std::string& tenant, std::int64_t id,
                          const StoredMedia& kept, const std::optional<std::string>& filename);

/// What prune_media() did.
struct MediaPruneResult {
  std::int64_t messages = 0; ///< messages whose stored media was pruned
  std::int64_t files = 0;    ///< files removed
  std::int64_t bytes = 0;    ///< bytes those files held
  std::int64_t shared = 0;   ///< files kept since a message not pruned still shows them
};

/// For `tenant`'s messages with stored media and a timestamp before `cutoff` (ISO 8601 UTC):
/// marks their media failed with the error "removed by media prune on <today>" (so their
/// JSON and the media route tell the truth; the messages stay), then removes each of their
/// files that no other message with stored media, of any tenant, still names.
MediaPruneResult prune_media(Store& store, const std::string& tenant, const std::string& cutoff,
                             const std::string& today);

/// The file name a message's bytes are offered under: its own filename made safe (the last
/// path component, without control characters, quotes, backslashes or a leading dot; at
/// most 120 bytes, valid UTF-8), else "<message id>" with an extension for its mime type.
/// Never empty, never "." or "..", never a path.
std::string media_download_name(const Message& m);

/// Stored bytes opened for reading. Error(not_found) when the file is missing (pruned or
/// lost since the message said stored).
class MediaReader {
public:
  MediaReader(const Store& store, const std::string& sha256);
  ~MediaReader();
  MediaReader(const MediaReader&) = delete;
  MediaReader& operator=(const MediaReader&) = delete;

  /// The file's size in bytes.
  std::int64_t size() const { return size_; }
  /// Reads up to `n` bytes at `offset` into `buf`; returns how many (0 at the end).
  std::size_t read_at(std::int64_t offset, char* buf, std::size_t n) const;
  /// Writes the bytes from `offset` to `offset + length` to `out`, a chunk at a time.
  void copy_to(std::ostream& out, std::int64_t offset, std::int64_t length) const;

private:
  int fd_ = -1;
  std::int64_t size_ = 0;
};

/// Writes the stored bytes `sha256` to `path`: a private temporary file beside it (0600),
/// synced, then moved in. Without `replace`, Error(exists) when `path` exists.
void export_media(const Store& store, const std::string& sha256, const std::filesystem::path& path,
                  bool replace);

} // namespace wabactl
