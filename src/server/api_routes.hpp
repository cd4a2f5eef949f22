#pragma once
// The tenant-token side of the daemon: the REST API (config, send, messages, unread, read
// marks) and the SSE event stream, as one table of routes. Every route authenticates with a
// tenant API token (tokens.hpp) and sees only that tenant's data.

#include "server/context.hpp"
#include "wabactl/tokens.hpp"

#include <vector>

namespace httplib {
class Server;
}

namespace wabactl::server {

/// What the tenant routes share (the daemon's Context and its live streams).
struct Api;

/// A REST route's handler, called once the request's token has been authenticated as `who`.
using RestHandler = void (*)(Api& api, const ApiToken& who, const httplib::Request& req,
                             httplib::Response& res);
/// A stream route's handler, which authenticates its request itself (server/auth.hpp), as
/// the WebSocket handshake does.
using StreamHandler = void (*)(Api& api, const httplib::Request& req, httplib::Response& res);

/// One tenant-token route: exactly one of `rest` and `stream` is set.
struct TenantRoute {
  const char* method;  ///< GET, POST or DELETE
  const char* pattern; ///< the full path; each `([^/]+)` is a path parameter (a message id)
  const char* name;    ///< a short name for logs and tests
  RestHandler rest = nullptr;
  StreamHandler stream = nullptr;
};

/// Every tenant-token route, in registration order.
const std::vector<TenantRoute>& tenant_routes();

/// Starts the live streams (Streams::start) and registers every route of tenant_routes(),
/// plus GET /api/whatsapp/ws (the WebSocket handshake on the HTTP port, authenticated where
/// --ws-listen authenticates it). Throws Error when the WebSocket address cannot be bound.
void register_api_routes(httplib::Server& http, Context& ctx);

} // namespace wabactl::server
