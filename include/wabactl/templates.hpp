#pragma once
// Each tenant's catalogue of message templates (CONTRACT.md §8), as Meta last listed them:
// replaced whole by a sync, changed one at a time by template webhooks. What a template
// means for a send (its placeholders, header, buttons) is template_check.hpp's business;
// this is where the rows live.

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wabactl {

class Store;

/// One template in one language.
struct Template {
  std::string name;
  std::string language;                ///< en_US
  std::optional<std::string> id;       ///< Meta's template id
  std::optional<std::string> category; ///< UTILITY, MARKETING, AUTHENTICATION
  std::string status;                  ///< APPROVED, PENDING, REJECTED, PAUSED, DISABLED, …
  std::optional<std::string> quality;  ///< GREEN, YELLOW, RED, UNKNOWN
  std::string parameter_format = "POSITIONAL";         ///< POSITIONAL or NAMED
  nlohmann::json components = nlohmann::json::array(); ///< Meta's components, kept whole
  std::string synced_at;                               ///< the sync that brought it
  std::string updated_at; ///< the sync, or a later webhook that changed it
};

/// The template as JSON: {"id", "name", "language", "category", "status", "quality",
/// "parameter_format", "components", "synced_at", "updated_at"}.
nlohmann::json to_json(const Template& t);

/// The tenant's last sync.
struct TemplateSync {
  std::string synced_at;
  std::size_t count = 0;
};

/// When the tenant's catalogue was last synced, or nullopt when it never was.
std::optional<TemplateSync> template_sync(Store& store, const std::string& tenant);

/// Replaces the tenant's whole catalogue with `templates` in one transaction (a later
/// template of the same name and language wins) and records the sync at `now`. A template
/// whose status or quality differs from the one it replaces appends a `template.changed`
/// event. Returns how many templates the catalogue holds.
std::size_t replace_templates(Store& store, const std::string& tenant,
                              const std::vector<Template>& templates, const std::string& now);

/// The tenant's templates ordered by name and language; only those of `status` when given.
std::vector<Template> list_templates(Store& store, const std::string& tenant,
                                     const std::optional<std::string>& status = std::nullopt);

/// One template of the tenant, or nullopt.
std::optional<Template> find_template(Store& store, const std::string& tenant,
                                      const std::string& name, const std::string& language);

/// A change a template webhook reports: a new status (message_template_status_update) or
/// quality (message_template_quality_update), for the template Meta names by id or by name
/// and language.
struct TemplateChange {
  std::optional<std::string> id;
  std::optional<std::string> name;
  std::optional<std::string> language;
  std::optional<std::string> status;
  std::optional<std::string> quality;
  std::optional<std::string> reason; ///< Meta's reason for a rejection or a pause
};

/// Applies `change` to the tenant's template (call inside the transaction that stores the
/// webhook) and appends a `template.changed` event carrying it (its id to `event_ids`). Returns the
/// template as it now is, or nullopt when the catalogue has no such template or it already has that
/// status and quality (a retried webhook): then nothing changes and no event is added.
std::optional<Template> apply_template_change(Store& store, const std::string& tenant,
                                              const TemplateChange& change, const std::string& now,
                                              std::vector<std::int64_t>* event_ids = nullptr);

/// Claims the tenant's periodic sync: true when none is due later than `now` (then the
/// next one is due at `next`), false when another daemon has claimed it already. One
/// conditional write, so of many daemons on one database only one syncs each period.
bool claim_template_sync(Store& store, const std::string& tenant, const std::string& now,
                         const std::string& next);

/// Moves the tenant's next periodic sync to `at` (after a sync that failed).
void reschedule_template_sync(Store& store, const std::string& tenant, const std::string& at);

} // namespace wabactl
