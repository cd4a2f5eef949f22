#pragma once
// The tenant-token side of the daemon: the REST API (config, send, messages, unread,
// read marks), the SSE event stream, and the WebSocket listener with the event hub both
// streams share. Routes authenticate with a tenant API token (tokens.hpp) and see only
// that tenant's data.

#include "server/context.hpp"

namespace httplib {
class Server;
}

namespace wabactl::server {

/// Registers the REST and SSE routes, starts the event hub (woken by the delivery
/// writer's commits) and the WebSocket listener on --ws-listen (default: the HTTP port + 1;
/// the kernel's choice when the HTTP port is 0), and stops both at shutdown. Throws Error
/// when the WebSocket address cannot be bound.
void register_api_routes(httplib::Server& http, Context& ctx);

} // namespace wabactl::server
