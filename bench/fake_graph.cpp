// A fake Graph API for bench/send.sh: answers POST /{version}/{id}/messages like Meta (a new
// wamid per message) and POST .../media with a media id, records when each message arrived,
// and reports on GET /stats: {"messages", "seconds", "rate", "max_in_any_1s_window"}.
// POST /reset forgets what it recorded. Prints its port on stdout, then serves until killed.
//   fake_graph [PORT]      (0 or nothing: any free loopback port)
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

namespace {

std::mutex mu;
std::vector<std::int64_t> arrivals; // steady-clock nanoseconds
std::atomic<long> next_id{1};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

nlohmann::json stats() {
  std::vector<std::int64_t> t;
  {
    std::lock_guard lock(mu);
    t = arrivals;
  }
  std::sort(t.begin(), t.end());
  std::size_t worst = 0;
  for (std::size_t i = 0, j = 0; i < t.size(); ++i) {
    while (t[j] <= t[i] - 1'000'000'000) ++j;
    worst = std::max(worst, i - j + 1);
  }
  double secs = t.size() > 1 ? static_cast<double>(t.back() - t.front()) / 1e9 : 0.0;
  return {{"messages", t.size()},
          {"seconds", secs},
          {"rate", secs > 0 ? static_cast<double>(t.size() - 1) / secs : 0.0},
          {"max_in_any_1s_window", worst}};
}

} // namespace

int main(int argc, char** argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 0;
  httplib::Server server;
  server.set_tcp_nodelay(true);
  server.new_task_queue = [] { return new httplib::ThreadPool(64); };
  // Meta keeps a connection open for many requests. cpp-httplib closes it after 5 by default,
  // and the reconnect storms overflow its 5-deep listen queue: a dropped SYN costs 1 s.
  server.set_keep_alive_max_count(100000);
  server.Post(R"(/v[0-9.]+/([0-9]+)/messages)", [](const httplib::Request& req,
                                                   httplib::Response& res) {
    std::int64_t t = now_ns();
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (!body.is_object() || body.value("messaging_product", "") != "whatsapp") {
      res.status = 400;
      res.set_content(R"({"error":{"message":"(#100) Invalid parameter","type":"OAuthException",)"
                      R"("code":100,"fbtrace_id":"BenchTrace"}})",
                      "application/json");
      return;
    }
    {
      std::lock_guard lock(mu);
      arrivals.push_back(t);
    }
    std::string to = body.value("to", body.value("recipient", ""));
    char id[64];
    std::snprintf(id, sizeof id, "wamid.BENCH%012ld", next_id++);
    nlohmann::json answer = {{"messaging_product", "whatsapp"},
                             {"contacts", {{{"input", to}, {"wa_id", to}}}},
                             {"messages", {{{"id", id}, {"message_status", "accepted"}}}}};
    res.set_content(answer.dump(), "application/json");
  });
  server.Post(R"(/v[0-9.]+/([0-9]+)/media)", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(nlohmann::json{{"id", std::to_string(800000 + next_id++)}}.dump(),
                    "application/json");
  });
  // The business account's catalogue: the one template the batches send.
  server.Get(R"(/v[0-9.]+/([0-9]+)/message_templates)", [](const httplib::Request&,
                                                           httplib::Response& res) {
    res.set_content(R"({"data":[{"id":"1","name":"invoice_ready","language":"en_US",)"
                    R"("status":"APPROVED","category":"UTILITY","components":[{"type":"BODY",)"
                    R"("text":"Hi {{1}}, your invoice of {{2}} is ready."}]}],"paging":{}})",
                    "application/json");
  });
  server.Get("/stats", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(stats().dump(), "application/json");
  });
  server.Post("/reset", [](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(mu);
    arrivals.clear();
    res.set_content("{}", "application/json");
  });
  int bound = port > 0 ? (server.bind_to_port("127.0.0.1", port) ? port : -1)
                       : server.bind_to_any_port("127.0.0.1");
  if (bound <= 0) {
    std::fprintf(stderr, "fake_graph: cannot bind a loopback port\n");
    return 1;
  }
  std::printf("%d\n", bound);
  std::fflush(stdout);
  return server.listen_after_bind() ? 0 : 1;
}
