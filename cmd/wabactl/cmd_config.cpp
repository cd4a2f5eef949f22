// wabactl config set | get | list | delete | test
#include "wabactl/cli.hpp"
#include "wabactl/config_service.hpp"
#include "wabactl/error.hpp"
#include "wabactl/identity.hpp"
#include "wabactl/tenants.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>

namespace wabactl::cli {
namespace {

struct SetOptions {
  std::string tenant;
  std::string phone_number_id;
  std::optional<std::string> access_token_file;
  bool access_token_stdin = false;
  std::optional<std::string> app_secret_file;
  bool app_secret_stdin = false;
  std::optional<std::string> business_account_id;
  std::optional<std::string> verify_token;
  std::optional<std::string> api_version;
  std::optional<std::string> graph_url;
  bool active = false;
  bool inactive = false;
  bool no_test = false;
};

struct TenantOptions {
  std::string tenant;
  bool show_secrets = false;
};

std::string human_value(const nlohmann::json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  return v.dump();
}

void print_config(Context& ctx, const nlohmann::json& j) {
  if (ctx.globals.json) {
    ctx.print_json(j);
    return;
  }
  std::vector<std::pair<std::string, std::string>> rows;
  for (const char* k : {"tenant_id", "phone_number_id", "business_account_id", "api_version",
                        "graph_url", "is_active", "needs_reauth", "access_token", "app_secret",
                        "verify_token", "created_at", "updated_at"}) {
    rows.emplace_back(k, human_value(j.at(k)));
  }
  ctx.out << format_fields(rows);
}

void run_set(const SetOptions& o, Context& ctx) {
  require_tenant_id(o.tenant);
  if (o.active && o.inactive) {
    throw Error(Exit::usage, "--active and --inactive exclude each other");
  }
  if (o.access_token_stdin && o.app_secret_stdin) {
    throw Error(Exit::usage, "only one secret can come from stdin",
                "pass the other with --access-token-file or --app-secret-file");
  }
  for (const auto& [file, flag] : {std::pair{&o.access_token_file, "--access-token-file"},
                                   std::pair{&o.app_secret_file, "--app-secret-file"}}) {
    if (file->has_value() && (*file)->empty()) {
      throw Error(Exit::usage, fmt::format("{} needs a file name", flag));
    }
  }
  ConfigUpdate u;
  u.tenant_id = o.tenant;
  u.phone_number_id = o.phone_number_id;
  u.business_account_id = o.business_account_id;
  u.verify_token = o.verify_token;
  u.api_version = o.api_version;
  u.graph_url = o.graph_url;
  if (o.active) u.is_active = true;
  if (o.inactive) u.is_active = false;
  // Check the tenant before reading stdin, so a typo does not swallow a pasted token.
  require_tenant(ctx.store(), o.tenant);
  u.access_token = read_secret(o.access_token_file.value_or(""), o.access_token_stdin,
                               "WABA_ACCESS_TOKEN", "access token");
  u.app_secret = read_secret(o.app_secret_file.value_or(""), o.app_secret_stdin, "WABA_APP_SECRET",
                             "app secret");
  auto result =
      set_config(ctx.store(), ctx.key(), u, o.no_test ? CredentialTest::skip : CredentialTest::run);
  if (!result.warning.empty()) ctx.warn(result.warning);
  auto secrets = open_secrets(result.config, ctx.key());
  if (ctx.globals.json) {
    ctx.print_json(config_json(result.config, secrets, false));
    return;
  }
  ctx.out << fmt::format("saved config for tenant {} (phone number id {})\n", o.tenant,
                         result.config.phone_number_id);
  if (result.info) {
    ctx.out << fmt::format("verified: {} {} (quality {})\n", result.info->verified_name,
                           result.info->display_phone_number,
                           result.info->quality_rating.empty() ? "unknown"
                                                               : result.info->quality_rating);
  }
}

void run_get(const TenantOptions& o, Context& ctx) {
  require_tenant(ctx.store(), o.tenant);
  Config c = require_config(ctx.store(), o.tenant);
  print_config(ctx, config_json(c, open_secrets(c, ctx.key()), o.show_secrets));
}

void run_list(Context& ctx) {
  auto configs = list_configs(ctx.store());
  if (configs.empty()) {
    if (!ctx.globals.json) ctx.note("no WhatsApp configs yet: add one with 'wabactl config set'");
    return;
  }
  // The table shows metadata only, so it needs no key; JSON carries the masked secrets.
  if (ctx.globals.json) {
    const MasterKey& key = ctx.key();
    for (const auto& c : configs) ctx.print_json(config_json(c, open_secrets(c, key), false));
    return;
  }
  ctx.out << fmt::format("{:<24}  {:<20}  {:<8}  {:<8}  {:<7}  {}\n", "TENANT", "PHONE NUMBER ID",
                         "ACTIVE", "VERSION", "REAUTH", "UPDATED");
  for (const auto& c : configs) {
    // Padded before it is painted: escape codes have no width.
    std::string reauth = fmt::format("{:<7}", c.needs_reauth ? "NEEDED" : "no");
    if (c.needs_reauth) reauth = ctx.paint(reauth, "1;31");
    ctx.out << fmt::format("{:<24}  {:<20}  {:<8}  {:<8}  {}  {}\n", c.tenant_id, c.phone_number_id,
                           c.is_active ? "yes" : "no", effective_api_version(c), reauth,
                           c.updated_at);
  }
}

void run_delete(const TenantOptions& o, Context& ctx) {
  require_tenant(ctx.store(), o.tenant);
  delete_config(ctx.store(), o.tenant);
  if (ctx.globals.json) {
    ctx.print_json({{"tenant_id", o.tenant}, {"deleted", true}});
  } else {
    ctx.out << fmt::format("deleted the WhatsApp config of tenant {}\n", o.tenant);
  }
}

void run_test(const TenantOptions& o, Context& ctx) {
  PhoneNumberInfo info = test_config(ctx.store(), ctx.key(), o.tenant);
  if (ctx.globals.json) {
    ctx.print_json({{"tenant_id", o.tenant},
                    {"phone_number_id", info.id},
                    {"verified_name", info.verified_name},
                    {"display_phone_number", info.display_phone_number},
                    {"quality_rating", info.quality_rating}});
    return;
  }
  ctx.out << format_fields({{"verified_name", info.verified_name},
                            {"display_phone_number", info.display_phone_number},
                            {"quality_rating", info.quality_rating}});
}

void add_tenant_option(CLI::App* app, std::string& target) {
  app->add_option("--tenant", target, "tenant id")->required()->type_name("ID");
}

} // namespace

void setup_config(CLI::App& app, Context& ctx) {
  auto* config = app.add_subcommand("config", "set, show, test and delete WhatsApp configs");
  config->require_subcommand(1);

  auto set = std::make_shared<SetOptions>();
  auto* s = config->add_subcommand("set", "create or replace a tenant's WhatsApp config");
  add_tenant_option(s, set->tenant);
  s->add_option("--phone-number-id", set->phone_number_id, "Meta's phone number id")
      ->required()
      ->type_name("N");
  auto* atf = s->add_option("--access-token-file", set->access_token_file,
                            "read the access token from FILE")
                  ->type_name("F");
  auto* ats = s->add_flag("--access-token-stdin", set->access_token_stdin,
                          "read the access token from stdin");
  atf->excludes(ats);
  auto* asf =
      s->add_option("--app-secret-file", set->app_secret_file, "read the app secret from FILE")
          ->type_name("F");
  auto* ass =
      s->add_flag("--app-secret-stdin", set->app_secret_stdin, "read the app secret from stdin");
  asf->excludes(ass);
  // Secrets on argv would show in ps and shell history: these hidden options exist only to
  // say so clearly instead of "unexpected argument".
  for (const char* name : {"--access-token", "--app-secret"}) {
    s->add_option_function<std::string>(name, [name](const std::string&) {
       throw Error(Exit::usage,
                   fmt::format("{} is refused: secrets are never taken from the command line "
                               "(they would show in ps and shell history)",
                               name),
                   fmt::format("use {0}-file FILE, {0}-stdin, or ${1}", name,
                               std::string_view(name) == "--access-token" ? "WABA_ACCESS_TOKEN"
                                                                          : "WABA_APP_SECRET"));
     })->group("");
  }
  s->add_option("--business-account-id", set->business_account_id, "WhatsApp Business Account id")
      ->type_name("B");
  s->add_option("--verify-token", set->verify_token, "webhook verify token")->type_name("T");
  s->add_option("--api-version", set->api_version, "Graph API version, e.g. v25.0")
      ->type_name("vNN.N");
  s->add_option("--graph-url", set->graph_url, "Graph API base URL")->type_name("URL");
  auto* act = s->add_flag("--active", set->active, "use this config (default)");
  auto* inact = s->add_flag("--inactive", set->inactive, "keep the config but do not use it");
  act->excludes(inact);
  s->add_flag("--no-test", set->no_test, "save without testing the credentials against Meta");
  s->callback([set, &ctx] { run_set(*set, ctx); });

  auto get = std::make_shared<TenantOptions>();
  auto* g = config->add_subcommand("get", "show a tenant's config, secrets masked");
  add_tenant_option(g, get->tenant);
  g->add_flag("--show-secrets", get->show_secrets, "show secrets unmasked");
  g->callback([get, &ctx] { run_get(*get, ctx); });

  auto* l = config->add_subcommand("list", "list every tenant's config");
  l->callback([&ctx] { run_list(ctx); });

  auto del = std::make_shared<TenantOptions>();
  auto* d = config->add_subcommand("delete", "delete a tenant's config");
  add_tenant_option(d, del->tenant);
  d->callback([del, &ctx] { run_delete(*del, ctx); });

  auto test = std::make_shared<TenantOptions>();
  auto* t = config->add_subcommand("test", "test a tenant's credentials against Meta");
  add_tenant_option(t, test->tenant);
  t->callback([test, &ctx] { run_test(*test, ctx); });
}

} // namespace wabactl::cli
