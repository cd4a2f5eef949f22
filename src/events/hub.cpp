#include "wabactl/events.hpp"

#include "wabactl/log.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/store.hpp"

#include <algorithm>
#include <map>

namespace wabactl {
namespace {

// Events read per query; a backlog is drained in several queries within one poll.
constexpr std::size_t poll_batch = 512;

StreamEventPtr to_stream_event(EventRow& row) {
  auto e = std::make_shared<StreamEvent>();
  e->id = row.id;
  e->type = std::move(row.type);
  e->tenant_id = std::move(row.tenant_id);
  e->json = std::move(row.data);
  return e;
}

std::vector<StreamEventPtr> to_stream_events(std::vector<EventRow> rows) {
  std::vector<StreamEventPtr> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back(to_stream_event(r));
  return out;
}

} // namespace

std::vector<StreamEventPtr> read_events(Store& store, const std::string& tenant, std::int64_t after,
                                        std::size_t limit) {
  return to_stream_events(event_rows_after(store, tenant, after, limit));
}

Subscription::Subscription(std::string tenant, std::size_t limit, std::function<void()> notify)
    : tenant_(std::move(tenant)), limit_(limit), notify_(std::move(notify)) {}

std::vector<StreamEventPtr> Subscription::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [this] { return !queue_.empty() || dropped_; });
  std::vector<StreamEventPtr> out;
  out.swap(queue_);
  return out;
}

std::vector<StreamEventPtr> Subscription::take() {
  std::lock_guard lock(mu_);
  std::vector<StreamEventPtr> out;
  out.swap(queue_);
  return out;
}

bool Subscription::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

void Subscription::push(const std::vector<StreamEventPtr>& events) {
  if (events.empty()) return;
  {
    std::lock_guard lock(mu_);
    if (dropped_) return;
    if (queue_.size() + events.size() > limit_) {
      // A reader this far behind would hold memory without bound: drop it; it resumes
      // from the events table with its last event id.
      dropped_ = true;
      queue_.clear();
    } else {
      queue_.insert(queue_.end(), events.begin(), events.end());
    }
  }
  cv_.notify_all();
  notify();
}

void Subscription::drop() {
  {
    std::lock_guard lock(mu_);
    dropped_ = true;
  }
  cv_.notify_all();
  notify();
}

void Subscription::notify() {
  if (notify_) notify_();
}

EventHub::EventHub(EventHubOptions options) : options_(std::move(options)) {}

EventHub::~EventHub() {
  stop();
}

void EventHub::start() {
  std::lock_guard lock(mu_);
  if (running_) return;
  store_ = std::make_unique<Store>(options_.db, Durability::normal);
  cursor_ = last_event_id(*store_);
  running_ = true;
  thread_ = std::thread([this] { run(); });
}

void EventHub::stop() {
  std::vector<std::shared_ptr<Subscription>> subs;
  {
    std::lock_guard lock(mu_);
    if (!running_ && !thread_.joinable()) return;
    running_ = false;
    subs.swap(subs_);
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& s : subs) s->drop();
  store_.reset();
}

void EventHub::wake() {
  {
    std::lock_guard lock(mu_);
    if (subs_.empty()) return;
    woken_ = true;
  }
  cv_.notify_all();
}

std::shared_ptr<Subscription> EventHub::subscribe(const std::string& tenant,
                                                  std::function<void()> notify) {
  auto sub = std::make_shared<Subscription>(tenant, options_.queue_limit, std::move(notify));
  std::lock_guard lock(mu_);
  if (!running_) {
    sub->drop();
    return sub;
  }
  subs_.push_back(sub);
  return sub;
}

void EventHub::unsubscribe(const std::shared_ptr<Subscription>& subscription) {
  std::lock_guard lock(mu_);
  auto it = std::find(subs_.begin(), subs_.end(), subscription);
  if (it != subs_.end()) {
    *it = std::move(subs_.back());
    subs_.pop_back();
  }
}

std::size_t EventHub::subscribers() const {
  std::lock_guard lock(mu_);
  return subs_.size();
}

std::int64_t EventHub::cursor() const {
  std::lock_guard lock(mu_);
  return cursor_;
}

void EventHub::run() {
  std::unique_lock lock(mu_);
  while (running_) {
    cv_.wait_for(lock, options_.poll_interval, [this] { return woken_ || !running_; });
    if (!running_) break;
    woken_ = false;
    lock.unlock();
    try {
      poll_once(*store_);
    } catch (const std::exception& e) {
      // A busy or briefly locked database is retried at the next poll.
      LOG_WARN("event hub: reading events failed: {}", e.what());
    }
    lock.lock();
  }
}

void EventHub::poll_once(Store& store) {
  {
    std::lock_guard lock(mu_);
    if (subs_.empty()) {
      // Nobody to deliver to: skip the rows; a later subscriber goes live from here on (and
      // replays what it missed from the table by its Last-Event-ID).
      cursor_ = last_event_id(store);
      return;
    }
  }
  for (;;) {
    std::int64_t after = cursor();
    std::vector<StreamEventPtr> batch =
        to_stream_events(event_rows_after(store, std::nullopt, after, poll_batch));
    if (batch.empty()) return;

    std::map<std::string, std::vector<std::shared_ptr<Subscription>>> by_tenant;
    std::vector<std::shared_ptr<Subscription>> gone;
    {
      std::lock_guard lock(mu_);
      for (const auto& s : subs_) by_tenant[s->tenant()].push_back(s);
      cursor_ = batch.back()->id;
    }
    std::map<std::string, std::vector<StreamEventPtr>> events_of;
    for (const auto& e : batch) {
      if (by_tenant.count(e->tenant_id) != 0) events_of[e->tenant_id].push_back(e);
    }
    for (const auto& [tenant, events] : events_of) {
      for (const auto& s : by_tenant[tenant]) s->push(events);
    }
    for (const auto& [tenant, subs] : by_tenant) {
      for (const auto& s : subs) {
        if (s->dropped()) gone.push_back(s);
      }
    }
    for (const auto& s : gone) unsubscribe(s);
    if (batch.size() < poll_batch) return;
  }
}

} // namespace wabactl
