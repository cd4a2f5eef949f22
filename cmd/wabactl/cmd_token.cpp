// wabactl token create | list | revoke
#include "wabactl/cli.hpp"
#include "wabactl/error.hpp"
#include "wabactl/identity.hpp"
#include "wabactl/tokens.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>

namespace wabactl::cli {
namespace {

struct CreateOptions {
  std::string tenant;
  std::optional<std::string> label;
};

struct ListOptions {
  std::string tenant;
};

struct RevokeOptions {
  std::string tenant;
  std::string token_id;
};

nlohmann::json opt_json(const std::optional<std::string>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json to_json(const ApiToken& t) {
  return {{"id", t.id},
          {"tenant_id", t.tenant_id},
          {"label", opt_json(t.label)},
          {"created_at", t.created_at},
          {"last_used_at", opt_json(t.last_used_at)},
          {"revoked_at", opt_json(t.revoked_at)},
          {"revoked", t.revoked_at.has_value()}};
}

void run_create(const CreateOptions& o, Context& ctx) {
  require_tenant_id(o.tenant);
  CreatedToken c = create_token(ctx.store(), o.tenant, o.label);
  if (ctx.globals.json) {
    ctx.print_json({{"id", c.record.id},
                    {"tenant_id", c.record.tenant_id},
                    {"label", opt_json(c.record.label)},
                    {"token", c.token},
                    {"created_at", c.record.created_at}});
    return;
  }
  ctx.out << c.token << '\n';
  ctx.note(fmt::format("created token {} for tenant {}: it is shown only this once; send it as "
                       "'Authorization: Bearer <token>'",
                       c.record.id, o.tenant));
}

void run_list(const ListOptions& o, Context& ctx) {
  require_tenant_id(o.tenant);
  auto tokens = list_tokens(ctx.store(), o.tenant);
  if (ctx.globals.json) {
    for (const auto& t : tokens) ctx.print_json(to_json(t));
    return;
  }
  if (tokens.empty()) {
    ctx.note(fmt::format("tenant {} has no tokens: create one with 'wabactl token create "
                         "--tenant {}'",
                         o.tenant, o.tenant));
    return;
  }
  constexpr const char* row = "{:<16}  {:<20}  {:<20}  {:<20}  {}\n";
  ctx.out << fmt::format(row, "ID", "CREATED", "LAST USED", "REVOKED", "LABEL");
  for (const auto& t : tokens) {
    ctx.out << fmt::format(row, t.id, t.created_at, t.last_used_at.value_or("never"),
                           t.revoked_at.value_or("-"), t.label.value_or(""));
  }
}

void run_revoke(const RevokeOptions& o, Context& ctx) {
  require_tenant_id(o.tenant);
  ApiToken t = revoke_token(ctx.store(), o.tenant, o.token_id);
  if (ctx.globals.json) {
    ctx.print_json(to_json(t));
  } else {
    ctx.out << fmt::format("revoked token {} of tenant {}\n", t.id, t.tenant_id);
  }
}

} // namespace

void setup_token(CLI::App& app, Context& ctx) {
  auto* token = app.add_subcommand("token", "create, list and revoke API tokens of a tenant");
  token->require_subcommand(1);

  auto create = std::make_shared<CreateOptions>();
  auto* c = token->add_subcommand("create", "create a bearer token (printed once)");
  c->add_option("--tenant", create->tenant, "tenant id")->required()->type_name("ID");
  c->add_option("--label", create->label, "a label to recognise the token by")->type_name("L");
  c->callback([create, &ctx] { run_create(*create, ctx); });

  auto list = std::make_shared<ListOptions>();
  auto* l = token->add_subcommand("list", "list a tenant's tokens (never the tokens themselves)");
  l->add_option("--tenant", list->tenant, "tenant id")->required()->type_name("ID");
  l->callback([list, &ctx] { run_list(*list, ctx); });

  auto revoke = std::make_shared<RevokeOptions>();
  auto* r = token->add_subcommand("revoke", "revoke a token");
  r->add_option("--tenant", revoke->tenant, "tenant id")->required()->type_name("ID");
  r->add_option("TOKEN_ID", revoke->token_id, "token id (see 'token list')")->required();
  r->callback([revoke, &ctx] { run_revoke(*revoke, ctx); });
}

} // namespace wabactl::cli
