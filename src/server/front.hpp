#pragma once
// The connection front of the HTTP listener. cpp-httplib 0.11.4 gives every accepted
// connection a worker thread for its whole life, so slow or idle connections hold the
// workers and starve everyone else. FrontServer keeps httplib's accept loop, routing and
// handlers but parks each connection on one epoll thread until a whole request (head and
// Content-Length body) has arrived, enforcing the head deadline and a per-address
// connection cap there at the cost of a descriptor; only then does a worker run the request
// (httplib's process_request over a stream that serves the buffered bytes first). After the
// response the connection goes back to the epoll thread: idle keep-alive holds no worker.
// A handler may take the connection over for a long-lived stream (detach_current_connection).

#include "server/net.hpp"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace wabactl::server {

struct FrontOptions {
  std::size_t workers = 32;                      ///< threads that run requests
  std::size_t max_per_address = 256;             ///< open connections per peer address
  std::chrono::milliseconds head_timeout{10000}; ///< a request head (and body) must arrive in it
  std::chrono::milliseconds idle_timeout{5000};  ///< keep-alive with no new request: closed
  std::size_t max_body = 3 * 1024 * 1024;        ///< bodies up to this are buffered before dispatch
  int backlog = 4096;                            ///< the listen backlog
  std::atomic<std::int64_t>* connections_gauge = nullptr; ///< kept equal to connections()
  RefusalSink on_refusal; ///< the front's own 408, 431 and 503 (per-address cap)
};

/// A peer connection a handler took over: the descriptor (non-blocking, the caller owns it),
/// the peer's address, and the bytes received on it: the request, then any that followed.
struct DetachedConnection {
  int fd = -1;
  std::string remote_addr;
  std::string received;
};

class FrontServer : public httplib::Server {
public:
  explicit FrontServer(FrontOptions options);
  FrontServer(const FrontServer&) = delete;
  FrontServer& operator=(const FrontServer&) = delete;
  ~FrontServer() override;

  /// Raises the listen backlog of the bound socket and starts the epoll thread and the
  /// workers. Call after bind_to_port, before listen_after_bind.
  void start_front();
  /// Stops accepting (httplib's stop), closes parked connections, lets running requests
  /// finish and joins the threads. Idempotent.
  void stop_front();

  /// Open connections the front tracks (parked or running a request).
  std::size_t connections() const;

  /// Called from a handler: takes the connection of the request being handled away from
  /// httplib and the front (nothing httplib writes for this request reaches the peer any
  /// more). Returns fd -1 when not called from a request of a FrontServer.
  static DetachedConnection detach_current_connection();

  struct Impl;

private:
  bool process_and_close_socket(socket_t sock) override;
  friend struct Impl;
  bool run_request(httplib::Stream& strm, bool close_connection, bool& connection_closed);

  std::unique_ptr<Impl> impl_;
};

} // namespace wabactl::server
