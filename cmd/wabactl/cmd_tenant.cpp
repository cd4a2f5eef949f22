// wabactl tenant add | list | remove
#include "wabactl/cli.hpp"
#include "wabactl/error.hpp"
#include "wabactl/tenants.hpp"

#include <fmt/format.h>

namespace wabactl::cli {
namespace {

struct AddOptions {
  std::string id;
  std::optional<std::string> name;
};

struct RemoveOptions {
  std::string id;
  bool yes = false;
};

nlohmann::json to_json(const Tenant& t) {
  return {{"id", t.id},
          {"name", t.name ? nlohmann::json(*t.name) : nlohmann::json(nullptr)},
          {"created_at", t.created_at}};
}

void run_add(const AddOptions& o, Context& ctx) {
  Tenant t = add_tenant(ctx.store(), o.id, o.name);
  if (ctx.globals.json) {
    ctx.print_json(to_json(t));
  } else {
    ctx.out << fmt::format("added tenant {}\n", t.id);
  }
}

void run_list(Context& ctx) {
  auto tenants = list_tenants(ctx.store());
  if (ctx.globals.json) {
    for (const auto& t : tenants) ctx.print_json(to_json(t));
    return;
  }
  if (tenants.empty()) {
    ctx.note("no tenants yet: add one with 'wabactl tenant add ID'");
    return;
  }
  ctx.out << fmt::format("{:<24}  {:<20}  {}\n", "ID", "CREATED", "NAME");
  for (const auto& t : tenants) {
    ctx.out << fmt::format("{:<24}  {:<20}  {}\n", t.id, t.created_at, t.name.value_or(""));
  }
}

void run_remove(const RemoveOptions& o, Context& ctx) {
  if (!o.yes) {
    throw Error(Exit::usage,
                fmt::format("removing tenant '{}' deletes its config, messages and tokens", o.id),
                fmt::format("run 'wabactl tenant remove {} --yes' to confirm", o.id));
  }
  remove_tenant(ctx.store(), o.id);
  if (ctx.globals.json) {
    ctx.print_json({{"id", o.id}, {"removed", true}});
  } else {
    ctx.out << fmt::format("removed tenant {}\n", o.id);
  }
}

} // namespace

void setup_tenant(CLI::App& app, Context& ctx) {
  auto* tenant = app.add_subcommand("tenant", "add, list and remove tenants");
  tenant->require_subcommand(1);

  auto add = std::make_shared<AddOptions>();
  auto* a = tenant->add_subcommand("add", "add a tenant");
  a->add_option("ID", add->id, "tenant id: [a-z0-9][a-z0-9_-]{0,63}")->required();
  a->add_option("--name", add->name, "display name")->type_name("NAME");
  a->callback([add, &ctx] { run_add(*add, ctx); });

  auto* l = tenant->add_subcommand("list", "list tenants");
  l->callback([&ctx] { run_list(ctx); });

  auto remove = std::make_shared<RemoveOptions>();
  auto* r = tenant->add_subcommand("remove", "remove a tenant and everything it owns");
  r->add_option("ID", remove->id, "tenant id")->required();
  r->add_flag("--yes", remove->yes, "confirm the removal");
  r->callback([remove, &ctx] { run_remove(*remove, ctx); });
}

} // namespace wabactl::cli
