#include "wabactl/media_queue.hpp"

#include "store/sql.hpp"
#include "wabactl/claimant.hpp"
#include "wabactl/error.hpp"
#include "wabactl/media_index.hpp"
#include "wabactl/store.hpp"
#include "wabactl/util.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include <algorithm>
#include <random>

namespace wabactl {
namespace {

constexpr const char* job_select =
    "SELECT j.message_id, j.tenant_id, m.type, m.media_id, m.media_type, m.media_sha256, "
    "m.media_size, m.media_filename, j.attempts, j.expires_at "
    "FROM media_jobs j JOIN whatsapp_messages m ON m.id = j.message_id ";

MediaJob row_to_job(SQLite::Statement& q) {
  MediaJob job;
  job.message_id = q.getColumn(0).getInt64();
  job.tenant_id = q.getColumn(1).getString();
  job.type = q.getColumn(2).getString();
  job.media_id = q.getColumn(3).getString();
  job.mime_type = opt_text(q.getColumn(4));
  job.sha256 = opt_text(q.getColumn(5));
  if (!q.getColumn(6).isNull()) job.size = q.getColumn(6).getInt64();
  job.filename = opt_text(q.getColumn(7));
  job.attempts = q.getColumn(8).getInt();
  job.expires_at = q.getColumn(9).getInt64();
  return job;
}

void lease_job(Store& store, std::int64_t message_id, const std::string& claimant,
               std::int64_t until) {
  auto q =
      prepare(store, "UPDATE media_jobs SET lease_until = ?, claimed_by = ? WHERE message_id = ?");
  q->bind(1, until);
  q->bindNoCopy(2, claimant);
  q->bind(3, message_id);
  q->exec();
}

// Inside a transaction: the media fails with `reason` (only while it is pending: a claim that
// outlived its lease must not undo another's success) and its job goes.
void fail_locked(Store& store, const MediaJob& job, const std::string& reason) {
  auto upd = prepare(store, "UPDATE whatsapp_messages SET media_state = 'failed', media_error = ? "
                            "WHERE id = ? AND tenant_id = ? AND media_state = 'pending'");
  upd->bindNoCopy(1, reason);
  upd->bind(2, job.message_id);
  upd->bindNoCopy(3, job.tenant_id);
  upd->exec();
  auto del = prepare(store, "DELETE FROM media_jobs WHERE message_id = ?");
  del->bind(1, job.message_id);
  del->exec();
}

double jitter() {
  thread_local std::mt19937 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 0.2)(rng);
}

// Queues message `message_id`'s download, due at `now`; Meta's id lives 7 days from `sent`,
// and a time ahead of our clock counts as now.
void insert_job(Store& store, const std::string& tenant, std::int64_t message_id, std::int64_t sent,
                std::int64_t now) {
  auto ins = prepare(store, "INSERT INTO media_jobs(message_id, tenant_id, due_at, expires_at) "
                            "VALUES(?, ?, ?, ?) ON CONFLICT DO NOTHING");
  ins->bind(1, message_id);
  ins->bindNoCopy(2, tenant);
  ins->bind(3, now);
  ins->bind(4, (sent > 0 ? std::min(sent, now) : now) + media_id_lifetime_seconds);
  ins->exec();
}

} // namespace

bool is_media_type(const std::string& type) {
  return type == "image" || type == "video" || type == "audio" || type == "document" ||
         type == "sticker";
}

void queue_inbound_media(Store& store, const std::string& tenant, std::int64_t message_id,
                         const InboundMessage& m, std::int64_t issued, std::int64_t now) {
  if (!is_media_type(m.type) || !m.media_id) return;
  translated([&] {
    auto upd = prepare(store, "UPDATE whatsapp_messages SET media_state = 'pending', "
                              "media_sha256 = ?, media_size = ?, media_filename = ? WHERE id = ?");
    bind_ref(*upd, 1, m.media_sha256);
    bind_opt(*upd, 2, m.media_size);
    bind_ref(*upd, 3, m.media_filename);
    upd->bind(4, message_id);
    upd->exec();
    insert_job(store, tenant, message_id, issued, now);
  });
}

void queue_edited_media(Store& store, const std::string& tenant, std::int64_t message_id,
                        std::int64_t sent, std::int64_t now) {
  translated([&] {
    drop_media_job(store, message_id);
    // What is known of the old bytes goes; whether the new ones are worth fetching is
    // is_media_type's rule, the same as for an inserted message.
    auto upd = prepare(store, "UPDATE whatsapp_messages SET media_url = NULL, media_state = "
                              "NULL, media_sha256 = NULL, media_size = NULL, media_filename = "
                              "NULL, media_error = NULL WHERE id = ? RETURNING type, media_id");
    upd->bind(1, message_id);
    if (!upd->executeStep() || upd->getColumn(1).isNull() ||
        !is_media_type(upd->getColumn(0).getString())) {
      return;
    }
    upd->reset();
    auto pending =
        prepare(store, "UPDATE whatsapp_messages SET media_state = 'pending' WHERE id = ?");
    pending->bind(1, message_id);
    pending->exec();
    insert_job(store, tenant, message_id, sent, now);
  });
}

void drop_media_job(Store& store, std::int64_t message_id) {
  translated([&] {
    auto del = prepare(store, "DELETE FROM media_jobs WHERE message_id = ?");
    del->bind(1, message_id);
    del->exec();
  });
}

std::vector<MediaJob> claim_media_jobs(Store& store, const std::string& claimant, std::size_t limit,
                                       std::int64_t now, std::chrono::seconds lease) {
  std::vector<MediaJob> claimed;
  if (limit == 0) return claimed;
  translated([&] {
    store.transaction([&] {
      claimed.clear();
      std::vector<MediaJob> due;
      {
        static const std::string sql = std::string(job_select) +
                                       "WHERE j.due_at <= ?1 AND (j.lease_until IS NULL OR "
                                       "j.lease_until <= ?1) ORDER BY j.due_at LIMIT ?2";
        auto q = prepare(store, sql);
        q->bind(1, now);
        q->bind(2, static_cast<std::int64_t>(limit));
        while (q->executeStep()) due.push_back(row_to_job(*q));
      }
      for (auto& job : due) {
        if (job.expires_at <= now) {
          fail_locked(store, job,
                      fmt::format("Meta's media id expired (7 days after the message) before "
                                  "the media could be fetched ({} attempts)",
                                  job.attempts));
          continue;
        }
        lease_job(store, job.message_id, claimant, now + lease.count());
        claimed.push_back(std::move(job));
      }
    });
  });
  return claimed;
}

std::optional<MediaJob> claim_media_job(Store& store, const std::string& tenant,
                                        std::int64_t message_id, const std::string& claimant,
                                        std::int64_t now, std::chrono::seconds lease) {
  std::optional<MediaJob> claimed;
  translated([&] {
    store.transaction([&] {
      claimed.reset();
      static const std::string sql = std::string(job_select) +
                                     "WHERE j.message_id = ? AND j.tenant_id = ? AND "
                                     "(j.lease_until IS NULL OR j.lease_until <= ?)";
      auto q = prepare(store, sql);
      q->bind(1, message_id);
      q->bindNoCopy(2, tenant);
      q->bind(3, now);
      if (!q->executeStep()) return;
      MediaJob job = row_to_job(*q);
      lease_job(store, job.message_id, claimant, now + lease.count());
      claimed = std::move(job);
    });
  });
  return claimed;
}

bool media_job_due(Store& store, std::int64_t now) {
  return translated([&] {
    auto q = prepare(store, "SELECT 1 FROM media_jobs WHERE due_at <= ?1 AND "
                            "(lease_until IS NULL OR lease_until <= ?1) LIMIT 1");
    q->bind(1, now);
    return q->executeStep();
  });
}

std::optional<std::int64_t> next_media_due(Store& store) {
  return translated([&]() -> std::optional<std::int64_t> {
    auto q = prepare(store, "SELECT min(max(due_at, coalesce(lease_until, 0))) FROM media_jobs");
    if (!q->executeStep() || q->getColumn(0).isNull()) return std::nullopt;
    return q->getColumn(0).getInt64();
  });
}

std::int64_t queued_media_jobs(Store& store) {
  return translated([&] {
    auto q = prepare(store, "SELECT count(*) FROM media_jobs");
    q->executeStep();
    return q->getColumn(0).getInt64();
  });
}

std::size_t release_dead_media_claims(Store& store) {
  std::size_t released = 0;
  translated([&] {
    store.transaction([&] {
      released = 0;
      std::vector<std::pair<std::int64_t, std::string>> held;
      {
        SQLite::Statement q(sqlite(store), "SELECT message_id, claimed_by FROM media_jobs "
                                           "WHERE claimed_by IS NOT NULL");
        while (q.executeStep()) held.emplace_back(q.getColumn(0).getInt64(), q.getColumn(1));
      }
      SQLite::Statement upd(sqlite(store), "UPDATE media_jobs SET lease_until = NULL, "
                                           "claimed_by = NULL WHERE message_id = ?");
      for (const auto& [id, holder] : held) {
        if (!claimant_checkable(holder) || claimant_alive(holder)) continue;
        upd.bind(1, id);
        upd.exec();
        upd.reset();
        ++released;
      }
    });
  });
  return released;
}

void release_media_job(Store& store, const MediaJob& job, const std::string& claimant) {
  translated([&] {
    store.transaction([&] {
      auto q = prepare(store, "UPDATE media_jobs SET lease_until = NULL, claimed_by = NULL "
                              "WHERE message_id = ? AND claimed_by = ?");
      q->bind(1, job.message_id);
      q->bindNoCopy(2, claimant);
      q->exec();
    });
  });
}

std::optional<Message> record_media_stored(Store& store, const MediaJob& job,
                                           const StoredMedia& stored) {
  std::optional<Message> message;
  translated([&] {
    store.transaction([&] {
      // Under the write lock, where prune_media removes files (see there).
      if (!media_stored(store, stored.sha256)) return;
      const std::string url = local_media_url(job.message_id);
      auto upd = prepare(store, "UPDATE whatsapp_messages SET media_state = 'stored', "
                                "media_sha256 = ?, media_size = ?, media_url = ?, media_error = "
                                "NULL WHERE id = ? AND tenant_id = ?");
      upd->bindNoCopy(1, stored.sha256);
      upd->bind(2, stored.size);
      upd->bindNoCopy(3, url);
      upd->bind(4, job.message_id);
      upd->bindNoCopy(5, job.tenant_id);
      upd->exec();
      auto del = prepare(store, "DELETE FROM media_jobs WHERE message_id = ?");
      del->bind(1, job.message_id);
      del->exec();
      message = find_message_by_local_id(store, job.tenant_id, job.message_id);
      if (!message) throw Error(Exit::not_found, "the message of a media download is gone");
      append_event(store, job.tenant_id, event_media_stored, message, std::nullopt);
    });
  });
  return message;
}

std::int64_t media_retry_delay(int attempts) {
  std::int64_t delay = media_retry_first_seconds;
  for (int i = 1; i < attempts && delay < media_retry_cap_seconds; ++i) delay *= 2;
  return std::min(delay, media_retry_cap_seconds);
}

bool record_media_retry(Store& store, const MediaJob& job, const std::string& reason,
                        std::int64_t now) {
  bool failed = false;
  const int attempts = job.attempts + 1;
  const auto base = media_retry_delay(attempts);
  const std::int64_t due = now + base + static_cast<std::int64_t>(base * jitter());
  translated([&] {
    store.transaction([&] {
      failed = due >= job.expires_at;
      if (failed) {
        fail_locked(store, job,
                    fmt::format("{} (gave up after {} attempts: Meta's media id expires 7 days "
                                "after the message)",
                                reason, attempts));
        return;
      }
      auto q = prepare(store, "UPDATE media_jobs SET attempts = ?, due_at = ?, lease_until = "
                              "NULL, claimed_by = NULL, last_error = ? WHERE message_id = ?");
      q->bind(1, attempts);
      q->bind(2, due);
      q->bindNoCopy(3, reason);
      q->bind(4, job.message_id);
      q->exec();
      auto upd = prepare(store, "UPDATE whatsapp_messages SET media_error = ? WHERE id = ? AND "
                                "tenant_id = ? AND media_state = 'pending'");
      upd->bindNoCopy(1, reason);
      upd->bind(2, job.message_id);
      upd->bindNoCopy(3, job.tenant_id);
      upd->exec();
    });
  });
  return failed;
}

void record_media_failed(Store& store, const MediaJob& job, const std::string& reason) {
  translated([&] { store.transaction([&] { fail_locked(store, job, reason); }); });
}

} // namespace wabactl
