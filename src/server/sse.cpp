#include "server/sse.hpp"

#include "server/front.hpp"
#include "wabactl/error.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/store.hpp"
#include "wabactl/util.hpp"

#include <httplib.h>

#include <charconv>

namespace wabactl::server {
namespace {

std::optional<std::int64_t> parse_event_id(const std::string& v) {
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size() || n < 0) return std::nullopt;
  return n;
}

} // namespace

void serve_events(Context& ctx, ws::WebSocketServer& streams, StreamSlots& slots,
                  const ApiToken& who, const httplib::Request& req, httplib::Response& res) {
  std::optional<std::int64_t> after;
  std::string given = req.has_header("Last-Event-ID") ? req.get_header_value("Last-Event-ID")
                                                      : req.get_param_value("last_event_id");
  if (!given.empty()) {
    after = parse_event_id(std::string(trim(given)));
    if (!after) throw Error(Exit::usage, "Last-Event-ID must be an event id (a number)");
  }
  if (!after) {
    auto store = ctx.readers.lease();
    after = last_event_id(*store);
  }
  if (!slots.acquire(who.tenant_id)) {
    res.set_header("Retry-After", "5");
    send_error(res, 503, "unavailable",
               "too many streams are open for this tenant or in all; retry later");
    return;
  }
  auto conn = FrontServer::detach_current_connection();
  if (conn.fd < 0) {
    slots.release(who.tenant_id);
    throw Error(Exit::internal, "the event stream cannot take over its connection");
  }
  // The cursor was read before the stream subscribes and the replay runs after it, so an
  // event committed meanwhile is either replayed or queued (duplicates are skipped by id).
  streams.adopt_sse(conn.fd, who.tenant_id, who.id, *after);
}

void serve_websocket_upgrade(ws::WebSocketServer& streams) {
  auto conn = FrontServer::detach_current_connection();
  if (conn.fd < 0) throw Error(Exit::internal, "the WebSocket cannot take over its connection");
  streams.adopt_handshake(conn.fd, std::move(conn.received));
}

} // namespace wabactl::server
