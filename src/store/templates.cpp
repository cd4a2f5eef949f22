#include "wabactl/templates.hpp"

#include "store/sql.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <map>
#include <utility>

namespace wabactl {
namespace {

using nlohmann::json;

constexpr const char* columns = "name, language, template_id, category, status, quality, "
                                "parameter_format, components, synced_at, updated_at";

Template row_to_template(SQLite::Statement& q) {
  Template t;
  t.name = q.getColumn(0).getString();
  t.language = q.getColumn(1).getString();
  t.id = opt_text(q.getColumn(2));
  t.category = opt_text(q.getColumn(3));
  t.status = q.getColumn(4).getString();
  t.quality = opt_text(q.getColumn(5));
  t.parameter_format = q.getColumn(6).getString();
  // Written by this module from parsed JSON; a damaged row reads as no components.
  t.components = json::parse(q.getColumn(7).getString(), nullptr, false);
  if (!t.components.is_array()) t.components = json::array();
  t.synced_at = q.getColumn(8).getString();
  t.updated_at = q.getColumn(9).getString();
  return t;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json opt(const std::optional<std::string>& v) {
  return v ? json(*v) : json(nullptr);
}

} // namespace

json to_json(const Template& t) {
  return {{"id", opt(t.id)},
          {"name", t.name},
          {"language", t.language},
          {"category", opt(t.category)},
          {"status", t.status},
          {"quality", opt(t.quality)},
          {"parameter_format", t.parameter_format},
          {"components", t.components},
          {"synced_at", t.synced_at},
          {"updated_at", t.updated_at}};
}

std::optional<TemplateSync> template_sync(Store& store, const std::string& tenant) {
  return translated([&]() -> std::optional<TemplateSync> {
    auto q = prepare(store, "SELECT synced_at, count FROM template_syncs "
                            "WHERE tenant_id = ? AND synced_at IS NOT NULL");
    q->bind(1, tenant);
    if (!q->executeStep()) return std::nullopt;
    return TemplateSync{q->getColumn(0).getString(),
                        static_cast<std::size_t>(q->getColumn(1).getInt64())};
  });
}

std::size_t replace_templates(Store& store, const std::string& tenant,
                              const std::vector<Template>& templates, const std::string& now) {
  std::size_t count = 0;
  store.transaction([&] {
    translated([&] {
      using Key = std::pair<std::string, std::string>;
      std::map<Key, std::pair<std::string, std::optional<std::string>>> before;
      {
        SQLite::Statement q(sqlite(store), "SELECT name, language, status, quality FROM templates "
                                           "WHERE tenant_id = ?");
        q.bind(1, tenant);
        while (q.executeStep()) {
          before[{q.getColumn(0).getString(), q.getColumn(1).getString()}] = {
              q.getColumn(2).getString(), opt_text(q.getColumn(3))};
        }
      }
      SQLite::Statement del(sqlite(store), "DELETE FROM templates WHERE tenant_id = ?");
      del.bind(1, tenant);
      del.exec();
      SQLite::Statement ins(sqlite(store),
                            "INSERT OR REPLACE INTO templates(tenant_id, name, language, "
                            "template_id, category, status, quality, parameter_format, "
                            "components, synced_at, updated_at) "
                            "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      std::map<Key, const Template*> latest;
      for (const Template& t : templates) latest[{t.name, t.language}] = &t;
      for (const auto& [key, t] : latest) {
        ins.bind(1, tenant);
        ins.bind(2, t->name);
        ins.bind(3, t->language);
        bind_opt(ins, 4, t->id);
        bind_opt(ins, 5, t->category);
        ins.bind(6, t->status);
        bind_opt(ins, 7, t->quality);
        ins.bind(8, t->parameter_format);
        ins.bind(9, dump(t->components));
        ins.bind(10, now);
        ins.bind(11, now);
        ins.exec();
        ins.reset();
        auto was = before.find(key);
        if (was != before.end() &&
            (was->second.first != t->status || was->second.second != t->quality)) {
          Template stored = *t;
          stored.synced_at = now;
          stored.updated_at = now;
          append_template_event(store, tenant, to_json(stored));
        }
      }
      count = latest.size();
      SQLite::Statement sync(sqlite(store),
                             "INSERT INTO template_syncs(tenant_id, synced_at, count) "
                             "VALUES(?, ?, ?) ON CONFLICT(tenant_id) DO UPDATE SET "
                             "synced_at = excluded.synced_at, count = excluded.count");
      sync.bind(1, tenant);
      sync.bind(2, now);
      sync.bind(3, static_cast<std::int64_t>(count));
      sync.exec();
    });
  });
  return count;
}

std::vector<Template> list_templates(Store& store, const std::string& tenant,
                                     const std::optional<std::string>& status) {
  return translated([&] {
    std::string sql = std::string("SELECT ") + columns + " FROM templates WHERE tenant_id = ?" +
                      (status ? " AND status = ?" : "") + " ORDER BY name, language";
    SQLite::Statement q(sqlite(store), sql);
    q.bind(1, tenant);
    if (status) q.bind(2, *status);
    std::vector<Template> out;
    while (q.executeStep()) out.push_back(row_to_template(q));
    return out;
  });
}

std::optional<Template> find_template(Store& store, const std::string& tenant,
                                      const std::string& name, const std::string& language) {
  return translated([&]() -> std::optional<Template> {
    auto q = prepare(store, std::string("SELECT ") + columns +
                                " FROM templates WHERE tenant_id = ? AND name = ? AND "
                                "language = ?");
    q->bind(1, tenant);
    q->bind(2, name);
    q->bind(3, language);
    if (!q->executeStep()) return std::nullopt;
    return row_to_template(*q);
  });
}

std::optional<Template> apply_template_change(Store& store, const std::string& tenant,
                                              const TemplateChange& change, const std::string& now,
                                              std::vector<std::int64_t>* event_ids) {
  return translated([&]() -> std::optional<Template> {
    // Meta names the template by id; its name and language find one synced without an id.
    SQLite::Statement q(sqlite(store),
                        std::string("UPDATE templates SET status = coalesce(?1, status), "
                                    "quality = coalesce(?2, quality), updated_at = ?3 "
                                    "WHERE tenant_id = ?4 AND ((?5 IS NOT NULL AND "
                                    "template_id = ?5) OR (name = ?6 AND language = ?7)) "
                                    "AND (status IS NOT coalesce(?1, status) OR "
                                    "quality IS NOT coalesce(?2, quality)) RETURNING ") +
                            columns);
    bind_opt(q, 1, change.status);
    bind_opt(q, 2, change.quality);
    q.bind(3, now);
    q.bind(4, tenant);
    bind_opt(q, 5, change.id);
    bind_opt(q, 6, change.name);
    bind_opt(q, 7, change.language);
    std::vector<Template> changed;
    while (q.executeStep()) changed.push_back(row_to_template(q));
    if (changed.empty()) return std::nullopt;
    for (const Template& t : changed) {
      json j = to_json(t);
      if (change.reason) j["reason"] = *change.reason;
      auto id = append_template_event(store, tenant, j);
      if (event_ids) event_ids->push_back(id);
    }
    return changed.front();
  });
}

bool claim_template_sync(Store& store, const std::string& tenant, const std::string& now,
                         const std::string& next) {
  return translated([&] {
    SQLite::Statement q(sqlite(store),
                        "INSERT INTO template_syncs(tenant_id, next_sync_at) VALUES(?1, ?3) "
                        "ON CONFLICT(tenant_id) DO UPDATE SET next_sync_at = ?3 "
                        "WHERE next_sync_at IS NULL OR next_sync_at <= ?2");
    q.bind(1, tenant);
    q.bind(2, now);
    q.bind(3, next);
    return q.exec() > 0;
  });
}

void reschedule_template_sync(Store& store, const std::string& tenant, const std::string& at) {
  translated([&] {
    auto q = prepare(store, "UPDATE template_syncs SET next_sync_at = ?2 WHERE tenant_id = ?1");
    q->bind(1, tenant);
    q->bind(2, at);
    q->exec();
  });
}

} // namespace wabactl
