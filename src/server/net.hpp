#pragma once
// What the daemon's two epoll loops (the connection front and the streams' thread) share
// about the sockets they hold: the peer's address, and where they report a refusal.

#include <functional>
#include <string>
#include <string_view>

namespace wabactl::server {

/// A connected socket's peer.
struct Peer {
  std::string address; ///< numeric, as inet_ntop writes it; empty when unknown
  int port = 0;
};

/// The peer of a connected socket (empty when getpeername fails).
Peer peer_of(int fd);

/// Called for each request a loop refuses on its own: the HTTP status, a short reason for
/// the metrics label (`timeout`, `connections`, `headers`, `token`, …), the peer's address
/// and what was wrong (no secret).
using RefusalSink = std::function<void(int status, std::string_view reason,
                                       const std::string& address, std::string_view detail)>;

} // namespace wabactl::server
