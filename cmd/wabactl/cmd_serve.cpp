// wabactl serve
#include "wabactl/cli.hpp"
#include "wabactl/error.hpp"
#include "wabactl/log.hpp"
#include "wabactl/paths.hpp"
#include "wabactl/server.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>

namespace wabactl::cli {
namespace {

struct ServeFlags {
  std::string listen = "127.0.0.1:8080";
  std::optional<std::string> ws_listen;
  std::int64_t max_body = 3 * 1024 * 1024;
  std::int64_t threads = 32;
  std::int64_t max_streams = static_cast<std::int64_t>(default_max_streams);
  std::int64_t max_connections_per_address = 256;
  std::int64_t head_timeout = 10;
  std::int64_t media_workers = 4;
  std::vector<std::string> media_max;
};

std::size_t bounded(std::int64_t value, std::int64_t low, std::int64_t high, const char* flag) {
  if (value < low || value > high) {
    throw Error(Exit::usage, fmt::format("{} must be between {} and {}", flag, low, high));
  }
  return static_cast<std::size_t>(value);
}

void run_serve(const ServeFlags& f, Context& ctx) {
  ServeOptions o;
  o.listen = parse_listen_address(f.listen);
  if (f.ws_listen) o.ws_listen = parse_listen_address(*f.ws_listen);
  if (f.max_body < static_cast<std::int64_t>(min_max_body) ||
      f.max_body > static_cast<std::int64_t>(max_max_body)) {
    throw Error(Exit::usage, fmt::format("--max-body must be between {} and {} bytes", min_max_body,
                                         max_max_body));
  }
  o.max_body = static_cast<std::size_t>(f.max_body);
  if (f.threads < 1 || f.threads > static_cast<std::int64_t>(max_server_threads)) {
    throw Error(Exit::usage, fmt::format("--threads must be between 1 and {}", max_server_threads));
  }
  o.threads = static_cast<std::size_t>(f.threads);
  o.max_streams = bounded(f.max_streams, 1, 1'000'000, "--max-streams");
  o.max_connections_per_address =
      bounded(f.max_connections_per_address, 1, 1'000'000, "--max-connections-per-address");
  o.head_timeout = std::chrono::seconds(bounded(f.head_timeout, 1, 300, "--head-timeout"));
  o.media_workers =
      bounded(f.media_workers, 1, static_cast<std::int64_t>(max_media_workers), "--media-workers");
  for (const auto& spec : f.media_max) set_media_cap(o.media_caps, spec);
  o.db =
      resolve_db_path(ctx.globals.db.empty() ? std::nullopt
                                             : std::optional<std::filesystem::path>(ctx.globals.db))
          .path;
  o.key = ctx.key_options();
  o.fallback_secret = env("WHATSAPP_WEBHOOK_SECRET");
  // A daemon reports what it does: info by default, -q for errors and warnings only.
  log::configure(ctx.globals.verbose + 1 - 2 * ctx.globals.quiet);
  serve(o);
}

} // namespace

void setup_serve(CLI::App& app, Context& ctx) {
  auto* s = app.add_subcommand("serve", "run the webhook daemon (and the HTTP API)");
  auto f = std::make_shared<ServeFlags>();
  s->add_option("--listen", f->listen, "address to listen on (default 127.0.0.1:8080)")
      ->type_name("HOST:PORT");
  s->add_option("--ws-listen", f->ws_listen, "WebSocket address (default: listen port + 1)")
      ->type_name("HOST:PORT");
  s->add_option("--max-body", f->max_body, "largest request body in bytes (default 3 MiB)")
      ->type_name("BYTES");
  s->add_option("--threads", f->threads, "HTTP worker threads (default 32)")->type_name("N");
  s->add_option("--max-streams", f->max_streams,
                "live SSE and WebSocket streams at once (default 20000)")
      ->type_name("N");
  s->add_option("--max-connections-per-address", f->max_connections_per_address,
                "open HTTP connections per client address (default 256)")
      ->type_name("N");
  s->add_option("--head-timeout", f->head_timeout,
                "seconds a request head (then its body) may take to arrive (default 10)")
      ->type_name("SECONDS");
  s->add_option("--media-workers", f->media_workers, "inbound media downloads at once (default 4)")
      ->type_name("N");
  s->add_option("--media-max", f->media_max,
                "largest file kept for a media type, repeatable (defaults: image 5 MiB, sticker "
                "1 MiB, audio and video 16 MiB, document 100 MiB)")
      ->type_name("TYPE=BYTES")
      ->allow_extra_args(false);
  s->callback([f, &ctx] { run_serve(*f, ctx); });
}

} // namespace wabactl::cli
