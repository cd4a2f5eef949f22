#pragma once
// GET /api/whatsapp/events: the Server-Sent Events route, and GET /api/whatsapp/ws on the
// HTTP port (handed to the WebSocket server as it arrived). The handler authenticates, takes
// a stream slot, and hands the connection to the streams' epoll thread
// (ws::WebSocketServer::adopt_sse), so an open stream costs a descriptor and its buffers,
// never a worker thread.

#include "server/context.hpp"
#include "server/websocket.hpp"

namespace wabactl::server {

/// Serves one SSE request: 401/429 when its token does not authenticate (server/auth.hpp),
/// Error(usage) for a malformed Last-Event-ID, 503 (Retry-After) when StreamSlots refuses,
/// else the stream of the token's tenant.
void serve_events(Context& ctx, ws::WebSocketServer& streams, StreamSlots& slots,
                  const httplib::Request& req, httplib::Response& res);

/// Hands a WebSocket handshake that came to the HTTP port to the streams' thread, which
/// answers it as on --ws-listen.
void serve_websocket_upgrade(ws::WebSocketServer& streams);

} // namespace wabactl::server
