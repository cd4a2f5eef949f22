#pragma once
// The live streams' epoll thread: a WebSocket server (RFC 6455) with its own listener, and
// the home of every SSE stream once the HTTP route has authenticated it and handed its
// connection over (adopt_sse). Clients authenticate with a tenant token (Authorization
// header or ?access_token=, as on every door: server/auth.hpp), may resume with
// ?last_event_id= (or Last-Event-ID), and receive every Event JSON of their tenant
// (WebSocket: a text frame; SSE: an event). Streams share StreamSlots; a
// peer that closes frees its slot at once (the thread sees the FIN); a revoked token's
// streams end within revocation_check. The frame codec is exposed for tests.

#include "server/net.hpp"
#include "server/rate_limit.hpp"
#include "server/stream_slots.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace wabactl {
class EventHub;
}

namespace wabactl::ws {

/// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: base64(SHA-1(key + GUID)).
std::string accept_key(std::string_view client_key);

/// Frame opcodes.
enum class Opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

/// Close codes this server sends.
inline constexpr std::uint16_t close_normal = 1000;
inline constexpr std::uint16_t close_going_away = 1001;
inline constexpr std::uint16_t close_protocol_error = 1002;
inline constexpr std::uint16_t close_invalid_data = 1007;
inline constexpr std::uint16_t close_policy = 1008;
inline constexpr std::uint16_t close_too_big = 1009;
inline constexpr std::uint16_t close_try_again_later = 1013;

/// A server frame (unmasked, FIN set) carrying `payload`.
std::string encode_frame(Opcode opcode, std::string_view payload);
/// A close frame with `code` and a reason (cut to fit a control frame).
std::string encode_close(std::uint16_t code, std::string_view reason);

/// Limits on what a client may send.
struct FrameLimits {
  std::size_t max_frame = 64 * 1024;     ///< one frame's payload
  std::size_t max_message = 1024 * 1024; ///< a whole (possibly fragmented) message
};

/// What a client sent: a complete message, a control frame, or a close.
struct ClientItem {
  enum class Kind { message, ping, pong, close } kind = Kind::message;
  Opcode opcode = Opcode::text; ///< text or binary for messages
  std::string payload;          ///< message data, ping/pong data, or the close reason
  std::uint16_t close_code = 0; ///< for close: the code, 0 when the frame carried none
};

/// Why the client's input violates the protocol or the limits: the close code to send.
struct Violation {
  std::uint16_t code = close_protocol_error;
  std::string reason;
};

/// Incremental decoder of client-to-server frames: checks masking, reserved bits, opcodes,
/// control frame rules, fragmentation and sizes, unmasks, and assembles fragmented
/// messages.
class FrameReader {
public:
  explicit FrameReader(FrameLimits limits = {});
  /// Consumes whole frames from the front of `buffer` (a partial frame stays there) and
  /// appends what they carry to `out`. Returns the violation that ends the connection, if
  /// any; the reader must not be fed again after one.
  std::optional<Violation> feed(std::string& buffer, std::vector<ClientItem>& out);

private:
  FrameLimits limits_;
  bool in_message_ = false;
  Opcode message_opcode_ = Opcode::text;
  std::string message_;
};

/// Options of the WebSocket listener.
struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0; ///< 0: the kernel picks (see WebSocketServer::port())
  std::string path = "/api/whatsapp/ws";
  std::filesystem::path db; ///< database for tokens and replay
  FrameLimits limits;
  std::size_t max_connections = 1000;     ///< beyond it the handshake answers 503
  std::size_t write_buffer_cap = 1 << 20; ///< pending output beyond it drops the client
  std::size_t max_request_header = 8192;  ///< handshake request size limit
  std::chrono::milliseconds ping_interval{30000};
  std::chrono::milliseconds idle_timeout{75000}; ///< nothing received for this long: close
  std::chrono::milliseconds handshake_timeout{10000};
  std::atomic<std::int64_t>* clients_gauge = nullptr; ///< WebSocket connections
  std::atomic<std::int64_t>* sse_gauge = nullptr;     ///< SSE streams
  server::StreamSlots* slots =
      nullptr; ///< shared with the SSE route (default: own, max_connections)
  /// Failed handshake authentications per address, shared with the HTTP routes (default:
  /// own, with the daemon's default limit).
  server::FailureLimiter* limiter = nullptr;
  std::chrono::milliseconds sse_ping_interval{15000};
  /// How often the tokens of open streams are re-checked (when the database changed).
  std::chrono::milliseconds revocation_check{500};
  /// Where handshake refusals (401, 429, 400, 404, 426, 431, 503) are reported.
  server::RefusalSink on_refusal;
};

/// The listener and its epoll thread.
class WebSocketServer {
public:
  WebSocketServer(ServerOptions options, EventHub& hub);
  WebSocketServer(const WebSocketServer&) = delete;
  WebSocketServer& operator=(const WebSocketServer&) = delete;
  /// Stops the thread if it runs.
  ~WebSocketServer();

  /// Binds the listener (Error(usage) when the address is bad, Error(tempfail) when it is
  /// taken) and starts the thread.
  void start();
  /// Closes every connection (close 1001) and stops. Idempotent.
  void stop();
  /// The bound port (after start()).
  int port() const;
  /// Open connections (handshaking ones and SSE streams included).
  std::size_t connections() const;

  /// Takes over an SSE stream: `fd` is the client's connection (its request answered by
  /// nothing yet), the slot for `tenant` is already acquired and is released when the
  /// stream ends. Sends the response head and ": connected", replays events after
  /// `cursor`, then streams live ones. Thread-safe.
  void adopt_sse(int fd, std::string tenant, std::string token_id, std::int64_t cursor);

  /// Takes over a WebSocket handshake that arrived on another listener (the HTTP port):
  /// `received` holds the request head as received. Thread-safe.
  void adopt_handshake(int fd, std::string received);

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
};

} // namespace wabactl::ws
