#include "server/streams.hpp"

#include "server/sse.hpp"
#include "server/websocket.hpp"
#include "wabactl/error.hpp"
#include "wabactl/log.hpp"

#include <sys/resource.h>

namespace wabactl::server {
namespace {

using namespace std::chrono_literals;

ListenAddress websocket_address(const ServeOptions& o) {
  if (o.ws_listen) return *o.ws_listen;
  if (o.listen.port == 0) return {o.listen.host, 0};
  if (o.listen.port >= 65535) {
    throw Error(Exit::usage, "the HTTP port is 65535: give the WebSocket port with --ws-listen");
  }
  return {o.listen.host, o.listen.port + 1};
}

// Streams hold a descriptor each: use the hard limit, not the (often 1024) soft one.
void raise_descriptor_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
  }
}

EventHubOptions hub_options(const Context& ctx) {
  EventHubOptions o;
  o.db = ctx.options.db;
  o.poll_interval = 100ms;
  return o;
}

} // namespace

Streams::Streams(Context& ctx)
    : ctx_(ctx), hub_(hub_options(ctx)), slots_(ctx.options.max_streams) {}

Streams::~Streams() = default;

std::shared_ptr<Streams> Streams::start(Context& ctx) {
  raise_descriptor_limit();
  std::shared_ptr<Streams> streams(new Streams(ctx));
  streams->hub_.start();

  ws::ServerOptions wo;
  ListenAddress addr = websocket_address(ctx.options);
  wo.host = addr.host;
  wo.port = addr.port;
  wo.db = ctx.options.db;
  wo.clients_gauge = &ctx.metrics.ws_clients;
  wo.sse_gauge = &ctx.metrics.sse_clients;
  wo.slots = &streams->slots_;
  wo.limiter = &ctx.limiter;
  wo.on_refusal = [&ctx](int status, std::string_view why, const std::string& address,
                         std::string_view detail) {
    ctx.refusals.refuse("stream", why, status, address, detail);
  };
  // A stream costs a descriptor and its buffers, not a thread: allow many (handshakes
  // included), and bound the worst case of full write buffers by --max-streams.
  wo.max_connections = ctx.options.max_streams + 1024;
  wo.write_buffer_cap = 256 * 1024;
  streams->websocket_ = std::make_unique<ws::WebSocketServer>(wo, streams->hub_);
  try {
    streams->websocket_->start();
  } catch (...) {
    streams->hub_.stop();
    throw;
  }
  LOG_INFO("WebSocket listening on ws://{}:{}{}", wo.host, streams->websocket_->port(), wo.path);

  ctx.writer.on_commit([weak = std::weak_ptr<Streams>(streams)](const GroupCommit& c) {
    if (!c.appended_events) return;
    if (auto s = weak.lock()) s->wake();
  });
  ctx.on_shutdown([streams] {
    streams->websocket_->stop();
    streams->hub_.stop();
  });
  return streams;
}

void Streams::wake() {
  hub_.wake();
}

void Streams::serve_events(const httplib::Request& req, httplib::Response& res) {
  server::serve_events(ctx_, *websocket_, slots_, req, res);
}

void Streams::serve_websocket() {
  serve_websocket_upgrade(*websocket_);
}

} // namespace wabactl::server
