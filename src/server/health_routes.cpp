// GET /healthz, GET /metrics
#include "server/context.hpp"
#include "wabactl/hooks.hpp"
#include "wabactl/log.hpp"
#include "wabactl/store.hpp"

#include <httplib.h>

namespace wabactl::server {

void register_health_routes(httplib::Server& http, Context& ctx) {
  http.Get("/healthz", [&ctx](const httplib::Request&, httplib::Response& res) {
    try {
      auto store = ctx.readers.lease();
      store->check();
      res.set_content(R"({"status":"ok"})", "application/json");
    } catch (const std::exception& e) {
      LOG_ERROR("health check: the database does not answer: {}", e.what());
      send_error(res, 503, "unavailable", "the database does not answer");
    }
  });

  // Metrics are for the local scraper only: a request relayed by a reverse proxy arrives
  // from loopback too, so any forwarding header disqualifies it.
  http.Get("/metrics", [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!is_loopback(req.remote_addr) || req.has_header("X-Forwarded-For") ||
        req.has_header("Forwarded") || req.has_header("X-Real-IP")) {
      send_error(res, 404, "not_found", "no such route");
      return;
    }
    std::vector<HookBacklog> backlogs;
    try {
      auto store = ctx.readers.lease();
      backlogs = hook_backlogs(*store);
    } catch (const std::exception& e) {
      LOG_WARN("metrics: the hook backlog cannot be read: {}", e.what());
    }
    res.set_content(ctx.metrics.render(backlogs), "text/plain; version=0.0.4; charset=utf-8");
  });
}

} // namespace wabactl::server
