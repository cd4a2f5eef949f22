#pragma once
// What every route of the daemon shares, and how routes are registered: each route file
// provides a `register_*(httplib::Server&, Context&)` listed in server.cpp's table, so new
// routes (REST, SSE, WebSocket) plug in without touching the others.

#include "server/metrics.hpp"
#include "server/rate_limit.hpp"
#include "server/refusals.hpp"
#include "server/tenant_cache.hpp"
#include "wabactl/delivery_writer.hpp"
#include "wabactl/server.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace httplib {
class Server;
struct Request;
struct Response;
} // namespace httplib

namespace wabactl {
class Store;
}

namespace wabactl::server {

/// A small pool of read connections for request threads (WAL lets them read while the
/// writer writes). A lease returns its connection to the pool when it ends.
class ReaderPool {
public:
  explicit ReaderPool(std::filesystem::path db);
  ~ReaderPool();

  class Lease {
  public:
    Lease(ReaderPool& pool, std::unique_ptr<Store> store);
    Lease(Lease&&) noexcept = default;
    ~Lease();
    Store& operator*() { return *store_; }
    Store* operator->() { return store_.get(); }

  private:
    ReaderPool* pool_;
    std::unique_ptr<Store> store_;
  };

  /// A connection, opened if none is free (Error when the database cannot be opened).
  Lease lease();

private:
  std::filesystem::path db_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Store>> free_;
};

struct Context {
  Context(const ServeOptions& o, Metrics& m, TenantCache& t, DeliveryWriter& w, FailureLimiter& l,
          ReaderPool& r)
      : options(o), metrics(m), tenants(t), writer(w), limiter(l), readers(r) {}

  const ServeOptions& options;
  Metrics& metrics;
  TenantCache& tenants;
  DeliveryWriter& writer;
  FailureLimiter& limiter;
  ReaderPool& readers;
  Refusals refusals{metrics};
  /// Set when a stop signal arrived; long-running handlers (streams) should end.
  std::atomic<bool> stopping{false};

  /// Runs `hook` when a stop signal arrives, before the HTTP server stops waiting for its
  /// in-flight requests (streams must end here, or they would hold the shutdown).
  void on_shutdown(std::function<void()> hook);
  /// Runs every shutdown hook once (the signal thread calls it).
  void shutdown();

private:
  std::mutex mu_;
  std::vector<std::function<void()>> shutdown_hooks_;
};

/// Adds routes and services to the server.
using RouteRegistrar = void (*)(httplib::Server& http, Context& ctx);

/// GET /healthz and GET /metrics.
void register_health_routes(httplib::Server& http, Context& ctx);
/// GET and POST /api/whatsapp/webhook and /api/whatsapp/webhook/{tenant}.
void register_webhook_routes(httplib::Server& http, Context& ctx);
/// The web console (built with WABACTL_CONSOLE): `/` (a redirect), its files under
/// /console/, and its sign-in at /console/api/session.
void register_console_routes(httplib::Server& http, Context& ctx);

/// Answers `{"error":{"code":code,"message":message}}` with `status`.
void send_error(httplib::Response& res, int status, std::string_view code,
                std::string_view message);
/// Whether `address` (as httplib reports it) is a loopback address.
bool is_loopback(const std::string& address);
/// The client's address: the peer, or, behind a reverse proxy on loopback, the last entry of
/// X-Forwarded-For (the one the proxy added).
std::string client_address(const httplib::Request& req);

} // namespace wabactl::server
