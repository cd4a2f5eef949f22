// GET/POST /api/whatsapp/webhook and /api/whatsapp/webhook/{tenant}: Meta's subscription
// check and its deliveries.
#include "server/context.hpp"
#include "wabactl/error.hpp"
#include "wabactl/log.hpp"
#include "wabactl/secrets.hpp"
#include "wabactl/webhook.hpp"

#include <fmt/format.h>
#include <httplib.h>

namespace wabactl::server {
namespace {

constexpr const char* shared_route = "/api/whatsapp/webhook";
constexpr const char* tenant_route = R"(/api/whatsapp/webhook/([a-z0-9][a-z0-9_-]{0,63}))";
constexpr std::size_t max_param = 1024;

bool printable_ascii(const std::string& s) {
  for (char c : s) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

// Logs and counts a refusal, then answers it.
void refuse(Context& ctx, const std::string& address, httplib::Response& res, int status,
            const char* code, const char* message, Metrics::Rejection why) {
  ctx.metrics.reject(why);
  ctx.refusals.refuse("webhook", reason_name(why), status, address, message);
  send_error(res, status, code, message);
}

// A failed signature or verify token: counts towards the address's failure limit, and once
// the address is over it the answer is 429. Requests that pass are never held to it.
void refuse_auth(Context& ctx, const std::string& address, httplib::Response& res, int status,
                 const char* code, const char* message) {
  if (ctx.limiter.failure(address)) {
    res.set_header("Retry-After", "60");
    refuse(ctx, address, res, 429, "rate_limited",
           "too many failed authentication attempts; retry later",
           Metrics::Rejection::rate_limited);
    return;
  }
  refuse(ctx, address, res, status, code, message, Metrics::Rejection::signature);
}

void verify(const httplib::Request& req, httplib::Response& res, Context& ctx,
            const std::optional<std::string>& tenant) {
  std::string address = client_address(req);
  std::string mode = req.get_param_value("hub.mode");
  std::string token = req.get_param_value("hub.verify_token");
  std::string challenge = req.get_param_value("hub.challenge");
  bool ok = false;
  std::string matched;
  if (mode == "subscribe" && !token.empty() && token.size() <= max_param && !challenge.empty() &&
      challenge.size() <= max_param && printable_ascii(challenge)) {
    auto snapshot = ctx.tenants.get();
    // Every token is compared (no early exit), each in constant time.
    for (const auto& [owner, expected] : snapshot->verify_tokens) {
      if (tenant && owner != *tenant) continue;
      if (equal_constant_time(token, expected)) {
        ok = true;
        matched = owner;
      }
    }
  }
  if (!ok) {
    refuse_auth(ctx, address, res, 403, "forbidden", "verification failed");
    return;
  }
  LOG_INFO("webhook verification accepted for tenant {}", matched);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_content(challenge, "text/plain");
}

void receive(const httplib::Request& req, httplib::Response& res, Context& ctx,
             const std::optional<std::string>& tenant) {
  ctx.metrics.webhooks_received.fetch_add(1, std::memory_order_relaxed);
  std::string address = client_address(req);
  const std::string& signature = req.get_header_value("X-Hub-Signature-256");
  if (signature.empty() || signature.size() > 256) {
    refuse_auth(ctx, address, res, 401, "unauthorized", "missing or malformed X-Hub-Signature-256");
    return;
  }
  auto snapshot = ctx.tenants.get();

  std::optional<ParsedDelivery> parsed;
  try {
    parsed = parse_delivery(req.body);
  } catch (const Error&) {
    // Decided below: 400 only when the signature is valid.
  }

  // Only the secrets that could vouch for this body are tried.
  std::vector<SecretCandidate> own;
  const std::vector<SecretCandidate>* candidates = &snapshot->candidates;
  if (tenant) {
    if (auto it = snapshot->app_secret_of_tenant.find(*tenant);
        it != snapshot->app_secret_of_tenant.end()) {
      own.push_back({it->second, {*tenant}, false});
    }
    candidates = &own;
  } else if (parsed && !parsed->phone_number_ids.empty()) {
    std::set<std::string> owners;
    for (const auto& id : parsed->phone_number_ids) {
      if (auto it = snapshot->tenant_of_number.find(id); it != snapshot->tenant_of_number.end()) {
        owners.insert(it->second);
      }
    }
    if (owners.empty()) {
      // Not worth an HMAC, and not counted as an attack: Meta may still be sending for a
      // number whose config was removed.
      refuse(ctx, address, res, 401, "unauthorized",
             "no tenant owns the phone numbers of this delivery",
             Metrics::Rejection::unknown_number);
      return;
    }
    for (const auto& c : snapshot->candidates) {
      for (const auto& t : c.tenants) {
        if (owners.count(t) != 0) {
          own.push_back(c);
          break;
        }
      }
    }
    candidates = &own;
  }

  std::set<std::string> verified = authenticate(req.body, signature, *candidates);
  if (verified.empty()) {
    refuse_auth(ctx, address, res, 401, "unauthorized", "invalid signature");
    return;
  }
  if (!parsed) {
    refuse(ctx, address, res, 400, "bad_request", "the body is not a WhatsApp webhook delivery",
           Metrics::Rejection::malformed);
    return;
  }
  std::map<std::string, std::string> tenant_of_number;
  for (const auto& id : parsed->phone_number_ids) {
    auto it = snapshot->tenant_of_number.find(id);
    if (it != snapshot->tenant_of_number.end() && verified.count(it->second) != 0) {
      tenant_of_number.emplace(id, it->second);
    }
  }
  // Changes for numbers the verifying tenant does not own are kept in the raw archive only;
  // so are template changes for a business account no verifying tenant names.
  for (auto& update : parsed->templates) {
    auto it = snapshot->tenants_of_waba.find(update.waba_id);
    if (it == snapshot->tenants_of_waba.end()) continue;
    for (const auto& t : it->second) {
      if (verified.count(t) != 0) update.tenants.insert(t);
    }
  }

  DeliveryJob job{req.body, std::move(*parsed), std::move(tenant_of_number),
                  tenant ? "tenant:" + *tenant : "shared", "signature"};
  DeliveryOutcome outcome = ctx.writer.store(job);
  if (!outcome.stored) {
    refuse(ctx, address, res, 500, "internal", "the delivery could not be stored; retry",
           Metrics::Rejection::failed);
    return;
  }
  const auto& s = outcome.stats;
  if (s.duplicate_delivery) {
    ctx.metrics.webhooks_duplicate.fetch_add(1, std::memory_order_relaxed);
  } else {
    ctx.metrics.webhooks_stored.fetch_add(1, std::memory_order_relaxed);
  }
  ctx.metrics.messages_received.fetch_add(s.messages, std::memory_order_relaxed);
  ctx.metrics.statuses_received.fetch_add(s.statuses, std::memory_order_relaxed);
  ctx.metrics.records_duplicate.fetch_add(s.duplicates, std::memory_order_relaxed);
  // Written out rather than through a JSON tree: this answers every delivery Meta sends.
  res.set_content(fmt::format(R"({{"duplicates":{},"messages":{},"status":"ok","statuses":{}}})",
                              s.duplicates, s.messages, s.statuses),
                  "application/json");
}

} // namespace

void register_webhook_routes(httplib::Server& http, Context& ctx) {
  http.Get(shared_route, [&ctx](const httplib::Request& req, httplib::Response& res) {
    verify(req, res, ctx, std::nullopt);
  });
  http.Get(tenant_route, [&ctx](const httplib::Request& req, httplib::Response& res) {
    verify(req, res, ctx, req.matches[1].str());
  });
  http.Post(shared_route, [&ctx](const httplib::Request& req, httplib::Response& res) {
    receive(req, res, ctx, std::nullopt);
  });
  http.Post(tenant_route, [&ctx](const httplib::Request& req, httplib::Response& res) {
    receive(req, res, ctx, req.matches[1].str());
  });
}

} // namespace wabactl::server
