// The POSTs to hooks and the daemon's forwarder (hook_forwarder.hpp).
#include "wabactl/hook_forwarder.hpp"

#include "graph/curl_api.hpp"
#include "wabactl/error.hpp"
#include "wabactl/hook_queue.hpp"
#include "wabactl/log.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/secrets.hpp"
#include "wabactl/store.hpp"
#include "wabactl/util.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <ctime>
#include <map>
#include <set>
#include <utility>
#include <vector>

namespace wabactl {
namespace {

using Clock = std::chrono::steady_clock;

std::string printable(std::string_view s, std::size_t limit) {
  std::string out;
  for (unsigned char c : s.substr(0, limit)) {
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : ' ');
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// One POST in progress: its easy handle and everything the handle points at.
struct Transfer {
  explicit Transfer(const CurlApi& a) : api(a) {}
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
  ~Transfer() {
    if (easy) api.easy_cleanup(easy);
    if (headers) api.slist_free_all(headers);
  }

  const CurlApi& api;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string body;
  std::string answer;
  bool cut = false; ///< the answer went past hook_answer_limit and was cut there
  bool allow_private = false;
  std::string refused; ///< why the connection was refused, when it was
  Clock::time_point started;
  AttemptResult result; ///< the delivery it carries (the forwarder's)
};

std::size_t on_answer(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::size_t n = size * count;
  std::size_t room = hook_answer_limit - t->answer.size();
  if (n > room) {
    t->answer.append(data, room);
    t->cut = true;
    return 0; // ends the transfer: the rest is never read
  }
  t->answer.append(data, n);
  return n;
}

// Every address libcurl connects to passes here, after resolving: a name that resolves to
// a private address (or is made to, between `hook add` and now) is refused.
curl_socket_t open_socket(void* user, curlsocktype purpose, curl_sockaddr* address) {
  auto* t = static_cast<Transfer*>(user);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  if (!t->allow_private) {
    if (auto why = private_address_reason(&address->addr)) {
      t->refused =
          fmt::format("refused to connect to {}: a {} address", address_text(&address->addr), *why);
      return CURL_SOCKET_BAD;
    }
  }
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

void set_up(Transfer& t, const Hook& hook, const std::string& secret, std::int64_t event_id,
            std::string body) {
  const CurlApi& api = t.api;
  t.easy = api.easy_init();
  if (t.easy == nullptr) throw Error(Exit::internal, "libcurl could not make a request handle");
  t.body = std::move(body);
  t.allow_private = hook.allow_private;
  std::int64_t ts = static_cast<std::int64_t>(std::time(nullptr));
  std::string id = std::to_string(event_id);
  const std::string header_lines[] = {
      "Content-Type: application/json",
      "User-Agent: wabactl/" WABACTL_VERSION,
      "webhook-id: " + id,
      "webhook-timestamp: " + std::to_string(ts),
      "webhook-signature: " + standard_webhook_signature(secret, id, ts, t.body),
      // No "Expect: 100-continue": libcurl would wait up to a second for it.
      "Expect:",
  };
  for (const auto& line : header_lines) {
    curl_slist* next = api.slist_append(t.headers, line.c_str());
    if (next == nullptr) throw Error(Exit::internal, "out of memory");
    t.headers = next;
  }
  CURL* c = t.easy;
  api.easy_setopt(c, CURLOPT_URL, hook.url.c_str());
  api.easy_setopt(c, CURLOPT_HTTPHEADER, t.headers);
  api.easy_setopt(c, CURLOPT_POST, 1L);
  api.easy_setopt(c, CURLOPT_POSTFIELDS, t.body.data());
  api.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t.body.size()));
  api.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  api.easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  api.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  api.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  // A proxy from the environment would make every address check one of the proxy's.
  api.easy_setopt(c, CURLOPT_PROXY, "");
  api.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  // The answer gets its full 10 s; the margin is for connecting and sending.
  api.easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(hook_answer_timeout.count()) + 500L);
  api.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_answer);
  api.easy_setopt(c, CURLOPT_WRITEDATA, &t);
  api.easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  api.easy_setopt(c, CURLOPT_OPENSOCKETDATA, &t);
  api.easy_setopt(c, CURLOPT_PRIVATE, &t);
  t.started = Clock::now();
}

HookAnswer answer_of(Transfer& t, CURLcode rc) {
  HookAnswer a;
  a.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t.started);
  long code = 0;
  t.api.easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &code);
  if (code > 0) a.status = static_cast<int>(code);
  a.excerpt = printable(t.answer, hook_answer_excerpt);
  bool answered = rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && t.cut);
  if (!t.refused.empty()) {
    a.error = t.refused;
  } else if (answered && code >= 200 && code < 300) {
    a.acknowledged = true;
  } else if (answered && code >= 300 && code < 400) {
    a.error = fmt::format("HTTP {}: redirects are not followed", code);
  } else if (answered) {
    a.error = a.excerpt.empty() ? fmt::format("HTTP {}", code)
                                : fmt::format("HTTP {}: {}", code, a.excerpt);
  } else if (rc == CURLE_OPERATION_TIMEDOUT) {
    a.error = fmt::format("no answer within {} s", hook_answer_timeout.count() / 1000);
  } else {
    a.error = t.api.easy_strerror(rc);
    if (code > 0) a.error = fmt::format("HTTP {}, then: {}", code, a.error);
  }
  if (a.error.size() > hook_answer_excerpt) a.error.resize(hook_answer_excerpt);
  return a;
}

} // namespace

HookAnswer post_hook_now(const Hook& hook, const std::string& secret, std::int64_t event_id,
                         const std::string& body) {
  const CurlApi& api = curl_api();
  Transfer t(api);
  set_up(t, hook, secret, event_id, body);
  CURLcode rc = api.easy_perform(t.easy);
  return answer_of(t, rc);
}

struct HookForwarder::Loop {
  explicit Loop(const CurlApi& a) : api(a) {}

  const CurlApi& api;
  CURLM* multi = nullptr;
  std::unique_ptr<Store> store;
  std::map<std::string, ForwardingHook> hooks;
  std::map<std::string, std::string> secrets;
  std::set<std::string> unopened;          ///< hooks whose secret could not be opened (warned once)
  std::map<std::string, std::size_t> busy; ///< attempts in flight per hook
  std::set<std::pair<std::string, std::int64_t>> in_flight;
  /// Finished attempts not recorded yet: the store still says they are due.
  std::set<std::pair<std::string, std::int64_t>> unrecorded;
  std::map<CURL*, std::unique_ptr<Transfer>> transfers;
  std::vector<AttemptResult> results;
  std::int64_t seen_event = -1;
  Clock::time_point hooks_loaded{};
  Clock::time_point recorded{};
  Clock::time_point pruned{};
};

HookForwarder::HookForwarder(HookForwarderOptions options, std::function<const MasterKey&()> key,
                             HookCounters& counters)
    : options_(std::move(options)), key_(std::move(key)), counters_(counters) {}

HookForwarder::~HookForwarder() {
  stop();
}

void HookForwarder::start() {
  const CurlApi& api = curl_api();
  auto loop = std::make_unique<Loop>(api);
  loop->store = std::make_unique<Store>(options_.db, Durability::normal);
  loop->multi = api.multi_init();
  if (loop->multi == nullptr) throw Error(Exit::internal, "libcurl could not make a multi handle");
  {
    std::lock_guard lock(wake_mu_);
    loop_ = std::move(loop);
  }
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void HookForwarder::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  wake();
  thread_.join();
  std::lock_guard lock(wake_mu_);
  for (auto& [easy, t] : loop_->transfers) loop_->api.multi_remove_handle(loop_->multi, easy);
  loop_->transfers.clear();
  loop_->api.multi_cleanup(loop_->multi);
  loop_.reset();
  counters_.in_flight = 0;
}

void HookForwarder::wake() {
  std::lock_guard lock(wake_mu_);
  if (loop_) loop_->api.multi_wakeup(loop_->multi);
}

void HookForwarder::run() {
  Loop& l = *loop_;
  Store& store = *l.store;
  const auto reload_hooks = [&] {
    std::map<std::string, ForwardingHook> now;
    for (auto& f : forwarding_hooks(store)) {
      std::string id = f.hook.id;
      if (l.secrets.count(id) == 0) {
        try {
          l.secrets[id] = hook_secret(store, key_(), f.hook);
          l.unopened.erase(id);
        } catch (const Error& e) {
          if (l.unopened.insert(id).second) {
            LOG_WARN("hook {}: its secret cannot be opened, not forwarding to it: {}", id,
                     e.what());
          }
          continue;
        }
      }
      now.emplace(id, std::move(f));
    }
    for (auto it = l.secrets.begin(); it != l.secrets.end();) {
      it =
          now.count(it->first) || l.unopened.count(it->first) ? std::next(it) : l.secrets.erase(it);
    }
    l.hooks = std::move(now);
    l.hooks_loaded = Clock::now();
  };

  const auto write_transaction = [&](const std::function<void(Store&)>& fn) {
    if (options_.write) {
      options_.write(fn);
    } else {
      store.transaction([&] { fn(store); }, Durability::normal);
    }
  };

  const auto collect = [&] {
    int running = 0;
    l.api.multi_perform(l.multi, &running);
    int left = 0;
    while (CURLMsg* msg = l.api.multi_info_read(l.multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* easy = msg->easy_handle;
      CURLcode rc = msg->data.result;
      auto it = l.transfers.find(easy);
      l.api.multi_remove_handle(l.multi, easy);
      if (it == l.transfers.end()) continue;
      Transfer& t = *it->second;
      HookAnswer a = answer_of(t, rc);
      AttemptResult r = std::move(t.result);
      r.acknowledged = a.acknowledged;
      r.status = a.status;
      if (!a.acknowledged) r.error = a.error;
      LOG_DEBUG("hook {}: event {} {} in {} ms{}", r.hook_id, r.event_id,
                a.acknowledged ? "acknowledged" : "not acknowledged", a.took.count(),
                a.acknowledged ? "" : ": " + a.error);
      l.in_flight.erase({r.hook_id, r.event_id});
      l.unrecorded.insert({r.hook_id, r.event_id});
      if (--l.busy[r.hook_id] == 0) l.busy.erase(r.hook_id);
      l.results.push_back(std::move(r));
      l.transfers.erase(it);
    }
    counters_.in_flight = static_cast<std::int64_t>(l.in_flight.size());
  };

  // Expands new events and records finished attempts, in one write transaction: results
  // are gathered for up to 20 ms so that a busy hook costs a few commits a second.
  const auto write = [&] {
    std::int64_t newest = last_event_id(store);
    bool expand = newest != l.seen_event && !l.hooks.empty();
    auto since = Clock::now() - l.recorded;
    bool record = !l.results.empty() && (l.results.size() >= 256 || l.in_flight.empty() ||
                                         since >= std::chrono::milliseconds(20));
    if (!expand && !record) return;
    std::int64_t now = now_ms();
    RecordedResults rec;
    write_transaction([&](Store& w) {
      if (expand) {
        for (auto& [id, f] : l.hooks) {
          for (int page = 0; page < 8 && expand_hook(w, f, 1000, now) == 1000; ++page) {
          }
        }
      }
      if (record) rec = record_attempts(w, l.results, now);
    });
    if (expand) l.seen_event = newest;
    if (record) {
      l.results.clear();
      l.unrecorded.clear();
      l.recorded = Clock::now();
      counters_.acknowledged += rec.acknowledged;
      counters_.retried += rec.retried;
      counters_.failed += rec.failed;
      counters_.disabled += rec.disabled.size();
      for (const auto& id : rec.disabled) {
        LOG_WARN("hook {}: disabled, no delivery acknowledged for {} hours", id,
                 hook_retry_for.count());
        l.hooks.erase(id);
      }
    }
  };

  const auto dispatch = [&] {
    std::int64_t now = now_ms();
    for (auto& [id, f] : l.hooks) {
      std::size_t mine = l.busy.count(id) ? l.busy[id] : 0;
      if (mine >= options_.per_hook || l.in_flight.size() >= options_.total) continue;
      std::size_t room = std::min(options_.per_hook - mine, options_.total - l.in_flight.size());
      for (auto& d : due_deliveries(store, id, now, room + mine + l.unrecorded.size())) {
        if (room == 0) break;
        if (l.in_flight.count({id, d.event_id}) || l.unrecorded.count({id, d.event_id})) continue;
        auto body = event_json(store, d.event_id);
        if (!body) continue; // its tenant went, and the hook with it
        auto t = std::make_unique<Transfer>(l.api);
        set_up(*t, f.hook, l.secrets[id], d.event_id, std::move(*body));
        t->result.hook_id = id;
        t->result.event_id = d.event_id;
        t->result.lane = std::move(d.lane);
        t->result.attempts = d.attempts;
        t->result.attempted_ms = now;
        CURL* easy = t->easy;
        if (l.api.multi_add_handle(l.multi, easy) != CURLM_OK) break;
        l.transfers.emplace(easy, std::move(t));
        l.in_flight.insert({id, d.event_id});
        ++l.busy[id];
        --room;
      }
    }
    counters_.in_flight = static_cast<std::int64_t>(l.in_flight.size());
  };

  bool failing = false;
  while (!stopping_) {
    collect();
    try {
      if (Clock::now() - l.hooks_loaded >= std::chrono::seconds(1)) reload_hooks();
      write();
      dispatch();
      if (Clock::now() - l.pruned >= std::chrono::hours(1)) {
        write_transaction([&](Store& w) { prune_hook_deliveries(w, now_ms(), 10'000); });
        l.pruned = Clock::now();
      }
      if (failing) LOG_INFO("hook forwarding resumed");
      failing = false;
    } catch (const Error& e) {
      if (!failing) LOG_WARN("hook forwarding paused: {}", e.what());
      failing = true;
    }
    int running = 0;
    l.api.multi_perform(l.multi, &running);
    int timeout = failing ? 1000 : !l.results.empty() ? 20 : 250;
    l.api.multi_poll(l.multi, nullptr, 0, timeout, nullptr);
  }
}

} // namespace wabactl
