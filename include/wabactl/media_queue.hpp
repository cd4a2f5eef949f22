#pragma once
// The durable queue of media downloads (CONTRACT.md §7). Webhook ingest queues a job for each
// new inbound image, video, audio, document and sticker in the transaction that stores the
// message; whoever fetches (the daemon's media worker, `wabactl media get`) claims jobs with
// a lease, then records the outcome: stored, a retry later, or failed. Claims take the write
// lock, so two processes on one database never hold one job at once; a claim whose process
// died is claimable again once its lease ends (or at once, when the claimant can be told
// dead). Times are unix seconds, passed in so that tests can move them.

#include "wabactl/delivery.hpp"
#include "wabactl/media.hpp"
#include "wabactl/messages.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wabactl {

class Store;

/// How long Meta keeps a webhook's media id: a job still queued this long after its message's
/// timestamp fails.
inline constexpr std::int64_t media_id_lifetime_seconds = 7 * 24 * 3600;
/// The first retry waits about this long; each further one twice as long, up to the cap.
inline constexpr std::int64_t media_retry_first_seconds = 30;
inline constexpr std::int64_t media_retry_cap_seconds = 3600;

/// A claimed download: what the fetcher needs to know of the message.
struct MediaJob {
  std::int64_t message_id = 0; ///< local id of the message
  std::string tenant_id;
  std::string type;     ///< image|video|audio|document|sticker
  std::string media_id; ///< Meta's media id
  std::optional<std::string> mime_type;
  std::optional<std::string> sha256; ///< announced by the webhook (hex)
  std::optional<std::int64_t> size;  ///< announced by the webhook
  std::optional<std::string> filename;
  int attempts = 0;            ///< earlier attempts
  std::int64_t expires_at = 0; ///< when Meta's media id is gone
};

/// Whether a message of `type` has media worth keeping.
bool is_media_type(const std::string& type);

/// Marks the new message `message_id` (a customer's, or one the business sent from its app)
/// as media pending (announced sha256, size and filename kept) and queues its download, due
/// at once; Meta's id lives 7 days from `issued` (unix seconds: the message's timestamp for
/// a live message, the delivery for history, whose ids Meta issues anew). Call inside the
/// transaction that inserted the message. Does nothing for a message without media (or
/// without a media id, which cannot be fetched).
void queue_inbound_media(Store& store, const std::string& tenant, std::int64_t message_id,
                         const InboundMessage& message, std::int64_t issued, std::int64_t now);

/// An edit gave message `message_id` new media: what was known of the old bytes is
/// forgotten and the new ones are queued like an inserted message's (Meta's id lives 7 days
/// from `sent`, unix seconds). An edit to a message without media, or to a kind without
/// bytes, leaves it without media state. Call inside the transaction that applied the edit.
void queue_edited_media(Store& store, const std::string& tenant, std::int64_t message_id,
                        std::int64_t sent, std::int64_t now);

/// A revoke took message `message_id`'s media away: its download, if queued, is dropped.
void drop_media_job(Store& store, std::int64_t message_id);

/// Claims up to `limit` due jobs (of any tenant) for `claimant` until now + `lease`, oldest
/// due first. Jobs past their expiry are failed instead of claimed. One short transaction.
std::vector<MediaJob> claim_media_jobs(Store& store, const std::string& claimant, std::size_t limit,
                                       std::int64_t now, std::chrono::seconds lease);

/// Claims the job of one message of `tenant`, due or not (a user asked for it now). Nullopt
/// when the message has no queued job or another claim on it is still live.
std::optional<MediaJob> claim_media_job(Store& store, const std::string& tenant,
                                        std::int64_t message_id, const std::string& claimant,
                                        std::int64_t now, std::chrono::seconds lease);

/// Whether a job is due and unclaimed now (a read: no write lock).
bool media_job_due(Store& store, std::int64_t now);

/// When the next queued job becomes claimable (due and its lease over), or nullopt when the
/// queue is empty.
std::optional<std::int64_t> next_media_due(Store& store);

/// Jobs queued (claimed or not).
std::int64_t queued_media_jobs(Store& store);

/// Makes the claims of processes that no longer run claimable at once (claimant.hpp). Returns
/// how many were released.
std::size_t release_dead_media_claims(Store& store);

/// Gives back `claimant`'s claim on a job without recording an attempt (a stopping daemon).
void release_media_job(Store& store, const MediaJob& job, const std::string& claimant);

/// The bytes are in: the message's media becomes stored (sha256, size, media_url
/// `/api/whatsapp/media/{id}`), the job goes, and event media.stored is appended with the
/// Message. Returns the message; nullopt, changing nothing, when the bytes are no longer in
/// the media folder (a `media prune` removed the same bytes since they were kept).
std::optional<Message> record_media_stored(Store& store, const MediaJob& job,
                                           const StoredMedia& stored);

/// The attempt failed for a reason that may pass: the job is due again after a backoff (30 s
/// doubling per attempt, capped at 1 h, with up to 20 % jitter) and the reason is shown on
/// the message. When the next attempt would come after Meta's id expired, the media fails
/// instead. Returns whether it failed.
bool record_media_retry(Store& store, const MediaJob& job, const std::string& reason,
                        std::int64_t now);

/// The media cannot be fetched: media state failed with `reason`, the job goes.
void record_media_failed(Store& store, const MediaJob& job, const std::string& reason);

/// The backoff before attempt `attempts` + 1, before jitter: 30 s * 2^(attempts - 1), at
/// most an hour.
std::int64_t media_retry_delay(int attempts);

} // namespace wabactl
