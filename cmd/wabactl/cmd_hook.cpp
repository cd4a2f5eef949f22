// wabactl hook add | list | remove | test | deliveries: URLs the daemon forwards a tenant's
// events to (CONTRACT.md §13).
#include "wabactl/cli.hpp"
#include "wabactl/error.hpp"
#include "wabactl/hook_forwarder.hpp"
#include "wabactl/hooks.hpp"
#include "wabactl/identity.hpp"
#include "wabactl/tenants.hpp"

#include <fmt/format.h>

namespace wabactl::cli {
namespace {

struct AddOptions {
  std::string tenant;
  std::string url;
  std::vector<std::string> events;
  bool allow_private = false;
};

struct HookOptions {
  std::string tenant;
  std::string id;
};

struct DeliveriesOptions {
  std::string tenant;
  std::string id;
  bool failed = false;
  std::size_t limit = 50;
};

constexpr std::size_t max_deliveries_limit = 1000;

void check_tenant(Context& ctx, const std::string& tenant) {
  require_tenant_id(tenant);
  require_tenant(ctx.store(), tenant);
}

Hook hook_of(Context& ctx, const std::string& tenant, const std::string& id) {
  check_tenant(ctx, tenant);
  auto hook = find_hook(ctx.store(), tenant, id);
  if (!hook) {
    throw Error(Exit::not_found,
                fmt::format("tenant '{}' has no hook '{}'", tenant, id.substr(0, 64)),
                fmt::format("'wabactl hook list --tenant {}' lists them", tenant));
  }
  return *hook;
}

const char* state_name(HookState s) {
  return s == HookState::active ? "active" : "disabled";
}

void run_add(const AddOptions& o, Context& ctx) {
  check_hook_url(o.url, o.allow_private);
  auto events = o.events.empty() ? default_hook_events() : parse_hook_events(o.events);
  check_tenant(ctx, o.tenant);
  NewHook added = add_hook(ctx.store(), ctx.key(), o.tenant, o.url, events, o.allow_private);
  if (ctx.globals.json) {
    auto j = to_json(added.hook);
    j["secret"] = added.secret;
    ctx.print_json(j);
    return;
  }
  ctx.out << fmt::format("added hook {} for tenant '{}': {}\n", added.hook.id, o.tenant, o.url);
  ctx.out << fmt::format("events: {}\n", fmt::join(events, ", "));
  ctx.out << fmt::format("signing secret (shown this once): {}\n", added.secret);
}

void run_list(const HookOptions& o, Context& ctx) {
  check_tenant(ctx, o.tenant);
  auto hooks = list_hooks(ctx.store(), o.tenant);
  if (ctx.globals.json) {
    for (const auto& h : hooks) ctx.print_json(to_json(h));
    return;
  }
  if (hooks.empty()) {
    ctx.note(fmt::format("tenant '{}' has no hooks; add one with 'wabactl hook add'", o.tenant));
    return;
  }
  ctx.out << fmt::format("{:<16} {:<9} {:<20} {}\n", "ID", "STATE", "CREATED", "URL");
  for (const auto& h : hooks) {
    std::string state =
        h.state == HookState::active ? state_name(h.state) : ctx.paint(state_name(h.state), "31");
    ctx.out << fmt::format("{:<16} {:<9} {:<20} {}\n", h.id, state, h.created_at, h.url);
    ctx.out << fmt::format("{:<16} events: {}\n", "", fmt::join(h.events, ", "));
  }
}

void run_remove(const HookOptions& o, Context& ctx) {
  Hook h = hook_of(ctx, o.tenant, o.id);
  remove_hook(ctx.store(), o.tenant, h.id);
  if (ctx.globals.json) {
    ctx.print_json({{"id", h.id}, {"removed", true}});
    return;
  }
  ctx.note(fmt::format("removed hook {} ({})", h.id, h.url));
}

void run_test(const HookOptions& o, Context& ctx) {
  Hook h = hook_of(ctx, o.tenant, o.id);
  std::string secret = hook_secret(ctx.store(), ctx.key(), h);
  auto [event_id, body] = append_hook_test_event(ctx.store(), h);
  HookAnswer a = post_hook_now(h, secret, event_id, body);
  if (a.acknowledged && h.state == HookState::disabled) enable_hook(ctx.store(), h);
  if (ctx.globals.json) {
    ctx.print_json({{"id", h.id},
                    {"event_id", event_id},
                    {"acknowledged", a.acknowledged},
                    {"status", a.status ? nlohmann::json(*a.status) : nlohmann::json(nullptr)},
                    {"error", a.acknowledged ? nlohmann::json(nullptr) : nlohmann::json(a.error)},
                    {"answer", a.excerpt},
                    {"took_ms", a.took.count()},
                    {"state", a.acknowledged ? "active" : state_name(h.state)}});
  } else if (a.acknowledged) {
    ctx.out << fmt::format("{} acknowledged event {}: HTTP {} in {} ms{}\n", h.id, event_id,
                           a.status.value_or(0), a.took.count(),
                           a.excerpt.empty() ? "" : ": " + a.excerpt);
    if (h.state == HookState::disabled) ctx.note(fmt::format("hook {} is active again", h.id));
  }
  if (a.acknowledged) return;
  // An answer that is not a 2xx is the receiver's refusal; no answer at all may pass.
  throw Error(a.status ? Exit::rejected : Exit::tempfail,
              fmt::format("hook {} did not acknowledge event {}: {}", h.id, event_id, a.error),
              a.status ? "the receiver must answer 2xx within 10 s"
                       : "is the receiver running and reachable from this machine?");
}

void run_deliveries(const DeliveriesOptions& o, Context& ctx) {
  if (o.limit < 1 || o.limit > max_deliveries_limit) {
    throw Error(Exit::usage, fmt::format("--limit must be between 1 and {}", max_deliveries_limit));
  }
  Hook h = hook_of(ctx, o.tenant, o.id);
  auto list = list_hook_deliveries(ctx.store(), h, o.failed, o.limit);
  if (ctx.globals.json) {
    for (const auto& d : list) ctx.print_json(to_json(d));
    return;
  }
  if (list.empty()) {
    ctx.note(o.failed ? "no failed deliveries" : "no deliveries yet");
    return;
  }
  ctx.out << fmt::format("{:<10} {:<18} {:<12} {:>8} {:>6}  {}\n", "EVENT", "TYPE", "STATE",
                         "ATTEMPTS", "HTTP", "NEXT / LAST ERROR");
  for (const auto& d : list) {
    std::string state = to_string(d.state);
    const char* colour = d.state == DeliveryState::acknowledged ? "32"
                         : d.state == DeliveryState::failed     ? "31"
                                                                : "33";
    std::string tail = d.next_attempt_at ? "next " + *d.next_attempt_at : "";
    if (d.last_error) tail += (tail.empty() ? "" : ", ") + *d.last_error;
    ctx.out << fmt::format("{:<10} {:<18} {:<12} {:>8} {:>6}  {}\n", d.event_id, d.type,
                           ctx.paint(state, colour), d.attempts,
                           d.last_status ? std::to_string(*d.last_status) : "-", tail);
  }
}

} // namespace

void setup_hook(CLI::App& app, Context& ctx) {
  auto* hook = app.add_subcommand("hook", "forward a tenant's events to URLs, signed");
  hook->alias("hooks");
  hook->require_subcommand(1);

  auto add = std::make_shared<AddOptions>();
  auto* a = hook->add_subcommand("add", "register a URL; prints its signing secret once");
  a->add_option("--tenant", add->tenant, "tenant id")->required()->type_name("ID");
  a->add_option("--url", add->url, "where to POST events (http or https)")
      ->required()
      ->type_name("URL");
  a->add_option("--events", add->events,
                fmt::format("event types to forward, comma-separated (default: all but "
                            "unread.changed): {}",
                            fmt::join(hook_event_types(), ", ")))
      ->type_name("TYPE,...")
      ->delimiter(',');
  a->add_flag("--allow-private", add->allow_private,
              "allow a receiver on a loopback, private or link-local address");
  a->callback([add, &ctx] { run_add(*add, ctx); });

  auto list = std::make_shared<HookOptions>();
  auto* l = hook->add_subcommand("list", "list the tenant's hooks");
  l->add_option("--tenant", list->tenant, "tenant id")->required()->type_name("ID");
  l->callback([list, &ctx] { run_list(*list, ctx); });

  auto remove = std::make_shared<HookOptions>();
  auto* r = hook->add_subcommand("remove", "remove a hook and its deliveries");
  r->add_option("--tenant", remove->tenant, "tenant id")->required()->type_name("ID");
  r->add_option("id", remove->id, "the hook's id")->required()->type_name("HOOK_ID");
  r->callback([remove, &ctx] { run_remove(*remove, ctx); });

  auto test = std::make_shared<HookOptions>();
  auto* t = hook->add_subcommand("test", "send a hook.test event now and print the answer");
  t->add_option("--tenant", test->tenant, "tenant id")->required()->type_name("ID");
  t->add_option("id", test->id, "the hook's id")->required()->type_name("HOOK_ID");
  t->callback([test, &ctx] { run_test(*test, ctx); });

  auto deliveries = std::make_shared<DeliveriesOptions>();
  auto* d = hook->add_subcommand("deliveries", "list a hook's deliveries, newest first");
  d->add_option("--tenant", deliveries->tenant, "tenant id")->required()->type_name("ID");
  d->add_option("id", deliveries->id, "the hook's id")->required()->type_name("HOOK_ID");
  d->add_flag("--failed", deliveries->failed, "only deliveries given up");
  d->add_option("--limit", deliveries->limit, "at most this many (default 50)")->type_name("N");
  d->callback([deliveries, &ctx] { run_deliveries(*deliveries, ctx); });
}

} // namespace wabactl::cli
