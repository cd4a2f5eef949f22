#pragma once
// Fetching inbound media from Meta (CONTRACT.md §7): `GET /{version}/{media_id}` with the
// tenant's token answers a short-lived URL, which is downloaded with the same token into
// the media folder (streamed, hashed, checked against Meta's sha256 and size and a per-type
// cap). The daemon's MediaWorker does this for the queue (media_queue.hpp) with bounded
// concurrency; fetch_media_now does it for one message at a user's request.

#include "wabactl/configs.hpp"
#include "wabactl/graph.hpp"
#include "wabactl/media_queue.hpp"
#include "wabactl/messages.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace wabactl {

class MasterKey;
class Store;

/// The largest file kept per media type (`serve --media-max TYPE=BYTES`).
struct MediaCaps {
  std::map<std::string, std::int64_t> bytes = {{"image", 5 << 20},
                                               {"sticker", 1 << 20},
                                               {"audio", 16 << 20},
                                               {"video", 16 << 20},
                                               {"document", 100 << 20}};
  /// The cap of `type` (a type without one gets the document cap).
  std::int64_t cap_for(const std::string& type) const;
};

/// Applies one `--media-max` value, TYPE=BYTES (TYPE one of image, video, audio, document,
/// sticker; BYTES 1 to 2 GiB). Error(usage) naming what is wrong otherwise.
void set_media_cap(MediaCaps& caps, const std::string& spec);

/// Whether `url` may be downloaded with a token of a tenant whose Graph API base is
/// `graph_url`: https on a Meta host (*.fbsbx.com, *.facebook.com, *.fbcdn.net,
/// *.whatsapp.net) when that base is Meta's, else the base's own scheme, host and port (a
/// test or proxy base). URLs with user info, spaces or control characters are refused.
bool media_url_allowed(const std::string& url, const std::string& graph_url);

/// How one attempt ended.
enum class MediaResult {
  stored,   ///< the bytes are in
  retry,    ///< a reason that may pass: try again after a backoff
  failed,   ///< a reason that will not pass (or Meta's id expired)
  abandoned ///< stopped midway (a stopping daemon): the job is claimable again
};

/// The name of a result, as /metrics labels it.
const char* media_result_name(MediaResult result);

/// What a claimed job came to.
struct MediaOutcome {
  MediaResult result = MediaResult::retry;
  std::string reason;             ///< for retry and failed
  std::optional<Message> message; ///< for stored
};

/// Opens a tenant's config secrets (the daemon's tenant cache, or the master key).
using SecretsOpener = std::function<ConfigSecrets(const Config&)>;

/// Fetches the bytes of a job `claimant` holds and records the outcome in `store` (stored,
/// retry, failed, or the claim given back when `cancel` was set midway). Each failure of
/// Meta's answers or the download ends as a reason; only the store's own errors throw.
MediaOutcome process_media_job(Store& store, const MediaJob& job, const MediaCaps& caps,
                               const SecretsOpener& open, const std::string& claimant,
                               const std::atomic<bool>* cancel = nullptr);

/// Fetches the media of `tenant`'s message `message_local_id` now (`wabactl media get` for
/// a pending item) and returns the message: as it is when already stored; Error(not_found)
/// for no such message or one without media, Error(rejected) naming the reason when it
/// failed (before or now), Error(tempfail) when another process is fetching it right now or
/// the attempt may succeed later (the job stays queued).
Message fetch_media_now(Store& store, const MasterKey& key, const std::string& tenant,
                        std::int64_t message_local_id, const MediaCaps& caps);

/// Counts of the daemon's downloads, for /metrics.
struct MediaCounters {
  std::atomic<std::uint64_t> stored{0};
  std::atomic<std::uint64_t> retry{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::int64_t> queued{0}; ///< jobs in the queue (claimed or not), last seen
};

/// What the daemon's media worker runs with.
struct MediaWorkerOptions {
  std::filesystem::path db;
  std::size_t workers = 4; ///< downloads at once
  MediaCaps caps;
  /// How long a claim holds: past it, a job of a daemon that died is claimable again.
  std::chrono::seconds lease{900};
};

/// The bounds of `--media-workers`.
inline constexpr std::size_t max_media_workers = 64;

/// The daemon's downloads: one thread claims due jobs (woken by wake() and by a timer for
/// retries) and hands them to `workers` download threads, each writing its results through
/// its own connection in short transactions, so webhook intake's writer is never held.
class MediaWorker {
public:
  MediaWorker(MediaWorkerOptions options, SecretsOpener open, MediaCounters& counters);
  MediaWorker(const MediaWorker&) = delete;
  MediaWorker& operator=(const MediaWorker&) = delete;
  ~MediaWorker();

  /// Starts the threads.
  void start();
  /// Something may have been queued: look now (cheap; called after every group commit).
  void wake();
  /// Abandons in-flight downloads (their jobs claimable again at once) and joins the threads.
  /// Idempotent.
  void stop();

private:
  void dispatch();
  void download();

  MediaWorkerOptions options_;
  SecretsOpener open_;
  MediaCounters& counters_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable dispatch_cv_;
  std::condition_variable jobs_cv_;
  bool woken_ = true;
  std::size_t busy_ = 0;
  std::deque<MediaJob> ready_;
  std::thread dispatcher_;
  std::vector<std::thread> downloaders_;
};

} // namespace wabactl
