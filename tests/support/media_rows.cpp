#include "support/media_rows.hpp"

#include "support/temp_store.hpp"
#include "wabactl/media_index.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

namespace testsupport {

std::int64_t insert_media_message(const wabactl::Store& store, const MediaRow& row) {
  auto db = raw_db(store);
  SQLite::Statement q(db, "INSERT INTO whatsapp_messages(tenant_id, phone_number, conversation, "
                          "message_id, direction, status, status_rank, type, media_id, "
                          "media_type, media_state, media_filename, media_error, read_at, "
                          "timestamp, created_at) VALUES(?1, ?2, ?2, ?3, 'incoming', 'received', "
                          "5, ?4, 'MEDIA-' || ?3, ?5, ?6, ?7, ?8, ?9, ?9, ?9)");
  q.bind(1, row.tenant);
  q.bind(2, row.phone);
  q.bind(3, row.wamid);
  q.bind(4, row.type);
  if (row.mime_type) q.bind(5, *row.mime_type);
  q.bind(6, row.state);
  if (row.filename) q.bind(7, *row.filename);
  if (row.error) q.bind(8, *row.error);
  q.bind(9, row.timestamp);
  q.exec();
  auto id = db.getLastInsertRowid();
  if (row.state == "pending") {
    // queued as webhook ingest queues it: due now, Meta's id living a week
    SQLite::Statement job(db, "INSERT INTO media_jobs(message_id, tenant_id, due_at, expires_at) "
                              "VALUES(?1, ?2, unixepoch(), unixepoch() + 7 * 86400)");
    job.bind(1, id);
    job.bind(2, row.tenant);
    job.exec();
  }
  return id;
}

wabactl::StoredMedia keep_bytes(wabactl::Store& store, const std::string& tenant, std::int64_t id,
                                const std::string& bytes,
                                const std::optional<std::string>& filename) {
  wabactl::IncomingMedia in(store);
  in.write(bytes.data(), bytes.size());
  auto kept = in.keep();
  wabactl::record_kept_media(store, tenant, id, kept, filename);
  return kept;
}

} // namespace testsupport
