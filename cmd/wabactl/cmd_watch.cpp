// wabactl unread --watch: the unread count, printed again each time it changes.
#include "wabactl/cli.hpp"
#include "wabactl/error.hpp"
#include "wabactl/events.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>

#include <ostream>

namespace wabactl::cli {

void run_unread_watch(Context& ctx, const std::string& tenant) {
  std::optional<DaemonStream> daemon;
  auto url = env("WABACTL_URL");
  auto token = env("WABACTL_TOKEN");
  if (url && token) {
    if (url->rfind("http://", 0) != 0 && url->rfind("https://", 0) != 0) {
      throw Error(Exit::usage, fmt::format("$WABACTL_URL '{}' is not an http(s) URL", *url),
                  "for example WABACTL_URL=http://127.0.0.1:8080");
    }
    while (!url->empty() && url->back() == '/') url->pop_back();
    daemon = DaemonStream{*url, *token};
  } else if (url) {
    ctx.warn("$WABACTL_URL is set but $WABACTL_TOKEN is not: watching the database");
  }
  watch_unread(
      ctx.store(), tenant, daemon, std::chrono::milliseconds(250),
      [&ctx](std::int64_t count) {
        if (ctx.globals.json) {
          ctx.print_json({{"count", count}, {"at", now_iso()}});
        } else {
          ctx.out << count << '\n';
        }
        ctx.out.flush();
        return static_cast<bool>(ctx.out);
      },
      [&ctx](const std::string& line) { ctx.warn(line); });
}

} // namespace wabactl::cli
