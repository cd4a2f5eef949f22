// wabactl template sync | list | show: the tenant's catalogue of message templates
#include "wabactl/cli.hpp"
#include "wabactl/error.hpp"
#include "wabactl/send.hpp"
#include "wabactl/template_check.hpp"
#include "wabactl/templates.hpp"
#include "wabactl/tenants.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>

#include <set>

namespace wabactl::cli {
namespace {

struct SyncOptions {
  std::string tenant;
};

struct ListOptions {
  std::string tenant;
  std::optional<std::string> status;
};

struct ShowOptions {
  std::string tenant;
  std::string name;
  std::string lang;
};

const std::set<std::string>& statuses() {
  static const std::set<std::string> s = {"APPROVED", "PENDING",   "REJECTED", "PAUSED",
                                          "DISABLED", "IN_APPEAL", "DELETED",  "LIMIT_EXCEEDED"};
  return s;
}

void check_tenant(Context& ctx, const std::string& tenant) {
  require_tenant_id(tenant);
  require_tenant(ctx.store(), tenant);
}

void run_sync(const SyncOptions& o, Context& ctx) {
  check_tenant(ctx, o.tenant);
  auto target = send_target(
      ctx.store(), [&ctx]() -> const MasterKey& { return ctx.key(); }, o.tenant);
  if (!target) {
    throw Error(Exit::not_configured,
                fmt::format("tenant '{}' has no active WhatsApp config: nothing to sync", o.tenant),
                fmt::format("set one with 'wabactl config set --tenant {} ...'", o.tenant));
  }
  TemplateSync s = sync_templates(ctx.store(), *target);
  if (ctx.globals.json) {
    ctx.print_json({{"tenant_id", o.tenant}, {"count", s.count}, {"synced_at", s.synced_at}});
    return;
  }
  ctx.out << fmt::format("synced {} template{} for tenant '{}'\n", s.count, s.count == 1 ? "" : "s",
                         o.tenant);
}

void run_list(const ListOptions& o, Context& ctx) {
  std::optional<std::string> status;
  if (o.status) {
    std::string upper;
    for (char c : *o.status)
      upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (statuses().count(upper) == 0) {
      throw Error(Exit::usage, fmt::format("--status takes one of {}, not '{}'",
                                           fmt::join(statuses(), ", "), o.status->substr(0, 32)));
    }
    status = upper;
  }
  check_tenant(ctx, o.tenant);
  auto list = list_templates(ctx.store(), o.tenant, status);
  auto sync = template_sync(ctx.store(), o.tenant);
  if (ctx.globals.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& t : list) out.push_back(template_summary_json(t));
    ctx.print_json(out);
  } else {
    if (!list.empty()) {
      ctx.out << fmt::format("{:<32}  {:<8}  {:<14}  {:<10}  {}\n", "NAME", "LANGUAGE", "CATEGORY",
                             "STATUS", "PARAMETERS");
    }
    for (const auto& t : list) {
      auto j = template_summary_json(t);
      std::vector<std::string> params;
      for (const auto& p : j["parameters"]) params.push_back("{{" + p.get<std::string>() + "}}");
      ctx.out << fmt::format("{:<32}  {:<8}  {:<14}  {:<10}  {}\n", t.name, t.language,
                             t.category.value_or("-"), t.status,
                             params.empty() ? "-" : fmt::format("{}", fmt::join(params, " ")));
    }
  }
  if (!sync) {
    ctx.warn(fmt::format("tenant '{}' has never synced its templates: run 'wabactl template "
                         "sync --tenant {}'",
                         o.tenant, o.tenant));
  } else if (list.empty() && !ctx.globals.json) {
    ctx.note(fmt::format("no templates{} (synced {})",
                         status ? " with status " + *status : std::string(), sync->synced_at));
  }
}

std::string placeholder_lines(const std::vector<Placeholder>& ps) {
  std::string out;
  for (const auto& p : ps) {
    out += fmt::format("    {{{{{}}}}}{}\n", p.name,
                       p.example.empty() ? std::string() : "  e.g. " + p.example);
  }
  return out;
}

nlohmann::json placeholder_json(const std::vector<Placeholder>& ps) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : ps) {
    out.push_back(
        {{"name", p.name},
         {"example", p.example.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.example)}});
  }
  return out;
}

const char* takes(const TemplateButton& b) {
  switch (b.takes) {
  case TemplateButton::Takes::text:
    return "text";
  case TemplateButton::Takes::coupon_code:
    return "coupon_code";
  case TemplateButton::Takes::payload:
    return "payload";
  case TemplateButton::Takes::nothing:
    break;
  }
  return nullptr;
}

void run_show(const ShowOptions& o, Context& ctx) {
  check_tenant(ctx, o.tenant);
  auto t = find_template(ctx.store(), o.tenant, o.name, o.lang);
  if (!t) {
    throw Error(
        Exit::not_found,
        fmt::format("tenant '{}' has no template {} ({})", o.tenant, o.name.substr(0, 512),
                    o.lang.substr(0, 15)),
        fmt::format("'wabactl template list --tenant {}' lists the synced catalogue", o.tenant));
  }
  TemplateModel m = template_model(*t);
  std::string example = example_send(o.tenant, *t, m);
  if (ctx.globals.json) {
    nlohmann::json j = to_json(*t);
    nlohmann::json buttons = nlohmann::json::array();
    for (const auto& b : m.buttons) {
      const char* what = takes(b);
      buttons.push_back({{"index", b.index},
                         {"type", b.type},
                         {"text", b.text},
                         {"takes", what ? nlohmann::json(what) : nlohmann::json(nullptr)}});
    }
    j["header_format"] =
        m.header_format.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.header_format);
    j["placeholders"] = {{"header", placeholder_json(m.header_params)},
                         {"body", placeholder_json(m.body_params)}};
    j["buttons"] = buttons;
    j["unknown_components"] = m.unknown_components;
    j["example"] = example;
    ctx.print_json(j);
    return;
  }
  std::string out =
      fmt::format("{} ({})  {}  {}{}\n", t->name, t->language, t->category.value_or("-"), t->status,
                  t->quality ? "  quality " + *t->quality : std::string());
  out += fmt::format("parameters: {}\n", m.named ? "named" : "positional");
  if (m.header_format.empty()) {
    out += "header: none\n";
  } else {
    out += fmt::format("header: {}{}\n", m.header_format,
                       m.header_text.empty() ? std::string() : " \"" + m.header_text + "\"");
    out += placeholder_lines(m.header_params);
  }
  out += fmt::format("body: \"{}\"\n", m.body_text);
  out += placeholder_lines(m.body_params);
  if (m.footer) out += fmt::format("footer: \"{}\"\n", *m.footer);
  for (const auto& b : m.buttons) {
    const char* what = takes(b);
    out += fmt::format("button {}: {} \"{}\"{}{}\n", b.index, b.type, b.text,
                       b.url.empty() ? std::string() : " " + b.url,
                       what ? fmt::format(" (takes a {})", what) : std::string());
  }
  for (const auto& c : m.unknown_components) {
    out += fmt::format("component {}: not checked by this wabactl\n", c);
  }
  out += fmt::format("example:\n  {}\n", example);
  ctx.out << out;
}

} // namespace

void setup_template(CLI::App& app, Context& ctx) {
  auto* tpl = app.add_subcommand("template", "sync, list and show a tenant's message templates");
  tpl->alias("templates");
  tpl->require_subcommand(1);

  auto sync = std::make_shared<SyncOptions>();
  auto* s = tpl->add_subcommand("sync", "pull the tenant's whole template catalogue from Meta");
  s->add_option("--tenant", sync->tenant, "tenant id")->required()->type_name("ID");
  s->callback([sync, &ctx] { run_sync(*sync, ctx); });

  auto list = std::make_shared<ListOptions>();
  auto* l = tpl->add_subcommand("list", "list the synced templates by name and language");
  l->add_option("--tenant", list->tenant, "tenant id")->required()->type_name("ID");
  l->add_option("--status", list->status, "only templates with this status")
      ->type_name("APPROVED|PENDING|REJECTED|PAUSED|DISABLED");
  l->callback([list, &ctx] { run_list(*list, ctx); });

  auto show = std::make_shared<ShowOptions>();
  auto* w = tpl->add_subcommand("show", "show a template's components, placeholders and an "
                                        "example send");
  w->add_option("--tenant", show->tenant, "tenant id")->required()->type_name("ID");
  w->add_option("name", show->name, "the template's name")->required()->type_name("NAME");
  w->add_option("--lang", show->lang, "its language code (en_US)")->required()->type_name("CODE");
  w->callback([show, &ctx] { run_show(*show, ctx); });
}

} // namespace wabactl::cli
