// wabactl media get | list | prune
#include "wabactl/cli.hpp"
#include "wabactl/error.hpp"
#include "wabactl/identity.hpp"
#include "wabactl/media_fetch.hpp"
#include "wabactl/media_index.hpp"
#include "wabactl/tenants.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>

#include <charconv>
#include <filesystem>

namespace wabactl::cli {
namespace {

struct GetOptions {
  std::string tenant;
  std::string id;
  std::optional<std::string> output;
  bool force = false;
  std::vector<std::string> media_max;
};

struct ListOptions {
  std::string tenant;
  std::optional<std::string> state;
  std::int64_t limit = 100;
};

struct PruneOptions {
  std::string tenant;
  std::string older_than; // parsed here: CLI11 reads "" as 0 days, which would prune all
};

constexpr std::size_t max_id_length = 512;
constexpr std::int64_t max_prune_days = 36500;

void check_tenant(Context& ctx, const std::string& tenant) {
  require_tenant_id(tenant);
  require_tenant(ctx.store(), tenant);
}

std::string format_size(std::int64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  if (bytes < 1024 * 1024) return fmt::format("{:.1f} KiB", static_cast<double>(bytes) / 1024);
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

nlohmann::json opt_json(const std::optional<std::string>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

// The message's media, stored (a pending one is fetched from Meta now, as `serve` would), or
// the error a user can act on: not found (another tenant's id answers the same), still
// pending (exit 75: another process is fetching it, or Meta failed for now), failed (its
// reason).
Message stored_media(Context& ctx, const GetOptions& o) {
  auto m = find_media(ctx.store(), o.tenant, o.id);
  if (!m) {
    bool exists = find_message(ctx.store(), o.tenant, o.id).has_value();
    throw Error(
        Exit::not_found,
        exists ? fmt::format("message {} has no media kept (a text, or media sent as a link)", o.id)
               : fmt::format("no message {} for tenant '{}'", o.id, o.tenant),
        exists ? "" : fmt::format("see 'wabactl media list --tenant {}'", o.tenant));
  }
  const MessageMedia& media = *m->media;
  if (media.state == media_state_pending) {
    MediaCaps caps;
    for (const auto& spec : o.media_max) set_media_cap(caps, spec);
    return fetch_media_now(ctx.store(), ctx.key(), o.tenant, m->id, caps);
  }
  if (media.state != media_state_stored || !media.sha256) {
    throw Error(Exit::not_found, fmt::format("the media of message {} could not be kept: {}", o.id,
                                             media.error.value_or("no reason recorded")));
  }
  return *m;
}

void run_get(const GetOptions& o, Context& ctx) {
  require_tenant_id(o.tenant);
  if (trim(o.id).empty() || o.id.size() > max_id_length) {
    throw Error(Exit::usage, fmt::format("a message id is 1 to {} characters", max_id_length));
  }
  if (o.output && o.output->empty())
    throw Error(Exit::usage, "-o needs a file name, or - for stdout");
  if (o.output && *o.output == "-" && o.force) {
    throw Error(Exit::usage, "--force replaces a file; drop it with -o -");
  }
  check_tenant(ctx, o.tenant);
  Message m = stored_media(ctx, o);
  const std::string& sha = *m.media->sha256;
  if (o.output && *o.output == "-") {
    MediaReader reader(ctx.store(), sha);
    reader.copy_to(ctx.out, 0, reader.size());
    return;
  }
  std::filesystem::path path = o.output ? std::filesystem::path(*o.output) : ".";
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) path /= media_download_name(m);
  export_media(ctx.store(), sha, path, o.force);
  std::int64_t size = m.media->size.value_or(0);
  if (ctx.globals.json) {
    ctx.print_json({{"id", std::to_string(m.id)},
                    {"path", path.string()},
                    {"size", size},
                    {"sha256", sha},
                    {"mime_type", opt_json(m.media->mime_type)}});
    return;
  }
  ctx.out << path.string() << '\n';
  ctx.note(fmt::format("wrote {} of message {} ({})", format_size(size), m.id,
                       m.media->mime_type.value_or("unknown type")));
}

void run_list(const ListOptions& o, Context& ctx) {
  require_tenant_id(o.tenant);
  if (o.state && !is_media_state(*o.state)) {
    throw Error(Exit::usage, "--state must be pending, stored or failed");
  }
  if (o.limit < 1 || o.limit > static_cast<std::int64_t>(max_media_list_limit)) {
    throw Error(Exit::usage, fmt::format("--limit must be between 1 and {}", max_media_list_limit));
  }
  check_tenant(ctx, o.tenant);
  auto rows = list_media(ctx.store(), o.tenant, {o.state, static_cast<std::size_t>(o.limit)});
  if (ctx.globals.json) {
    for (const auto& m : rows) ctx.out << to_json_text(m) << '\n';
    return;
  }
  if (rows.empty()) {
    ctx.note("no media");
    return;
  }
  constexpr const char* row = "{:>8}  {:<20}  {:<3}  {:<20}  {:<8}  {:<7}  {:>10}  {}\n";
  ctx.out << fmt::format(row, "ID", "TIME", "DIR", "PEER", "TYPE", "STATE", "SIZE", "NAME");
  for (const auto& m : rows) {
    const MessageMedia& media = *m.media;
    std::string peer = m.phone_number ? "+" + *m.phone_number : m.user_id.value_or("-");
    std::string size = media.size ? format_size(*media.size) : "-";
    std::string what =
        media.state == media_state_failed ? media.error.value_or("failed") : media_download_name(m);
    ctx.out << fmt::format(row, m.id, m.timestamp, m.direction == "incoming" ? "in" : "out", peer,
                           m.type, media.state, size, what);
  }
}

void run_prune(const PruneOptions& o, Context& ctx) {
  require_tenant_id(o.tenant);
  std::int64_t days = -1;
  const char* end = o.older_than.data() + o.older_than.size();
  auto [stop, ec] = std::from_chars(o.older_than.data(), end, days);
  if (o.older_than.empty() || ec != std::errc() || stop != end || days < 0 ||
      days > max_prune_days) {
    throw Error(Exit::usage,
                fmt::format("--older-than must be a number of days from 0 to {}", max_prune_days));
  }
  check_tenant(ctx, o.tenant);
  std::string cutoff = iso_from_unix(now_ms() / 1000 - days * 86400);
  std::string today = now_iso().substr(0, 10);
  MediaPruneResult r = prune_media(ctx.store(), o.tenant, cutoff, today);
  if (ctx.globals.json) {
    ctx.print_json({{"tenant_id", o.tenant},
                    {"before", cutoff},
                    {"messages", r.messages},
                    {"files", r.files},
                    {"bytes", r.bytes},
                    {"shared", r.shared}});
    return;
  }
  ctx.out << fmt::format("pruned the media of {} message{} before {}: removed {} file{}, freed {}",
                         r.messages, r.messages == 1 ? "" : "s", cutoff, r.files,
                         r.files == 1 ? "" : "s", format_size(r.bytes));
  if (r.shared > 0) {
    ctx.out << fmt::format(" ({} file{} kept: newer messages show the same bytes)", r.shared,
                           r.shared == 1 ? "" : "s");
  }
  ctx.out << '\n';
}

} // namespace

void setup_media(CLI::App& app, Context& ctx) {
  auto* media = app.add_subcommand("media", "get, list and prune the photos, voice notes and "
                                            "documents kept");
  media->require_subcommand(1);

  auto get = std::make_shared<GetOptions>();
  auto* g = media->add_subcommand("get", "write a message's media to a file or stdout");
  g->add_option("--tenant", get->tenant, "tenant id")->required()->type_name("ID");
  g->add_option("message_id", get->id, "local id or wamid")->required()->type_name("MESSAGE_ID");
  g->add_option("-o,--output", get->output,
                "the file to write (default: the media's own name in the current folder; a "
                "folder: that name in it), or - for stdout")
      ->type_name("FILE");
  g->add_flag("--force", get->force, "replace an existing file");
  g->add_option("--media-max", get->media_max,
                "largest file fetched for a media type, repeatable (as for 'wabactl serve')")
      ->type_name("TYPE=BYTES")
      ->allow_extra_args(false);
  g->callback([get, &ctx] { run_get(*get, ctx); });

  auto list = std::make_shared<ListOptions>();
  auto* l = media->add_subcommand("list", "list a tenant's messages with media, newest first");
  l->add_option("--tenant", list->tenant, "tenant id")->required()->type_name("ID");
  l->add_option("--state", list->state, "only media in this state")
      ->type_name("pending|stored|failed");
  l->add_option("--limit", list->limit, "at most N messages (default 100, max 1000)")
      ->type_name("N");
  l->callback([list, &ctx] { run_list(*list, ctx); });

  auto prune = std::make_shared<PruneOptions>();
  auto* p = media->add_subcommand("prune", "remove the stored bytes of older messages (the "
                                           "messages stay)");
  p->add_option("--tenant", prune->tenant, "tenant id")->required()->type_name("ID");
  p->add_option("--older-than", prune->older_than, "messages older than this many days")
      ->required()
      ->type_name("DAYS");
  p->callback([prune, &ctx] { run_prune(*prune, ctx); });
}

} // namespace wabactl::cli
