// The catalogue sync: every page of Meta's template listing, then one replacing write.
#include "wabactl/template_check.hpp"

#include "wabactl/error.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>

namespace wabactl {
namespace {

using nlohmann::json;

constexpr const char* fields =
    "name,status,language,category,components,parameter_format,quality_score,id";
constexpr std::size_t max_cursor = 2048;
constexpr std::size_t max_name = 512;
constexpr std::size_t max_component_bytes = 64 * 1024;

[[noreturn]] void malformed(int page, const std::string& why) {
  throw Error(Exit::tempfail,
              fmt::format("page {} of Meta's template listing is malformed ({}): the stored "
                          "catalogue is kept as it was",
                          page, why),
              "try 'wabactl template sync' again later; check --graph-url if it persists");
}

std::optional<std::string> opt_string(const json& j, const char* key, int page) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (it->is_number_integer()) return it->dump();
  if (!it->is_string()) malformed(page, fmt::format("'{}' is not a string", key));
  return it->get<std::string>();
}

Template parse_template(const json& j, int page) {
  if (!j.is_object()) malformed(page, "a template is not an object");
  Template t;
  auto name = opt_string(j, "name", page);
  auto language = opt_string(j, "language", page);
  auto status = opt_string(j, "status", page);
  if (!name || name->empty() || name->size() > max_name) malformed(page, "a template's name");
  if (!language || language->empty() || language->size() > 15) {
    malformed(page, fmt::format("the language of '{}'", name->substr(0, 64)));
  }
  if (!status || status->empty() || status->size() > 64) {
    malformed(page, fmt::format("the status of '{}'", name->substr(0, 64)));
  }
  t.name = *name;
  t.language = *language;
  t.status = *status;
  t.id = opt_string(j, "id", page);
  t.category = opt_string(j, "category", page);
  if (auto format = opt_string(j, "parameter_format", page)) t.parameter_format = *format;
  auto q = j.find("quality_score");
  if (q != j.end() && q->is_object()) {
    t.quality = opt_string(*q, "score", page);
  } else if (q != j.end() && q->is_string()) {
    t.quality = q->get<std::string>();
  }
  auto c = j.find("components");
  if (c != j.end() && !c->is_null()) {
    if (!c->is_array()) malformed(page, fmt::format("the components of '{}'", t.name));
    if (c->dump().size() > max_component_bytes) {
      malformed(page, fmt::format("the components of '{}' are too large", t.name));
    }
    t.components = *c;
  }
  return t;
}

[[noreturn]] void refused(const HttpResult& r) {
  if (r.status == 0) {
    throw Error(Exit::tempfail, fmt::format("could not reach the Graph API: {}", r.transport_error),
                "check the network, $WABACTL_GRAPH_URL or --graph-url, and try again");
  }
  MetaError e = parse_meta_error(r).value_or(MetaError{});
  Exit code = Exit::tempfail;
  switch (classify(e)) {
  case ErrorClass::credentials:
    code = Exit::credentials;
    break;
  case ErrorClass::permanent:
    code = Exit::rejected;
    break;
  case ErrorClass::retry:
  case ErrorClass::wait_day:
    break;
  }
  throw Error(code, "listing the templates failed: " + describe(e), advice_for(e));
}

} // namespace

TemplateSync sync_templates(Store& store, const SendTarget& target,
                            const TemplateSyncLimits& limits) {
  const Config& config = target.config;
  if (!config.business_account_id || config.business_account_id->empty()) {
    throw Error(Exit::not_configured,
                fmt::format("tenant '{}' has no WhatsApp Business Account id", config.tenant_id),
                fmt::format("set it with 'wabactl config set --tenant {} --phone-number-id {} "
                            "--business-account-id ID'",
                            config.tenant_id, config.phone_number_id));
  }
  const std::string base =
      fmt::format("{}/message_templates?fields={}&limit={}",
                  url_encode(*config.business_account_id), fields, limits.page_size);
  GraphClient client(target.graph);
  std::vector<Template> templates;
  std::string path = base;
  for (int page = 1;; ++page) {
    if (page > limits.max_pages) {
      throw Error(Exit::tempfail,
                  fmt::format("Meta's template listing goes on past {} pages: the stored "
                              "catalogue is kept as it was",
                              limits.max_pages));
    }
    HttpResult r = client.get(path);
    if (!r.ok()) refused(r);
    json body = json::parse(r.body, nullptr, false);
    if (!body.is_object()) malformed(page, "not a JSON object");
    auto data = body.find("data");
    if (data == body.end() || !data->is_array()) malformed(page, "no 'data' array");
    for (const auto& item : *data) templates.push_back(parse_template(item, page));
    if (templates.size() > limits.max_templates) {
      malformed(page, fmt::format("more than {} templates", limits.max_templates));
    }
    // Only a page that names a next one is followed, and only on our own Graph API: by its
    // `after` cursor on our path, or by `next` when it is a URL under our base and version.
    // A URL from an answer could point anywhere, and our token would go with it.
    auto paging = body.find("paging");
    if (paging == body.end() || !paging->is_object() || !paging->contains("next")) break;
    std::string after;
    if (auto cursors = paging->find("cursors"); cursors != paging->end() && cursors->is_object()) {
      after = opt_string(*cursors, "after", page).value_or("");
    }
    if (after.size() > max_cursor) malformed(page, "a cursor longer than 2048 bytes");
    if (!after.empty()) {
      path = base + "&after=" + url_encode(after);
      continue;
    }
    std::string next = opt_string(*paging, "next", page).value_or("");
    std::string ours = target.graph.base_url + "/" + target.graph.version + "/";
    if (next.size() > max_cursor + 1024 || next.rfind(ours, 0) != 0) {
      malformed(page, "a next page that is not on the Graph API's own address");
    }
    path = next.substr(ours.size());
  }
  std::string now = now_iso();
  std::size_t count = replace_templates(store, config.tenant_id, templates, now);
  return TemplateSync{now, count};
}

} // namespace wabactl
