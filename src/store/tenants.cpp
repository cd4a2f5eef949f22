#include "wabactl/tenants.hpp"
#include "wabactl/identity.hpp"

#include "store/sql.hpp"
#include "wabactl/error.hpp"
#include "wabactl/store.hpp"
#include "wabactl/suggest.hpp"
#include "wabactl/util.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

namespace wabactl {
namespace {

constexpr std::size_t max_name = 256;

Tenant row_to_tenant(SQLite::Statement& q) {
  Tenant t;
  t.id = q.getColumn(0).getString();
  if (!q.getColumn(1).isNull()) t.name = q.getColumn(1).getString();
  t.created_at = q.getColumn(2).getString();
  return t;
}

} // namespace

Tenant add_tenant(Store& store, const std::string& id, const std::optional<std::string>& name) {
  return translated([&]() -> Tenant {
    require_tenant_id(id);
    if (name) {
      if (name->size() > max_name) {
        throw Error(Exit::usage, fmt::format("tenant name is too long ({} bytes; at most {})",
                                             name->size(), max_name));
      }
      for (unsigned char c : *name) {
        if (c < 0x20 || c == 0x7f) {
          throw Error(Exit::usage, "tenant name must not contain control characters");
        }
      }
    }
    Tenant t{id, name, now_iso()};
    SQLite::Statement q(sqlite(store), "INSERT INTO tenants(id, name, created_at) VALUES(?, ?, ?) "
                                       "ON CONFLICT(id) DO NOTHING");
    q.bind(1, id);
    if (name && !name->empty()) {
      q.bind(2, *name);
    } else {
      q.bind(2);
      t.name.reset();
    }
    q.bind(3, t.created_at);
    if (q.exec() == 0) {
      throw Error(Exit::exists, fmt::format("tenant '{}' already exists", id));
    }
    return t;
  });
}

std::vector<Tenant> list_tenants(Store& store) {
  return translated([&]() -> std::vector<Tenant> {
    SQLite::Statement q(sqlite(store), "SELECT id, name, created_at FROM tenants ORDER BY id");
    std::vector<Tenant> out;
    while (q.executeStep()) out.push_back(row_to_tenant(q));
    return out;
  });
}

std::optional<Tenant> find_tenant(Store& store, const std::string& id) {
  return translated([&]() -> std::optional<Tenant> {
    SQLite::Statement q(sqlite(store), "SELECT id, name, created_at FROM tenants WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return std::nullopt;
    return row_to_tenant(q);
  });
}

Tenant require_tenant(Store& store, const std::string& id) {
  return translated([&]() -> Tenant {
    require_tenant_id(id);
    if (auto t = find_tenant(store, id)) return *t;
    // A near miss of an existing id is a typo: suggest that tenant, not creating the typo.
    std::vector<std::string> ids;
    for (const Tenant& t : list_tenants(store)) ids.push_back(t.id);
    if (auto near = closest_match(id, ids)) {
      throw Error(Exit::not_found, fmt::format("tenant '{}' does not exist", id),
                  fmt::format("did you mean '{}'?", *near));
    }
    throw Error(Exit::not_found, fmt::format("tenant '{}' does not exist", id),
                fmt::format("run 'wabactl tenant add {}'", id));
  });
}

void remove_tenant(Store& store, const std::string& id) {
  translated([&] {
    require_tenant_id(id);
    store.transaction([&] {
      // The tenant's events go with it, perhaps the newest: event ids must still not go back
      // (append_event), for a daemon's event hub may have seen them.
      sqlite(store).exec("INSERT INTO settings(name, value) SELECT 'events.high_water', max(id) "
                         "FROM events HAVING max(id) IS NOT NULL ON CONFLICT(name) DO UPDATE SET "
                         "value = max(CAST(value AS INTEGER), excluded.value)");
      // Raw deliveries that belong to this tenant alone go with it.
      SQLite::Statement raw(sqlite(store),
                            "DELETE FROM webhook_deliveries WHERE id IN "
                            "(SELECT delivery_id FROM delivery_tenants WHERE tenant_id = ?1) "
                            "AND id NOT IN "
                            "(SELECT delivery_id FROM delivery_tenants WHERE tenant_id <> ?1)");
      raw.bind(1, id);
      raw.exec();
      SQLite::Statement q(sqlite(store), "DELETE FROM tenants WHERE id = ?");
      q.bind(1, id);
      if (q.exec() == 0) {
        throw Error(Exit::not_found, fmt::format("tenant '{}' does not exist", id));
      }
    });
  });
}

} // namespace wabactl
