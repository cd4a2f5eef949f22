#include "wabactl/media_index.hpp"

#include "sql.hpp"
#include "wabactl/error.hpp"
#include "wabactl/store.hpp"

#include <fmt/format.h>

#include <set>
#include <sys/stat.h>

namespace wabactl {

bool is_media_state(std::string_view state) {
  return state == media_state_pending || state == media_state_stored || state == media_state_failed;
}

std::string local_media_url(std::int64_t message_id) {
  return fmt::format("/api/whatsapp/media/{}", message_id);
}

std::vector<Message> list_media(Store& store, const std::string& tenant, const MediaQuery& q) {
  if (q.state && !is_media_state(*q.state)) {
    throw Error(Exit::usage, "a media state is pending, stored or failed");
  }
  if (q.limit < 1 || q.limit > max_media_list_limit) {
    throw Error(Exit::usage, fmt::format("the limit is 1 to {}", max_media_list_limit));
  }
  return translated([&] {
    // `media_state IS NOT NULL` lets SQLite use the partial index of messages with media.
    std::string sql = fmt::format("SELECT {} WHERE m.tenant_id = ? AND m.media_state IS NOT NULL "
                                  "{}ORDER BY m.timestamp DESC, m.id DESC LIMIT ?",
                                  message_select(), q.state ? "AND m.media_state = ? " : "");
    SQLite::Statement s(sqlite(store), sql);
    int i = 1;
    s.bind(i++, tenant);
    if (q.state) s.bind(i++, *q.state);
    s.bind(i, static_cast<std::int64_t>(q.limit));
    std::vector<Message> out;
    while (s.executeStep()) out.push_back(row_to_message(s));
    return out;
  });
}

std::optional<Message> find_media(Store& store, const std::string& tenant,
                                  const std::string& id_or_wamid) {
  auto m = find_message(store, tenant, id_or_wamid);
  if (!m || !m->media) return std::nullopt;
  return m;
}

Message record_kept_media(Store& store, const std::string& tenant, std::int64_t id,
                          const StoredMedia& kept, const std::optional<std::string>& filename) {
  return translated([&] {
    std::optional<Message> m;
    store.transaction([&] {
      // Under the write lock, where prune_media removes files: bytes a prune took since
      // they were kept leave the message as it was, never "stored" without its bytes.
      if (media_stored(store, kept.sha256)) {
        SQLite::Statement upd(
            sqlite(store),
            "UPDATE whatsapp_messages SET media_state = 'stored', media_sha256 = ?, "
            "media_size = ?, media_filename = coalesce(?, media_filename), media_error = NULL, "
            "media_url = ? "
            "WHERE id = ? AND tenant_id = ?");
        upd.bind(1, kept.sha256);
        upd.bind(2, kept.size);
        bind_opt(upd, 3, filename);
        upd.bind(4, local_media_url(id));
        upd.bind(5, id);
        upd.bind(6, tenant);
        upd.exec();
      }
      m = find_message_by_local_id(store, tenant, id);
    });
    if (!m) throw Error(Exit::not_found, fmt::format("no message {} for tenant '{}'", id, tenant));
    return *m;
  });
}

MediaPruneResult prune_media(Store& store, const std::string& tenant, const std::string& cutoff,
                             const std::string& today) {
  MediaPruneResult result;
  std::set<std::string> unreferenced;
  translated([&] {
    store.transaction([&] {
      auto& db = sqlite(store);
      std::set<std::string> pruned;
      SQLite::Statement sel(db, "SELECT media_sha256 FROM whatsapp_messages WHERE tenant_id = ? "
                                "AND media_state = 'stored' AND timestamp < ?");
      sel.bind(1, tenant);
      sel.bind(2, cutoff);
      while (sel.executeStep()) {
        ++result.messages;
        if (auto sha = opt_text(sel.getColumn(0))) pruned.insert(*sha);
      }
      SQLite::Statement upd(db, "UPDATE whatsapp_messages SET media_state = 'failed', "
                                "media_error = ?, media_url = NULL WHERE tenant_id = ? "
                                "AND media_state = 'stored' AND timestamp < ?");
      upd.bind(1, fmt::format("removed by media prune on {}", today));
      upd.bind(2, tenant);
      upd.bind(3, cutoff);
      upd.exec();
      // The same bytes are stored once for every message (of any tenant) that has them.
      SQLite::Statement still(db, "SELECT 1 FROM whatsapp_messages WHERE media_sha256 = ? "
                                  "AND media_state = 'stored' LIMIT 1");
      for (const auto& sha : pruned) {
        still.reset();
        still.bind(1, sha);
        if (still.executeStep()) {
          ++result.shared;
        } else {
          unreferenced.insert(sha);
        }
      }
    });
  });
  // Removed only once the rows no longer name them: a crash in between leaves a file
  // nobody shows, never a message that says stored without its bytes. Each file is removed
  // under the write lock after asking again, as a download or a send of the same bytes may
  // have recorded them meanwhile; those record only bytes still there (record_kept_media,
  // record_media_stored), so whichever comes first, no message is left without its bytes.
  if (unreferenced.empty()) return result;
  translated([&] {
    store.transaction([&] {
      SQLite::Statement still(sqlite(store), "SELECT 1 FROM whatsapp_messages WHERE "
                                             "media_sha256 = ? AND media_state = 'stored' LIMIT 1");
      for (const auto& sha : unreferenced) {
        still.reset();
        still.bind(1, sha);
        if (still.executeStep()) continue;
        struct stat st {};
        if (::stat(media_file(store, sha).c_str(), &st) != 0) continue;
        remove_media_file(store, sha);
        ++result.files;
        result.bytes += static_cast<std::int64_t>(st.st_size);
      }
    });
  });
  return result;
}

} // namespace wabactl
