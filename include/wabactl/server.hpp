#pragma once
// The daemon (`wabactl serve`): Meta's webhook routes, health and metrics over HTTP, with a
// single writer thread that group-commits deliveries. HTTP types stay inside src/server.

#include "wabactl/media_fetch.hpp"
#include "wabactl/secrets.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

namespace wabactl {

/// A HOST:PORT to listen on.
struct ListenAddress {
  std::string host;
  int port = 0;
};

/// Parses `HOST:PORT` (`127.0.0.1:8080`, `[::1]:8080`, `0.0.0.0:80`); the port may be 0
/// (the kernel picks one). Throws Error(usage) for anything else.
ListenAddress parse_listen_address(const std::string& value);

/// The default of --max-streams.
inline constexpr std::size_t default_max_streams = 20000;

/// Failed signature or verify-token checks per client address per minute (`max_auth_failures`).
inline constexpr std::size_t default_max_auth_failures = 30;

/// Everything `wabactl serve` runs with.
struct ServeOptions {
  ListenAddress listen{"127.0.0.1", 8080};
  std::optional<ListenAddress> ws_listen; ///< the WebSocket listener (default: port + 1)
  std::size_t max_body = 3 * 1024 * 1024; ///< largest request body accepted (else 413)
  std::size_t threads = 32;               ///< HTTP worker threads (they run requests only)
  /// Live streams (SSE and WebSocket together) open at once; 503 beyond, and a tenant's share
  /// is limited while others hold streams (see stream_share).
  std::size_t max_streams = default_max_streams;
  /// Open HTTP connections per peer address (503 beyond).
  std::size_t max_connections_per_address = 256;
  /// A request head (and then its body) must arrive within this.
  std::chrono::milliseconds head_timeout{10000};
  std::filesystem::path db; ///< the database file
  KeyOptions key;           ///< where the master key comes from
  /// $WHATSAPP_WEBHOOK_SECRET: verifies deliveries for tenants without an App Secret.
  std::optional<std::string> fallback_secret;
  /// Failed signature or verify-token checks per client address per minute before that
  /// address gets 429 for the rest of the minute.
  std::size_t max_auth_failures = default_max_auth_failures;
  /// Inbound media downloaded at once (CONTRACT.md §7).
  std::size_t media_workers = 4;
  /// The largest file kept per media type.
  MediaCaps media_caps;
};

/// The bounds `--threads` and `--max-body` must respect.
inline constexpr std::size_t max_server_threads = 1024;
inline constexpr std::size_t min_max_body = 1024;
inline constexpr std::size_t max_max_body = 64 * 1024 * 1024;

/// Runs the daemon until SIGTERM or SIGINT: binds, notifies systemd (READY=1), serves, and
/// on a signal notifies STOPPING=1, stops accepting, finishes in-flight requests, commits
/// queued deliveries and returns. Throws Error when it cannot start (bad address, port in
/// use, database or master key unusable).
void serve(const ServeOptions& options);

} // namespace wabactl
