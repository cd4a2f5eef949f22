#pragma once
// The daemon's live event streams: the event hub that follows the events table, the
// WebSocket listener (on --ws-listen), and the stream slots SSE and WebSocket share.

#include "server/context.hpp"
#include "server/stream_slots.hpp"
#include "wabactl/events.hpp"

#include <memory>

namespace wabactl::ws {
class WebSocketServer;
}

namespace wabactl::server {

class Streams {
public:
  /// Starts the hub (woken by the delivery writer's commits) and the WebSocket listener on
  /// --ws-listen (default: the HTTP port + 1; the kernel's choice when the HTTP port is 0),
  /// and stops both at the daemon's shutdown. Raises the soft descriptor limit to the hard
  /// one first: each stream holds a descriptor. Throws Error when the WebSocket address
  /// cannot be bound.
  static std::shared_ptr<Streams> start(Context& ctx);

  Streams(const Streams&) = delete;
  Streams& operator=(const Streams&) = delete;
  ~Streams();

  /// Tells the hub that this process appended events (a REST write), so streams see them
  /// without waiting for its next poll.
  void wake();
  /// GET /api/whatsapp/events (which authenticates its request, server/auth.hpp).
  void serve_events(const httplib::Request& req, httplib::Response& res);
  /// GET /api/whatsapp/ws on the HTTP port: the handshake goes to the WebSocket listener.
  void serve_websocket();

private:
  explicit Streams(Context& ctx);

  Context& ctx_;
  EventHub hub_;
  StreamSlots slots_;
  std::unique_ptr<ws::WebSocketServer> websocket_;
};

} // namespace wabactl::server
