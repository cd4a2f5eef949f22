// Where a stream starts and how it goes on: the resume point its client gave, and the replay
// from the events table that hands over to the hub's live events without a gap or a twin.
#include "wabactl/error.hpp"
#include "wabactl/events.hpp"
#include "wabactl/util.hpp"

#include <charconv>

namespace wabactl {

std::optional<std::int64_t> parse_last_event_id(const std::optional<std::string>& header,
                                                const std::optional<std::string>& query) {
  const std::optional<std::string>& given = header ? header : query;
  if (!given) return std::nullopt;
  std::string_view v = trim(*given);
  if (v.empty()) return std::nullopt;
  std::int64_t id = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), id);
  if (ec != std::errc() || end != v.data() + v.size() || id < 0) {
    throw Error(Exit::usage, "Last-Event-ID must be an event id (a number)");
  }
  return id;
}

EventFollower::EventFollower(std::string tenant, std::int64_t cursor,
                             std::shared_ptr<Subscription> live)
    : tenant_(std::move(tenant)), cursor_(cursor), live_(std::move(live)) {}

std::vector<StreamEventPtr> EventFollower::next(Store& store, std::size_t page) {
  if (replaying_) {
    std::vector<StreamEventPtr> events = read_events(store, tenant_, cursor_, page);
    if (!events.empty()) cursor_ = events.back()->id;
    // Live events queued in the subscription meanwhile; without one the table is all there is.
    if (events.size() < page && live_) replaying_ = false;
    if (!events.empty() || replaying_) return events;
  }
  std::vector<StreamEventPtr> events;
  for (auto& e : live_->take()) {
    if (e->id <= cursor_) continue;
    cursor_ = e->id;
    events.push_back(std::move(e));
  }
  return events;
}

} // namespace wabactl
