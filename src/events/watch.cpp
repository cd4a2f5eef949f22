// `unread --watch`: the unread count as it changes, from the daemon's SSE stream or, when
// no daemon is reachable, from the events table.
#include "wabactl/error.hpp"
#include "wabactl/events.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/store.hpp"
#include "wabactl/tokens.hpp"

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <thread>

namespace wabactl {
namespace {

constexpr std::size_t max_line = 1 << 20;
constexpr int max_reconnects = 5;

// Splits an SSE byte stream into events; calls `on_event(id, data)` for each.
class SseParser {
public:
  explicit SseParser(std::function<bool(const std::string&, const std::string&)> on_event)
      : on_event_(std::move(on_event)) {}

  bool feed(const char* data, std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) {
      char c = data[i];
      if (c != '\n') {
        if (c != '\r') line_.push_back(c);
        if (line_.size() > max_line) return false;
        continue;
      }
      if (line_.empty()) {
        if (!data_.empty() && !on_event_(id_, data_)) return false;
        data_.clear();
      } else if (line_.rfind("data:", 0) == 0) {
        std::string_view v = std::string_view(line_).substr(5);
        if (!v.empty() && v[0] == ' ') v.remove_prefix(1);
        if (!data_.empty()) data_ += '\n';
        data_ += v;
      } else if (line_.rfind("id:", 0) == 0) {
        std::string_view v = std::string_view(line_).substr(3);
        if (!v.empty() && v[0] == ' ') v.remove_prefix(1);
        id_ = std::string(v);
      }
      line_.clear();
    }
    return true;
  }

private:
  std::function<bool(const std::string&, const std::string&)> on_event_;
  std::string line_;
  std::string data_;
  std::string id_;
};

enum class StreamEnd { stopped, lost, refused, foreign };

Error foreign_token(const std::string& tenant) {
  return Error(Exit::credentials,
               fmt::format("$WABACTL_TOKEN is not a token of tenant '{}'", tenant),
               fmt::format("create one with 'wabactl token create --tenant {}'", tenant));
}

StreamEnd follow_stream(const DaemonStream& daemon, const std::string& tenant, std::string& last_id,
                        std::int64_t& count, const std::function<bool(std::int64_t)>& on_count,
                        std::string& why) {
  httplib::Client client(daemon.url);
  client.set_connection_timeout(std::chrono::seconds(3));
  // The daemon pings every 15 s: a longer silence means the connection is gone.
  client.set_read_timeout(std::chrono::seconds(40));
  httplib::Headers headers = {{"Authorization", "Bearer " + daemon.token},
                              {"Accept", "text/event-stream"}};
  if (!last_id.empty()) headers.emplace("Last-Event-ID", last_id);
  bool stopped = false;
  bool foreign = false;
  int status = 0;
  SseParser parser([&](const std::string& id, const std::string& data) {
    if (!id.empty()) last_id = id;
    auto j = nlohmann::json::parse(data, nullptr, false);
    // The daemon streams the token's own tenant: events of another tenant mean the token
    // is not this tenant's, and its counts must not be printed as this tenant's.
    if (auto t = j.is_object() ? j.find("tenant_id") : j.end();
        j.is_object() && t != j.end() && *t != tenant) {
      foreign = true;
      return false;
    }
    if (j.is_object() && j.contains("unread") && j["unread"].is_number_integer()) {
      std::int64_t n = j["unread"].get<std::int64_t>();
      if (n != count) {
        count = n;
        if (!on_count(n)) {
          stopped = true;
          return false;
        }
      }
    }
    return true;
  });
  auto res = client.Get(
      "/api/whatsapp/events", headers,
      [&](const httplib::Response& r) {
        status = r.status;
        return r.status == 200;
      },
      [&](const char* data, std::size_t size) { return parser.feed(data, size); });
  if (stopped) return StreamEnd::stopped;
  if (foreign) return StreamEnd::foreign;
  if (status != 0 && status != 200) {
    why = fmt::format("the daemon answered HTTP {}", status);
    return status == 401 || status == 404 ? StreamEnd::refused : StreamEnd::lost;
  }
  why = res ? "the stream ended" : httplib::to_string(res.error());
  return StreamEnd::lost;
}

} // namespace

void watch_unread(Store& store, const std::string& tenant,
                  const std::optional<DaemonStream>& daemon,
                  std::chrono::milliseconds poll_interval,
                  const std::function<bool(std::int64_t)>& on_count,
                  const std::function<void(const std::string&)>& note) {
  // The daemon may use another database than this process, so its stream is checked too.
  if (daemon) {
    if (auto known = authenticate_token(store, daemon->token);
        known && known->tenant_id != tenant) {
      throw foreign_token(tenant);
    }
  }
  std::int64_t cursor = last_event_id(store);
  std::int64_t count = unread_count(store, tenant);
  if (!on_count(count)) return;

  if (daemon) {
    std::string last_id = std::to_string(cursor);
    int failures = 0;
    for (;;) {
      std::string why;
      StreamEnd end = follow_stream(*daemon, tenant, last_id, count, on_count, why);
      if (end == StreamEnd::stopped) return;
      if (end == StreamEnd::foreign) throw foreign_token(tenant);
      if (end == StreamEnd::refused || ++failures > max_reconnects) {
        note(fmt::format("cannot follow the daemon at {} ({}): watching the database instead",
                         daemon->url, why));
        break;
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    cursor = last_event_id(store);
    std::int64_t now = unread_count(store, tenant);
    if (now != count) {
      count = now;
      if (!on_count(count)) return;
    }
  }

  EventFollower table(tenant, cursor);
  for (;;) {
    std::this_thread::sleep_for(poll_interval);
    if (table.next(store, 1000).empty()) continue;
    std::int64_t now = unread_count(store, tenant);
    if (now == count) continue;
    count = now;
    if (!on_count(count)) return;
  }
}

} // namespace wabactl
