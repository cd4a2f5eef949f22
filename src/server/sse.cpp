#include "server/sse.hpp"

#include "server/auth.hpp"
#include "server/front.hpp"
#include "wabactl/error.hpp"
#include "wabactl/events.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/store.hpp"

#include <httplib.h>

namespace wabactl::server {

void serve_events(Context& ctx, ws::WebSocketServer& streams, StreamSlots& slots,
                  const httplib::Request& req, httplib::Response& res) {
  auto who = authenticate(ctx, req, res);
  if (!who) return;
  std::optional<std::string> header;
  std::optional<std::string> query;
  if (req.has_header("Last-Event-ID")) header = req.get_header_value("Last-Event-ID");
  if (req.has_param("last_event_id")) query = req.get_param_value("last_event_id");
  std::optional<std::int64_t> after = parse_last_event_id(header, query);
  if (!after) {
    auto store = ctx.readers.lease();
    after = last_event_id(*store);
  }
  if (!slots.acquire(who->tenant_id)) {
    res.set_header("Retry-After", "5");
    send_error(res, 503, "unavailable",
               "too many streams are open for this tenant or in all; retry later");
    return;
  }
  auto conn = FrontServer::detach_current_connection();
  if (conn.fd < 0) {
    slots.release(who->tenant_id);
    throw Error(Exit::internal, "the event stream cannot take over its connection");
  }
  // The cursor was read before the stream subscribes and the replay runs after it, so an
  // event committed meanwhile is either replayed or queued (duplicates are skipped by id).
  streams.adopt_sse(conn.fd, who->tenant_id, who->id, *after);
}

void serve_websocket_upgrade(ws::WebSocketServer& streams) {
  auto conn = FrontServer::detach_current_connection();
  if (conn.fd < 0) throw Error(Exit::internal, "the WebSocket cannot take over its connection");
  streams.adopt_handshake(conn.fd, std::move(conn.received));
}

} // namespace wabactl::server
