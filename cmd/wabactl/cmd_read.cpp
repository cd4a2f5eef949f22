// wabactl history | unread | mark-read | status
#include "wabactl/cli.hpp"
#include "wabactl/conversations.hpp"
#include "wabactl/error.hpp"
#include "wabactl/graph.hpp"
#include "wabactl/identity.hpp"
#include "wabactl/send.hpp"
#include "wabactl/tenants.hpp"
#include "wabactl/time_bound.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>

#include <chrono>

namespace wabactl::cli {
namespace {

struct HistoryOptions {
  std::string tenant;
  std::optional<std::string> phone;
  std::optional<std::string> contact;
  std::optional<std::string> direction;
  std::int64_t limit = 50;
  std::optional<std::string> before;
  std::optional<std::int64_t> offset;
  std::optional<std::string> search;
  std::optional<std::string> since;
  std::optional<std::string> until;
  std::optional<std::string> format;
  bool all = false;
};

struct UnreadOptions {
  std::string tenant;
  bool by_contact = false;
  bool watch = false;
};

struct MarkOptions {
  std::string tenant;
  std::vector<std::string> ids;
  std::optional<std::string> phone;
  bool all = false;
  bool no_receipt = false;
  bool typing = false;
};

struct StatusOptions {
  std::string tenant;
  std::string id;
};

constexpr std::size_t max_id_length = 512;

void check_tenant(Context& ctx, const std::string& tenant) {
  require_tenant_id(tenant);
  require_tenant(ctx.store(), tenant);
}

void check_message_id(const std::string& id) {
  if (trim(id).empty()) throw Error(Exit::usage, "a message id must not be empty");
  if (id.size() > max_id_length) {
    throw Error(Exit::usage, fmt::format("a message id is at most {} characters", max_id_length));
  }
}

std::string peer_label(const Message& m) {
  std::string who = m.phone_number ? "+" + *m.phone_number : m.user_id.value_or("?");
  if (m.contact_name && !m.contact_name->empty()) who += " (" + *m.contact_name + ")";
  return who;
}

std::string one_line(std::string s, std::size_t max = 200) {
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (s.size() > max) s = s.substr(0, max) + "…";
  return s;
}

enum class Format { text, json, csv };

Format history_format(const HistoryOptions& o, const Context& ctx) {
  if (!o.format) return ctx.globals.json ? Format::json : Format::text;
  Format f;
  if (*o.format == "text") {
    f = Format::text;
  } else if (*o.format == "json") {
    f = Format::json;
  } else if (*o.format == "csv") {
    f = Format::csv;
  } else {
    throw Error(Exit::usage, "--format must be text, json or csv");
  }
  if (ctx.globals.json && f != Format::json) {
    throw Error(Exit::usage,
                fmt::format("--json is --format json; drop it or --format {}", *o.format));
  }
  return f;
}

// One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break.
void csv_field(std::string& out, std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

// A field a customer wrote: a spreadsheet would run one that starts like a formula
// (=, +, -, @, tab, CR), so it gets a leading apostrophe, the usual neutraliser.
void csv_text_field(std::string& out, std::string_view v) {
  if (!v.empty() && std::string_view("=+-@\t\r").find(v.front()) != std::string_view::npos) {
    csv_field(out, "'" + std::string(v));
    return;
  }
  csv_field(out, v);
}

constexpr const char* csv_header =
    "timestamp,direction,phone_number,user_id,contact_name,type,text,status,message_id\r\n";

void print_csv(std::ostream& out, const Message& m) {
  std::string row;
  csv_field(row, m.timestamp);
  row += ',';
  csv_field(row, m.direction);
  row += ',';
  csv_field(row, m.phone_number.value_or(""));
  row += ',';
  csv_field(row, m.user_id.value_or(""));
  row += ',';
  csv_text_field(row, m.contact_name.value_or(""));
  row += ',';
  csv_field(row, m.type);
  row += ',';
  csv_text_field(row, m.revoked_at ? "" : m.text.value_or(""));
  row += ',';
  csv_field(row, m.status);
  row += ',';
  csv_field(row, m.message_id.value_or(std::to_string(m.id)));
  row += "\r\n";
  out << row;
}

void print_text(std::ostream& out, const Message& m) {
  std::string body = m.revoked_at                 ? std::string("[revoked]")
                     : m.text && !m.text->empty() ? *m.text
                                                  : "[" + m.type + "]";
  // The mark goes after the shortened text, where it cannot be cut off.
  std::string edited = m.edited_at && !m.revoked_at ? " [edited]" : "";
  out << fmt::format("{}  {} {}  {}{}  ({}){}\n", m.timestamp,
                     m.direction == "incoming" ? "<" : ">", peer_label(m), one_line(body), edited,
                     m.status, m.read_at || m.direction != "incoming" ? "" : " unread");
}

HistoryQuery history_query(const HistoryOptions& o) {
  HistoryQuery q;
  if (o.phone) q.peer = parse_peer(*o.phone);
  if (o.contact) {
    if (trim(*o.contact).empty() || o.contact->size() > 256) {
      throw Error(Exit::usage, "--contact must be 1 to 256 characters");
    }
    q.contact_id = *o.contact;
  }
  if (o.direction) {
    if (*o.direction == "in" || *o.direction == "incoming") {
      q.direction = Direction::incoming;
    } else if (*o.direction == "out" || *o.direction == "outgoing") {
      q.direction = Direction::outgoing;
    } else {
      throw Error(Exit::usage, "--direction must be 'in' or 'out'");
    }
  }
  if (o.limit < 1 || o.limit > static_cast<std::int64_t>(max_history_limit)) {
    throw Error(Exit::usage, fmt::format("--limit must be between 1 and {}", max_history_limit));
  }
  q.limit = static_cast<std::size_t>(o.limit);
  if (o.before) {
    check_message_id(*o.before);
    q.before = *o.before;
  }
  if (o.offset) {
    if (*o.offset < 0) throw Error(Exit::usage, "--offset must not be negative");
    q.offset = static_cast<std::size_t>(*o.offset);
  }
  q.search = o.search;
  auto now = std::chrono::system_clock::now();
  if (o.since) q.since = parse_time_bound(*o.since, "--since", now);
  if (o.until) q.until = parse_time_bound(*o.until, "--until", now);
  return q;
}

void run_history(const HistoryOptions& o, Context& ctx) {
  require_tenant_id(o.tenant);
  Format format = history_format(o, ctx);
  HistoryQuery q = history_query(o);
  check_tenant(ctx, o.tenant);
  auto print = [&](const Message& m) {
    switch (format) {
    case Format::json:
      ctx.out << to_json_text(m) << '\n';
      break;
    case Format::csv:
      print_csv(ctx.out, m);
      break;
    case Format::text:
      print_text(ctx.out, m);
      break;
    }
  };
  if (format == Format::csv) ctx.out << csv_header;
  std::size_t printed = 0;
  if (o.all) {
    // The pages one after another, newest page first and each oldest to newest, as
    // successive --before pages would print them: one page held at a time.
    std::vector<Message> page;
    page.reserve(q.limit);
    auto flush = [&] {
      for (auto it = page.rbegin(); it != page.rend(); ++it) print(*it);
      printed += page.size();
      page.clear();
    };
    each_message(ctx.store(), o.tenant, q, [&](const Message& m) {
      page.push_back(m);
      if (page.size() == q.limit) flush();
    });
    flush();
  } else {
    auto page = history(ctx.store(), o.tenant, q);
    for (const auto& m : page) print(m);
    printed = page.size();
  }
  if (printed == 0 && format == Format::text) ctx.note("no messages");
}

void run_unread(const UnreadOptions& o, Context& ctx) {
  check_tenant(ctx, o.tenant);
  if (o.watch) {
    if (o.by_contact) throw Error(Exit::usage, "--watch prints the count; drop --by-contact");
    run_unread_watch(ctx, o.tenant);
    return;
  }
  if (!o.by_contact) {
    std::int64_t n = unread_count(ctx.store(), o.tenant);
    if (ctx.globals.json) {
      ctx.print_json({{"count", n}});
    } else {
      ctx.out << n << '\n';
    }
    return;
  }
  auto rows = unread_by_conversation(ctx.store(), o.tenant);
  if (ctx.globals.json) {
    for (const auto& r : rows) {
      ctx.print_json(to_json(r));
    }
    return;
  }
  if (rows.empty()) {
    ctx.note("no unread messages");
    return;
  }
  ctx.out << fmt::format("{:<24}  {:<20}  {:>6}  {:<20}  {}\n", "NAME", "NUMBER", "UNREAD", "LAST",
                         "TEXT");
  for (const auto& r : rows) {
    std::string number = r.phone_number ? "+" + *r.phone_number : r.user_id.value_or("-");
    ctx.out << fmt::format("{:<24}  {:<20}  {:>6}  {:<20}  {}\n",
                           one_line(r.contact_name.value_or("-"), 24), number, r.unread,
                           r.last_message_at, one_line(r.last_text.value_or(""), 60));
  }
}

// Sends one read receipt per conversation; problems are warnings (the local marks stay).
std::size_t send_receipts(Context& ctx, const std::string& tenant, const MarkResult& result,
                          Typing typing) {
  return send_read_receipts(
      result,
      [&] {
        return send_target(
            ctx.store(), [&ctx]() -> const MasterKey& { return ctx.key(); }, tenant);
      },
      [&](const ReceiptProblem& p) {
        switch (p.kind) {
        case ReceiptProblem::Kind::not_configured:
          ctx.warn(fmt::format("tenant {} has no active WhatsApp config: marked read locally "
                               "only, no read receipt sent",
                               tenant));
          break;
        case ReceiptProblem::Kind::unavailable:
          ctx.warn(fmt::format("marked read locally only, no read receipt sent: {}", p.detail));
          break;
        case ReceiptProblem::Kind::failed:
          ctx.warn(fmt::format("read receipt for {} failed (kept marked locally): {}", p.wamid,
                               p.meta             ? describe(*p.meta)
                               : p.detail.empty() ? std::string("no answer")
                                                  : p.detail));
          break;
        }
      },
      typing);
}

void run_mark_read(const MarkOptions& o, Context& ctx) {
  require_tenant_id(o.tenant);
  MarkTarget t;
  for (const auto& id : o.ids) check_message_id(id);
  t.message_ids = o.ids;
  if (o.phone) t.peer = parse_peer(*o.phone);
  t.all = o.all;
  int kinds = (o.ids.empty() ? 0 : 1) + (o.phone ? 1 : 0) + (o.all ? 1 : 0);
  if (kinds != 1) {
    throw Error(Exit::usage, "give message ids, --phone or --all (exactly one of them)");
  }
  // The indicator rides on the read receipt and shows in one chat: refused before anything
  // is marked when there is no receipt, or when the target may span several conversations.
  if (o.typing && o.no_receipt) {
    throw Error(Exit::usage, "--typing is sent with the read receipt; drop --no-receipt");
  }
  if (o.typing && (o.all || o.ids.size() > 1)) {
    throw Error(Exit::usage, "--typing shows in one conversation: give one message id or --phone");
  }
  check_tenant(ctx, o.tenant);
  MarkResult result = mark_read(ctx.store(), o.tenant, t);
  std::size_t receipts =
      o.no_receipt ? 0 : send_receipts(ctx, o.tenant, result, o.typing ? Typing::on : Typing::off);
  if (ctx.globals.json) {
    ctx.print_json({{"marked", result.marked},
                    {"conversations", result.conversations.size()},
                    {"receipts", receipts}});
    return;
  }
  ctx.out << fmt::format("marked {} message{} read", result.marked, result.marked == 1 ? "" : "s");
  if (!o.no_receipt)
    ctx.out << fmt::format(", sent {} read receipt{}", receipts, receipts == 1 ? "" : "s");
  ctx.out << '\n';
}

void run_status(const StatusOptions& o, Context& ctx) {
  require_tenant_id(o.tenant);
  check_message_id(o.id);
  check_tenant(ctx, o.tenant);
  MessageStatus s = message_status(ctx.store(), o.tenant, o.id);
  if (ctx.globals.json) {
    ctx.print_json(to_json(s));
    return;
  }
  const Message& m = s.message;
  std::vector<std::pair<std::string, std::string>> rows = {
      {"id", std::to_string(m.id)},
      {"message_id", m.message_id.value_or("-")},
      {"direction", m.direction},
      {"peer", peer_label(m)},
      {"status", ctx.paint_status(m.status)},
      {"timestamp", m.timestamp},
      {"read_at", m.read_at.value_or("-")}};
  if (m.error) {
    rows.emplace_back("error",
                      fmt::format("{} {}: {}", m.error->code, m.error->title, m.error->details));
  }
  ctx.out << format_fields(rows);
  for (const auto& e : s.history) {
    ctx.out << fmt::format("  {}  {}", e.at, ctx.paint_status(e.status));
    if (e.error) ctx.out << fmt::format("  error {} {}", e.error->code, e.error->title);
    ctx.out << '\n';
  }
}

} // namespace

void setup_read(CLI::App& app, Context& ctx) {
  auto* h = app.add_subcommand("history", "print a page of a tenant's messages, oldest first");
  auto ho = std::make_shared<HistoryOptions>();
  h->add_option("--tenant", ho->tenant, "tenant id")->required()->type_name("ID");
  auto* phone = h->add_option("--phone", ho->phone, "phone number or business-scoped user id")
                    ->type_name("P");
  h->add_option("--contact", ho->contact, "the host app's contact id")
      ->type_name("C")
      ->excludes(phone);
  h->add_option("--direction", ho->direction, "only incoming or outgoing messages")
      ->type_name("in|out");
  h->add_option("--limit", ho->limit, "messages per page (default 50, max 1000)")->type_name("N");
  auto* before = h->add_option("--before", ho->before, "page of messages before this one")
                     ->type_name("MESSAGE_ID");
  h->add_option("--offset", ho->offset, "skip the newest N messages")
      ->type_name("N")
      ->excludes(before);
  h->add_option("--search", ho->search,
                "only messages containing every word (case and accents ignored; word* is a "
                "prefix)")
      ->type_name("TEXT");
  h->add_option("--since", ho->since, "only messages at or after TIME (ISO 8601, or 30m, 24h, 7d)")
      ->type_name("TIME");
  h->add_option("--until", ho->until, "only messages at or before TIME (ISO 8601, or 30m, 24h, 7d)")
      ->type_name("TIME");
  h->add_option("--format", ho->format, "text (default), json (as --json) or csv (RFC 4180)")
      ->type_name("text|json|csv");
  h->add_flag("--all", ho->all, "every matching message, page after page (--limit per page)");
  h->callback([ho, &ctx] { run_history(*ho, ctx); });

  auto* u = app.add_subcommand("unread", "print how many incoming messages are unread");
  auto uo = std::make_shared<UnreadOptions>();
  u->add_option("--tenant", uo->tenant, "tenant id")->required()->type_name("ID");
  u->add_flag("--by-contact", uo->by_contact, "one row per conversation with unread messages");
  u->add_flag("--watch", uo->watch,
              "keep printing the count as it changes (the daemon's stream with $WABACTL_URL "
              "and $WABACTL_TOKEN, else the database)");
  u->callback([uo, &ctx] { run_unread(*uo, ctx); });

  auto* mr = app.add_subcommand("mark-read",
                                "mark messages (and the earlier ones of their conversation) read");
  auto mo = std::make_shared<MarkOptions>();
  mr->add_option("--tenant", mo->tenant, "tenant id")->required()->type_name("ID");
  mr->add_option("message_ids", mo->ids, "local ids or wamids")->type_name("MESSAGE_ID");
  mr->add_option("--phone", mo->phone, "every message of this conversation")->type_name("P");
  mr->add_flag("--all", mo->all, "every conversation");
  mr->add_flag("--no-receipt", mo->no_receipt, "do not send Meta a read receipt");
  mr->add_flag("--typing", mo->typing,
               "show the customer the typing indicator with the read receipt (one conversation)");
  mr->callback([mo, &ctx] { run_mark_read(*mo, ctx); });

  auto* st = app.add_subcommand("status", "print a message's status and its history");
  auto so = std::make_shared<StatusOptions>();
  st->add_option("--tenant", so->tenant, "tenant id")->required()->type_name("ID");
  st->add_option("message_id", so->id, "local id or wamid")->required()->type_name("MESSAGE_ID");
  st->callback([so, &ctx] { run_status(*so, ctx); });
}

} // namespace wabactl::cli
