#include "server/metrics.hpp"

#include <fmt/format.h>

namespace wabactl::server {
namespace {

void counter(std::string& out, const char* name, const char* help, std::uint64_t value) {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name, help, value);
}

void gauge(std::string& out, const char* name, const char* help, std::int64_t value) {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0} {2}\n", name, help, value);
}

} // namespace

const char* reason_name(Metrics::Rejection r) {
  switch (r) {
  case Metrics::Rejection::signature:
    return "signature";
  case Metrics::Rejection::unknown_number:
    return "unknown_number";
  case Metrics::Rejection::malformed:
    return "malformed";
  case Metrics::Rejection::too_large:
    return "too_large";
  case Metrics::Rejection::chunked:
    return "chunked";
  case Metrics::Rejection::encoding:
    return "encoding";
  case Metrics::Rejection::rate_limited:
    return "rate_limited";
  case Metrics::Rejection::headers:
    return "headers";
  case Metrics::Rejection::failed:
    return "failed";
  }
  return "other";
}

void Metrics::reject(Rejection why) {
  std::lock_guard lock(mu_);
  ++rejected_[why];
}

void Metrics::refused(std::string_view route, std::string_view reason) {
  std::lock_guard lock(mu_);
  ++refused_[std::pair{std::string(route), std::string(reason)}];
}

void Metrics::graph_error(int code) {
  std::lock_guard lock(mu_);
  ++graph_errors_[code];
}

void Metrics::commit(double seconds, std::size_t deliveries) {
  std::lock_guard lock(mu_);
  std::size_t i = 0;
  while (i < bounds_.size() && seconds > bounds_[i]) ++i;
  ++buckets_[i];
  commit_sum_ += seconds;
  ++commits_;
  committed_deliveries_ += deliveries;
}

std::string Metrics::render(const std::vector<HookBacklog>& backlogs) const {
  std::string out;
  counter(out, "wabactl_webhooks_received_total", "Webhook POSTs received.",
          webhooks_received.load());
  counter(out, "wabactl_webhooks_stored_total", "Webhook deliveries committed.",
          webhooks_stored.load());
  counter(out, "wabactl_webhooks_duplicate_total",
          "Webhook deliveries whose exact bytes were stored before.", webhooks_duplicate.load());
  counter(out, "wabactl_webhook_records_duplicate_total",
          "Messages and statuses in deliveries that were already stored.",
          records_duplicate.load());
  counter(out, "wabactl_messages_received_total", "Inbound messages stored.",
          messages_received.load());
  counter(out, "wabactl_statuses_received_total", "Status updates stored.",
          statuses_received.load());
  counter(out, "wabactl_messages_sent_total", "Messages Meta accepted.", messages_sent.load());
  counter(out, "wabactl_messages_failed_total", "Messages that failed to send.",
          messages_failed.load());
  gauge(out, "wabactl_sse_clients", "Connected Server-Sent Events clients.", sse_clients.load());
  gauge(out, "wabactl_ws_clients", "Connected WebSocket clients.", ws_clients.load());
  gauge(out, "wabactl_http_connections",
        "Open HTTP connections (waiting for a request or running one; streams not included).",
        http_connections.load());
  out += "# HELP wabactl_media_downloads_total Inbound media downloads by result.\n"
         "# TYPE wabactl_media_downloads_total counter\n";
  out += fmt::format("wabactl_media_downloads_total{{result=\"stored\"}} {}\n"
                     "wabactl_media_downloads_total{{result=\"retry\"}} {}\n"
                     "wabactl_media_downloads_total{{result=\"failed\"}} {}\n",
                     media.stored.load(), media.retry.load(), media.failed.load());
  gauge(out, "wabactl_media_queued", "Media downloads queued (claimed or waiting).",
        media.queued.load());
  out += "# HELP wabactl_hook_deliveries_total Attempts to deliver forwarded events, by result "
         "(retried: failed and scheduled again; failed: given up after 72 h).\n"
         "# TYPE wabactl_hook_deliveries_total counter\n";
  out += fmt::format("wabactl_hook_deliveries_total{{result=\"acknowledged\"}} {}\n"
                     "wabactl_hook_deliveries_total{{result=\"retried\"}} {}\n"
                     "wabactl_hook_deliveries_total{{result=\"failed\"}} {}\n",
                     hooks.acknowledged.load(), hooks.retried.load(), hooks.failed.load());
  counter(out, "wabactl_hooks_disabled_total",
          "Hooks disabled after 72 h without an "
          "acknowledgement.",
          hooks.disabled.load());
  gauge(out, "wabactl_hook_in_flight", "Forwarded events being delivered now.",
        hooks.in_flight.load());
  out += "# HELP wabactl_hook_pending Deliveries not yet acknowledged or given up, per hook.\n"
         "# TYPE wabactl_hook_pending gauge\n";
  for (const auto& b : backlogs) {
    out += fmt::format("wabactl_hook_pending{{hook=\"{}\",tenant=\"{}\"}} {}\n", b.hook_id,
                       b.tenant_id, b.pending);
  }
  out += "# HELP wabactl_hook_oldest_pending_seconds Age of each hook's oldest pending "
         "delivery (0 when none).\n"
         "# TYPE wabactl_hook_oldest_pending_seconds gauge\n";
  for (const auto& b : backlogs) {
    out += fmt::format("wabactl_hook_oldest_pending_seconds{{hook=\"{}\",tenant=\"{}\"}} {:.3f}\n",
                       b.hook_id, b.tenant_id, b.oldest_seconds);
  }

  std::lock_guard lock(mu_);
  out += "# HELP wabactl_webhooks_rejected_total Webhook requests refused, by reason.\n"
         "# TYPE wabactl_webhooks_rejected_total counter\n";
  for (auto r : {Rejection::signature, Rejection::unknown_number, Rejection::malformed,
                 Rejection::too_large, Rejection::chunked, Rejection::encoding,
                 Rejection::rate_limited, Rejection::headers, Rejection::failed}) {
    auto it = rejected_.find(r);
    out += fmt::format("wabactl_webhooks_rejected_total{{reason=\"{}\"}} {}\n", reason_name(r),
                       it == rejected_.end() ? 0 : it->second);
  }
  out += "# HELP wabactl_requests_refused_total Webhook and API requests refused, by route and "
         "reason.\n"
         "# TYPE wabactl_requests_refused_total counter\n";
  for (const auto& [key, n] : refused_) {
    out += fmt::format("wabactl_requests_refused_total{{route=\"{}\",reason=\"{}\"}} {}\n",
                       key.first, key.second, n);
  }
  out += "# HELP wabactl_graph_errors_total Graph API errors, by Meta error code.\n"
         "# TYPE wabactl_graph_errors_total counter\n";
  for (const auto& [code, n] : graph_errors_) {
    out += fmt::format("wabactl_graph_errors_total{{code=\"{}\"}} {}\n", code, n);
  }
  out += "# HELP wabactl_commit_seconds Time to commit one group of webhook deliveries.\n"
         "# TYPE wabactl_commit_seconds histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += buckets_[i];
    out += fmt::format("wabactl_commit_seconds_bucket{{le=\"{}\"}} {}\n", bounds_[i], cumulative);
  }
  cumulative += buckets_[bounds_.size()];
  out += fmt::format("wabactl_commit_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
  out += fmt::format("wabactl_commit_seconds_sum {:.6f}\nwabactl_commit_seconds_count {}\n",
                     commit_sum_, commits_);
  counter(out, "wabactl_commit_deliveries_total", "Deliveries carried by group commits.",
          committed_deliveries_);
  return out;
}

} // namespace wabactl::server
