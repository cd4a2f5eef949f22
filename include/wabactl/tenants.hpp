#pragma once
// Tenants: the organisations whose WhatsApp numbers wabactl serves.

#include <optional>
#include <string>
#include <vector>

namespace wabactl {

class Store;

struct Tenant {
  std::string id;
  std::optional<std::string> name;
  std::string created_at;
};

/// Adds a tenant; Error(usage) for an invalid id or name, Error(exists) when present.
Tenant add_tenant(Store& store, const std::string& id, const std::optional<std::string>& name);
/// All tenants, ordered by id.
std::vector<Tenant> list_tenants(Store& store);
/// One tenant, or nullopt.
std::optional<Tenant> find_tenant(Store& store, const std::string& id);
/// As find_tenant, but Error(not_found) with a hint when absent.
Tenant require_tenant(Store& store, const std::string& id);
/// Removes the tenant and everything it owns (config, messages, tokens, events).
/// Error(not_found) when absent.
void remove_tenant(Store& store, const std::string& id);

} // namespace wabactl
