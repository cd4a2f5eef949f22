#include "wabactl/server.hpp"

#include "server/api_routes.hpp"
#include "server/context.hpp"
#include "server/front.hpp"
#include "server/history_import.hpp"
#include "server/template_syncer.hpp"
#include "util/sd_notify.hpp"
#include "wabactl/error.hpp"
#include "wabactl/hook_forwarder.hpp"
#include "wabactl/log.hpp"
#include "wabactl/store.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <charconv>
#include <thread>

namespace wabactl {
namespace server {
namespace {

// Every family of routes; another file adds its register_* function here.
constexpr RouteRegistrar registrars[] = {
    register_health_routes,
    register_webhook_routes,
    register_api_routes,
#ifdef WABACTL_CONSOLE
    register_console_routes,
#endif
};

// Deliveries are committed with synchronous=FULL: the contract answers 200 only once a
// delivery is durable, and Meta never resends what got a 200, so a power cut must not lose
// it (NORMAL in WAL mode survives a process crash, not a power cut before the checkpoint).
// Group commit makes one fsync serve every delivery queued meanwhile. Measured with
// bench/webhook.sh (8 connections, 2 cores, quiet, 2 KiB pages, alternating runs): FULL
// 6,670-7,700 req/s, p99 5.2-6.5 ms; NORMAL 8,580-8,940 req/s, p99 6.7-7.0 ms. FULL costs
// 13-20 % of throughput, which is the price of a 200 that survives a power cut.
constexpr Durability writer_durability = Durability::full;

constexpr std::size_t max_headers = 100;
constexpr std::size_t max_header_bytes = 32 * 1024;

const char* code_for_status(int status) {
  switch (status) {
  case 400:
    return "bad_request";
  case 401:
    return "unauthorized";
  case 403:
    return "forbidden";
  case 404:
    return "not_found";
  case 405:
    return "method_not_allowed";
  case 408:
    return "timeout";
  case 411:
    return "length_required";
  case 413:
    return "payload_too_large";
  case 414:
    return "uri_too_long";
  case 415:
    return "unsupported_media_type";
  case 416:
    return "range_not_satisfiable";
  case 429:
    return "rate_limited";
  case 431:
    return "headers_too_large";
  case 503:
    return "unavailable";
  default:
    return status >= 500 ? "internal" : "bad_request";
  }
}

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

// Refuses, before the body is read, what httplib would otherwise read without bound or
// read only to throw away.
httplib::Server::HandlerResponse pre_route(const httplib::Request& req, httplib::Response& res,
                                           Context& ctx) {
  auto refuse = [&](int status, const char* message, Metrics::Rejection why) {
    bool webhook = req.path.rfind("/api/whatsapp/webhook", 0) == 0;
    if (webhook) ctx.metrics.reject(why);
    const char* route = webhook                                    ? "webhook"
                        : req.path.rfind("/api/whatsapp/", 0) == 0 ? "api"
                                                                   : "other";
    ctx.refusals.refuse(route, reason_name(why), status, client_address(req), message);
    // The unread body must not be taken for the next request.
    res.set_header("Connection", "close");
    send_error(res, status, code_for_status(status), message);
    return httplib::Server::HandlerResponse::Handled;
  };
  std::size_t header_bytes = 0;
  for (const auto& [k, v] : req.headers) header_bytes += k.size() + v.size() + 4;
  if (req.headers.size() > max_headers || header_bytes > max_header_bytes) {
    return refuse(431, "too many or too large request headers", Metrics::Rejection::headers);
  }
  if (req.has_header("Transfer-Encoding")) {
    return refuse(411, "chunked bodies are not accepted: send Content-Length",
                  Metrics::Rejection::chunked);
  }
  if (req.has_header("Content-Encoding") &&
      !iequals(trim(req.get_header_value("Content-Encoding")), "identity")) {
    return refuse(415, "compressed bodies are not accepted", Metrics::Rejection::encoding);
  }
  if (req.has_header("Content-Length")) {
    std::string value(trim(req.get_header_value("Content-Length")));
    std::size_t length = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
      return refuse(400, "malformed Content-Length", Metrics::Rejection::malformed);
    }
    if (length > ctx.options.max_body) {
      return refuse(413, "the body is larger than --max-body", Metrics::Rejection::too_large);
    }
  }
  return httplib::Server::HandlerResponse::Unhandled;
}

void configure(httplib::Server& http, Context& ctx) {
  const ServeOptions& o = ctx.options;
  http.set_tcp_nodelay(true);
  http.set_read_timeout(std::chrono::seconds(10));
  http.set_write_timeout(std::chrono::seconds(10));
  http.set_keep_alive_timeout(5);
  http.set_keep_alive_max_count(100000);
  http.set_payload_max_length(o.max_body);
  http.set_pre_routing_handler([&ctx](const httplib::Request& req, httplib::Response& res) {
    return pre_route(req, res, ctx);
  });
  http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      send_error(res, res.status, code_for_status(res.status),
                 res.status == 404 ? "no such route" : "the request was refused");
    }
  });
  http.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          LOG_ERROR("{} {}: {}", req.method, req.path, e.what());
        } catch (...) {
          LOG_ERROR("{} {}: unknown exception", req.method, req.path);
        }
        send_error(res, 500, "internal", "internal error");
      });
  http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    LOG_DEBUG("{} {} {} {}", req.remote_addr, req.method, req.path, res.status);
  });
}

// Blocks SIGTERM, SIGINT and SIGHUP in this thread and every thread it starts, so that only
// the signal thread's sigtimedwait sees them; restores the old mask on destruction.
class SignalBlock {
public:
  SignalBlock() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~SignalBlock() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  const sigset_t& set() const { return set_; }

private:
  sigset_t set_{};
  sigset_t old_{};
};

} // namespace

ReaderPool::ReaderPool(std::filesystem::path db) : db_(std::move(db)) {}
ReaderPool::~ReaderPool() = default;

ReaderPool::Lease::Lease(ReaderPool& pool, std::unique_ptr<Store> store)
    : pool_(&pool), store_(std::move(store)) {}

ReaderPool::Lease::~Lease() {
  if (!store_) return;
  std::lock_guard lock(pool_->mu_);
  pool_->free_.push_back(std::move(store_));
}

ReaderPool::Lease ReaderPool::lease() {
  {
    std::lock_guard lock(mu_);
    if (!free_.empty()) {
      auto store = std::move(free_.back());
      free_.pop_back();
      return Lease(*this, std::move(store));
    }
  }
  return Lease(*this, std::make_unique<Store>(db_));
}

void Context::on_shutdown(std::function<void()> hook) {
  std::lock_guard lock(mu_);
  shutdown_hooks_.push_back(std::move(hook));
}

void Context::shutdown() {
  std::vector<std::function<void()>> hooks;
  {
    std::lock_guard lock(mu_);
    hooks.swap(shutdown_hooks_);
  }
  for (auto& h : hooks) h();
}

void send_error(httplib::Response& res, int status, std::string_view code,
                std::string_view message) {
  nlohmann::json body = {{"error", {{"code", code}, {"message", message}}}};
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

bool is_loopback(const std::string& address) {
  return address.rfind("127.", 0) == 0 || address == "::1" || address.rfind("::ffff:127.", 0) == 0;
}

std::string client_address(const httplib::Request& req) {
  if (is_loopback(req.remote_addr) && req.has_header("X-Forwarded-For")) {
    std::string xff = req.get_header_value("X-Forwarded-For");
    auto comma = xff.rfind(',');
    std::string last(trim(comma == std::string::npos ? xff : xff.substr(comma + 1)));
    if (!last.empty() && last.size() <= 64) return last;
  }
  return req.remote_addr;
}

} // namespace server

ListenAddress parse_listen_address(const std::string& value) {
  auto bad = [&] {
    std::string shown = value.size() > 80 ? value.substr(0, 80) + "…" : value;
    return Error(Exit::usage, fmt::format("'{}' is not a HOST:PORT address", shown),
                 "for example 127.0.0.1:8080 or [::1]:8080");
  };
  if (value.empty() || value.size() > 300) throw bad();
  std::string host;
  std::string port;
  if (value[0] == '[') {
    auto close = value.find(']');
    if (close == std::string::npos || close + 1 >= value.size() || value[close + 1] != ':') {
      throw bad();
    }
    host = value.substr(1, close - 1);
    port = value.substr(close + 2);
  } else {
    auto colon = value.rfind(':');
    if (colon == std::string::npos || value.find(':') != colon) throw bad();
    host = value.substr(0, colon);
    port = value.substr(colon + 1);
  }
  if (host.empty() || host.size() > 253) throw bad();
  for (char c : host) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == ':';
    if (!ok) throw bad();
  }
  int n = -1;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || n < 0 || n > 65535) {
    throw bad();
  }
  return {host, n};
}

void serve(const ServeOptions& o) {
  if (o.threads < 1 || o.threads > max_server_threads) {
    throw Error(Exit::usage, fmt::format("--threads must be between 1 and {}", max_server_threads));
  }
  if (o.max_body < min_max_body || o.max_body > max_max_body) {
    throw Error(Exit::usage, fmt::format("--max-body must be between {} and {} bytes", min_max_body,
                                         max_max_body));
  }
  if (o.media_workers < 1 || o.media_workers > max_media_workers) {
    throw Error(Exit::usage,
                fmt::format("--media-workers must be between 1 and {}", max_media_workers));
  }
  init_crypto();
  server::SignalBlock signals;

  server::Metrics metrics;
  server::FailureLimiter limiter(o.max_auth_failures);
  server::ReaderPool readers(o.db);
  server::TenantCache tenants(o.db, o.key, o.fallback_secret);
  tenants.load();
  // Declared before the writer, whose commit listener wakes it: destroyed after it.
  server::HistoryImporter history(o.db);
  DeliveryWriter writer(o.db, server::writer_durability);
  // Its writes run on the writer's thread, and the writer's commits wake it; it is stopped
  // before the writer.
  HookForwarderOptions hook_options;
  hook_options.db = o.db;
  hook_options.write = [&writer](const std::function<void(Store&)>& fn) { writer.write(fn); };
  HookForwarder forwarder(
      hook_options, [&tenants]() -> const MasterKey& { return tenants.master_key(); },
      metrics.hooks);
  MediaWorker media(
      {o.db, o.media_workers, o.media_caps},
      [&tenants](const Config& c) { return tenants.open(c); }, metrics.media);
  writer.on_commit([&metrics, &media, &history, &forwarder](const GroupCommit& c) {
    metrics.commit(c.took.count(), c.deliveries);
    // Every media message a webhook brings appends an event; history wakes it itself.
    if (c.appended_events) {
      media.wake();
      forwarder.wake();
    }
    if (c.stored_history) history.wake();
  });
  history.on_imported([&media] { media.wake(); });
  server::TemplateSyncer templates(o.db, [&tenants](const Config& c) { return tenants.open(c); });
  server::Context ctx(o, metrics, tenants, writer, limiter, readers);

  server::FrontOptions fo;
  fo.workers = o.threads;
  fo.max_per_address = o.max_connections_per_address;
  fo.head_timeout = o.head_timeout;
  fo.max_body = o.max_body;
  fo.connections_gauge = &metrics.http_connections;
  fo.on_refusal = [&ctx](int status, std::string_view why, const std::string& address,
                         std::string_view detail) {
    ctx.refusals.refuse("connection", why, status, address, detail);
  };
  server::FrontServer http(fo);
  server::configure(http, ctx);
  for (auto registrar : server::registrars) registrar(http, ctx);

  int port = o.listen.port;
  if (port == 0) {
    port = http.bind_to_any_port(o.listen.host);
  } else if (!http.bind_to_port(o.listen.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    throw Error(Exit::tempfail, fmt::format("cannot listen on {}:{}", o.listen.host, o.listen.port),
                "is another process using the port, or is the address not on this machine?");
  }
  writer.start();
  media.start();
  history.start();
  templates.start();
  forwarder.start();
  http.start_front();

  std::atomic<bool> finished{false};
  std::thread signal_thread([&] {
    timespec tick{0, 200'000'000};
    for (;;) {
      int sig = sigtimedwait(&signals.set(), nullptr, &tick);
      if (finished.load()) return;
      if (sig == SIGHUP) {
        LOG_INFO("SIGHUP received: reloading the master key and the configs");
        sd_notify("RELOADING=1");
        tenants.reload();
        sd_notify("READY=1");
        continue;
      }
      if (sig != SIGTERM && sig != SIGINT) continue;
      LOG_INFO("{} received: finishing in-flight requests", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      sd_notify("STOPPING=1");
      ctx.stopping = true;
      ctx.shutdown();
      // stop() is a no-op until the accept loop runs.
      while (!http.is_running() && !finished.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      http.stop();
      return;
    }
  });

  LOG_INFO("listening on http://{}:{} ({} threads, max body {} bytes)", o.listen.host, port,
           o.threads, o.max_body);
  sd_notify(fmt::format("READY=1\nSTATUS=listening on {}:{}", o.listen.host, port));
  http.listen_after_bind();
  finished = true;
  signal_thread.join();
  ctx.shutdown();
  media.stop();
  http.stop_front();
  history.stop();
  templates.stop();
  forwarder.stop();
  writer.stop();
  LOG_INFO("stopped");
}

} // namespace wabactl
