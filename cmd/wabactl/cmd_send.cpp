// wabactl send: one message, or a batch file
#include "wabactl/cli.hpp"
#include "wabactl/error.hpp"
#include "wabactl/identity.hpp"
#include "wabactl/send.hpp"
#include "wabactl/send_request.hpp"
#include "wabactl/template_check.hpp"
#include "wabactl/tenants.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <ostream>
#include <set>
#include <thread>

namespace wabactl::cli {
namespace {

struct SendOptions {
  std::string tenant;
  std::string to;
  std::optional<std::string> text;
  bool preview_url = false;
  std::optional<std::string> template_name;
  std::optional<std::string> lang;
  std::optional<std::string> header_text;
  std::optional<std::string> header_image;
  std::optional<std::string> header_video;
  std::optional<std::string> header_document;
  std::optional<std::string> filename;
  std::vector<std::string> body_params;
  std::vector<std::string> button_params;
  std::optional<std::string> image;
  std::optional<std::string> video;
  std::optional<std::string> audio;
  std::optional<std::string> document;
  std::optional<std::string> sticker;
  std::optional<std::string> caption;
  std::optional<std::string> reaction;
  std::optional<std::string> location;
  std::optional<std::string> name;
  std::optional<std::string> address;
  std::optional<std::string> reply_to;
  std::optional<std::string> contact_id;
  std::optional<std::string> idempotency_key;
  std::optional<std::string> callback_data;
  bool no_fallback = false;
  bool outside_window = false;
  bool no_template_check = false;
  std::optional<std::string> batch;
  int rate = 80;
  int concurrency = 8;
  bool dry_run = false;
  bool batch_tuning = false;        ///< --rate or --concurrency was given
  std::vector<std::string> resolve; ///< KEY sent|failed
};

[[noreturn]] void usage(const std::string& message, std::string hint = {}) {
  throw Error(Exit::usage, message, std::move(hint));
}

// The options as the request decoder reads them: by the batch columns' names.
TextFields request_fields(const SendOptions& o) {
  TextFields f(TextFields::Style::option);
  auto set = [&f](const char* name, const std::optional<std::string>& v) {
    if (v) f.set(name, *v);
  };
  if (!o.to.empty()) f.set("to", o.to);
  set("text", o.text);
  if (o.preview_url) f.set("preview_url", "true");
  set("template", o.template_name);
  set("lang", o.lang);
  set("header_text", o.header_text);
  set("header_image", o.header_image);
  set("header_video", o.header_video);
  set("header_document", o.header_document);
  set("filename", o.filename);
  if (!o.body_params.empty()) f.set_list("body_params", o.body_params);
  if (!o.button_params.empty()) f.set_list("button_params", o.button_params);
  set("image", o.image);
  set("video", o.video);
  set("audio", o.audio);
  set("document", o.document);
  set("sticker", o.sticker);
  set("caption", o.caption);
  set("reaction", o.reaction);
  set("location", o.location);
  set("name", o.name);
  set("address", o.address);
  set("reply_to", o.reply_to);
  set("contact_id", o.contact_id);
  set("idempotency_key", o.idempotency_key);
  set("callback_data", o.callback_data);
  if (o.outside_window) f.set("outside_window", "true");
  if (o.no_template_check) f.set("no_template_check", "true");
  return f;
}

void print_sent(Context& ctx, const SendOutcome& o) {
  const Message& m = *o.message;
  if (o.duplicate) ctx.note("idempotency key already used: nothing was sent again");
  if (ctx.globals.json) {
    auto j = to_json(m);
    if (o.duplicate) j["replayed"] = true;
    ctx.print_json(j);
    return;
  }
  std::string who = m.phone_number ? *m.phone_number : m.user_id.value_or("?");
  ctx.out << fmt::format("{} {} to {}\n", m.status == "queued" ? "queued" : "sent",
                         m.message_id.value_or("(no id)"), who);
}

std::optional<SendTarget> target_for(Context& ctx, const std::string& tenant) {
  return send_target(
      ctx.store(), [&ctx]() -> const MasterKey& { return ctx.key(); }, tenant);
}

void run_one(const SendOptions& o, Context& ctx) {
  TextFields fields = request_fields(o);
  PreparedSend prepared = prepare_send(decode_send_request(o.tenant, fields));
  auto target = target_for(ctx, o.tenant);
  if (!target) {
    std::string what = fmt::format("tenant '{}' has no active WhatsApp config", o.tenant);
    std::string hint = fmt::format("set one with 'wabactl config set --tenant {} ...'", o.tenant);
    if (o.no_fallback) throw Error(Exit::not_found, what + ": nothing was sent", hint);
    auto link = wa_me_link(prepared);
    if (ctx.globals.json)
      ctx.print_json({{"fallback_url", link ? nlohmann::json(*link) : nullptr}});
    if (!link) {
      throw Error(Exit::not_configured,
                  what + ": nothing was sent, and a WhatsApp user id has no wa.me link", hint);
    }
    if (!ctx.globals.json) ctx.out << *link << '\n';
    throw Error(Exit::not_configured, what + ": printed a wa.me link instead of sending", hint);
  }
  SendCheck check(ctx.store(), o.tenant);
  if (auto warning = check.check(prepared, fields)) ctx.warn(*warning);
  SharedStore shared(ctx.store());
  Sender sender(shared, std::move(*target), SendPolicy{}, steady_clock());
  SendOutcome outcome = sender.send(prepared);
  if (outcome.unknown && ctx.globals.json && outcome.message) {
    auto j = to_json(*outcome.message);
    j["state"] = "unknown";
    ctx.print_json(j);
  }
  if (outcome.exit != Exit::ok) throw Error(outcome.exit, outcome.error, outcome.hint);
  print_sent(ctx, outcome);
}

void run_resolve(const SendOptions& o, Context& ctx) {
  const std::string& key = o.resolve[0];
  const std::string& how = o.resolve[1];
  if (how != "sent" && how != "failed") {
    usage(fmt::format("--resolve {} takes 'sent' or 'failed', not '{}'", key, how.substr(0, 32)),
          "sent: it arrived, never send it again; failed: it did not, the next run sends it");
  }
  require_tenant_id(o.tenant);
  Message m = resolve_send(ctx.store(), o.tenant, key, how == "sent");
  if (ctx.globals.json) {
    ctx.print_json(to_json(m));
    return;
  }
  ctx.out << fmt::format("message {} (idempotency key '{}') resolved as {}\n", m.id, key, how);
}

// While a batch runs, SIGINT and SIGTERM are taken by a watcher thread (the other threads
// block them) instead of ending the process: the batch stops taking rows and settles the
// ones it holds. A second signal ends the process at once.
class StopOnSignal {
public:
  StopOnSignal() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    watcher_ = std::thread([this] { watch(); });
  }
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;
  ~StopOnSignal() {
    done_.store(true);
    watcher_.join();
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  const std::atomic<int>& signal() const { return signal_; }

private:
  void watch() {
    const timespec tick{0, 50'000'000};
    while (!done_.load()) {
      int sig = sigtimedwait(&set_, nullptr, &tick);
      if (sig <= 0) continue;
      if (signal_.exchange(sig) != 0) {
        std::signal(sig, SIG_DFL);
        pthread_sigmask(SIG_UNBLOCK, &set_, nullptr);
        ::raise(sig);
      }
    }
  }

  sigset_t set_{};
  sigset_t old_{};
  std::atomic<int> signal_{0};
  std::atomic<bool> done_{false};
  std::thread watcher_;
};

// A one-line progress bar, redrawn in place on a terminal.
class Progress {
public:
  Progress(std::ostream& err, std::size_t total, bool enabled)
      : err_(err), total_(total), enabled_(enabled), start_(steady_clock().now()) {}
  void update(std::size_t done) {
    if (!enabled_) return;
    auto now = steady_clock().now();
    if (done != total_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
    double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0;
    constexpr std::size_t width = 30;
    std::size_t filled = total_ == 0 ? width : done * width / total_;
    err_ << fmt::format("\r[{}{}] {}/{} {:.0f}/s ETA {:.0f}s ", std::string(filled, '#'),
                        std::string(width - filled, '.'), done, total_, rate, eta)
         << std::flush;
  }
  void finish() {
    if (enabled_) err_ << '\n';
  }

private:
  std::ostream& err_;
  std::size_t total_;
  bool enabled_;
  std::chrono::nanoseconds start_;
  std::chrono::nanoseconds last_{0};
};

void run_batch_file(const SendOptions& o, Context& ctx) {
  if (o.rate < 1 || o.rate > 10000) usage("--rate must be between 1 and 10000 messages per second");
  if (o.concurrency < 1 || o.concurrency > 32) usage("--concurrency must be between 1 and 32");
  require_tenant_id(o.tenant);
  require_tenant(ctx.store(), o.tenant);
  SendCheck check(ctx.store(), o.tenant, SendChecks{!o.no_template_check, !o.outside_window});
  std::vector<BatchRow> rows =
      read_batch(*o.batch, o.tenant, {},
                 [&check](PreparedSend& p, const RequestFields& f) { return check.check(p, f); });
  std::set<std::string> warnings;
  for (const auto& row : rows) {
    if (row.warning && warnings.insert(*row.warning).second) ctx.warn(*row.warning);
  }
  std::size_t invalid = 0;
  if (o.dry_run) {
    for (const auto& row : rows) {
      BatchResult r;
      r.row = row.row;
      if (row.prepared) {
        ctx.print_json({{"row", row.row}, {"ok", true}, {"dry_run", true}});
        continue;
      }
      ++invalid;
      r.title = row.refused.empty() ? "invalid row" : row.refused;
      r.details = row.error;
      ctx.print_json(to_json(r));
    }
    ctx.note(fmt::format("dry run: {} rows, {} valid, {} invalid; nothing was sent", rows.size(),
                         rows.size() - invalid, invalid));
    if (invalid > 0) {
      throw Error(Exit::partial, fmt::format("{} of {} rows are invalid", invalid, rows.size()));
    }
    return;
  }
  StopOnSignal stop;
  auto target = target_for(ctx, o.tenant);
  if (!target) {
    throw Error(
        Exit::not_configured,
        fmt::format("tenant '{}' has no active WhatsApp config: nothing was sent", o.tenant),
        fmt::format("set one with 'wabactl config set --tenant {} ...'", o.tenant));
  }
  BatchOptions options;
  options.rate = o.rate;
  options.concurrency = o.concurrency;
  options.policy.stop = &stop.signal();
  SharedStore shared(ctx.store());
  Progress progress(ctx.err, rows.size(), ::isatty(STDERR_FILENO) == 1 && ctx.globals.quiet == 0);
  std::size_t done = 0;
  BatchSummary s =
      run_batch(shared, *target, rows, options, steady_clock(), [&](const BatchResult& r) {
        ctx.out << to_json(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                << '\n';
        ctx.out.flush();
        progress.update(++done);
      });
  progress.finish();
  double secs = std::chrono::duration<double>(s.elapsed).count();
  ctx.note(fmt::format(
      "batch: {} rows: {} sent, {} replayed (sent before), {} failed{}{} in {:.1f} s "
      "({:.0f} messages/s)",
      rows.size(), s.sent, s.replayed, s.failed,
      s.unknown > 0 ? fmt::format(" ({} with an unknown outcome)", s.unknown) : std::string(),
      s.not_attempted > 0 ? fmt::format(", {} not attempted", s.not_attempted) : std::string(),
      secs, secs > 0 ? static_cast<double>(s.sent) / secs : 0.0));
  if (s.signal != 0) {
    throw Error(s.signal == SIGTERM ? Exit::terminated : Exit::interrupted,
                fmt::format("stopped by {}: {} rows not sent",
                            s.signal == SIGTERM ? "SIGTERM" : "SIGINT", s.not_attempted),
                "run the same command again to go on: rows sent before are not sent twice");
  }
  if (s.credentials_rejected) {
    throw Error(
        Exit::credentials,
        fmt::format("Meta rejected the access token of tenant '{}': the batch stopped", o.tenant),
        "set a new token with 'wabactl config set --access-token-file FILE', then run the "
        "batch again: rows with an idempotency_key that succeeded are skipped");
  }
  if (s.unknown > 0) {
    throw Error(Exit::tempfail,
                fmt::format("{} of {} rows have an unknown outcome ({} failed in all)", s.unknown,
                            rows.size(), s.failed),
                "they are the lines with \"state\": \"unknown\"; settle each with 'wabactl send "
                "--tenant " +
                    o.tenant + " --resolve KEY sent|failed'");
  }
  if (s.failed > 0) {
    throw Error(Exit::partial, fmt::format("{} of {} rows failed", s.failed, rows.size()),
                "the failed rows are the lines with \"ok\": false on stdout");
  }
}

void run(const SendOptions& o, Context& ctx) {
  if (!o.resolve.empty()) {
    if (o.batch || !o.to.empty() || o.text || o.template_name || o.image || o.video || o.audio ||
        o.document || o.sticker || o.reaction || o.location || o.idempotency_key || o.dry_run ||
        o.batch_tuning) {
      usage("--resolve KEY sent|failed settles an earlier send: give it with --tenant only");
    }
    run_resolve(o, ctx);
    return;
  }
  if (o.batch) {
    if (!o.to.empty() || o.text || o.template_name || o.image || o.video || o.audio || o.document ||
        o.sticker || o.reaction || o.location || o.reply_to || o.idempotency_key ||
        o.callback_data || o.contact_id) {
      usage("--batch takes recipients and content from the file: drop --to and the content "
            "options");
    }
    run_batch_file(o, ctx);
    return;
  }
  if (o.dry_run || o.batch_tuning) usage("--dry-run, --rate and --concurrency go with --batch");
  run_one(o, ctx);
}

} // namespace

void setup_send(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<SendOptions>();
  auto* s = app.add_subcommand("send", "send a message (text, template, media, reaction, "
                                       "location), or a batch from a CSV/JSONL file");
  s->add_option("--tenant", o->tenant, "tenant id")->required()->type_name("ID");
  s->add_option("--to", o->to, "recipient: +15551234567 or a user id (US.…)")
      ->type_name("RECIPIENT");
  s->add_option("--text", o->text, "send a text message")->type_name("BODY")->group("Content");
  s->add_flag("--preview-url", o->preview_url, "let WhatsApp preview a link in the text")
      ->group("Content");
  s->add_option("--template", o->template_name, "send an approved template")
      ->type_name("NAME")
      ->group("Content");
  s->add_option("--lang", o->lang, "the template's language code (en_US)")
      ->type_name("CODE")
      ->group("Template");
  s->add_option("--header-text", o->header_text, "the template header's text parameter")
      ->type_name("T")
      ->group("Template");
  s->add_option("--header-image", o->header_image, "the template header's image")
      ->type_name("URL|PATH")
      ->group("Template");
  s->add_option("--header-video", o->header_video, "the template header's video")
      ->type_name("URL|PATH")
      ->group("Template");
  s->add_option("--header-document", o->header_document, "the template header's document (PDF)")
      ->type_name("URL|PATH")
      ->group("Template");
  s->add_option("--body-param", o->body_params, "a body parameter, in order (repeatable)")
      ->type_name("VALUE")
      ->group("Template");
  s->add_option("--button-param", o->button_params, "a url button's parameter (repeatable)")
      ->type_name("INDEX:VALUE")
      ->group("Template");
  s->add_option("--image", o->image, "send an image (jpeg/png, 5 MB)")
      ->type_name("URL|PATH")
      ->group("Content");
  s->add_option("--video", o->video, "send a video (mp4/3gp, 16 MB)")
      ->type_name("URL|PATH")
      ->group("Content");
  s->add_option("--audio", o->audio, "send audio (aac/amr/mp3/m4a/ogg, 16 MB)")
      ->type_name("URL|PATH")
      ->group("Content");
  s->add_option("--document", o->document, "send a document (pdf/doc(x)/xls(x)/ppt(x)/txt, 100 MB)")
      ->type_name("URL|PATH")
      ->group("Content");
  s->add_option("--sticker", o->sticker, "send a sticker (webp, 500 KB)")
      ->type_name("URL|PATH")
      ->group("Content");
  s->add_option("--caption", o->caption, "caption of an image, video or document")
      ->type_name("C")
      ->group("Content");
  s->add_option("--filename", o->filename, "file name shown for a document")
      ->type_name("F")
      ->group("Content");
  s->add_option("--reaction", o->reaction, "react to --reply-to with EMOJI (empty removes it)")
      ->type_name("EMOJI")
      ->group("Content");
  s->add_option("--location", o->location, "send a location")
      ->type_name("LAT,LON")
      ->group("Content");
  s->add_option("--name", o->name, "the location's name")->type_name("N")->group("Content");
  s->add_option("--address", o->address, "the location's address")
      ->type_name("A")
      ->group("Content");
  s->add_option("--reply-to", o->reply_to, "reply to (or react to) a message: wamid or local id")
      ->type_name("MESSAGE_ID");
  s->add_option("--contact-id", o->contact_id, "your own contact id, stored with the message")
      ->type_name("C");
  s->add_option("--idempotency-key", o->idempotency_key,
                "send at most once per tenant and KEY; a repeat prints the first result")
      ->type_name("KEY");
  s->add_option("--callback-data", o->callback_data,
                "opaque data (≤ 512 bytes) echoed in status webhooks")
      ->type_name("S");
  s->add_flag("--no-fallback", o->no_fallback,
              "without an active config, fail (exit 3) instead of printing a wa.me link");
  s->add_flag("--outside-window", o->outside_window,
              "send free-form content even when the 24-hour window is closed");
  s->add_flag("--no-template-check", o->no_template_check,
              "send a template without checking it against the synced catalogue");
  s->add_option("--batch", o->batch, "send every row of a CSV or JSON Lines file")
      ->type_name("FILE")
      ->group("Batch");
  auto* rate =
      s->add_option("--rate", o->rate, "messages per second for the phone number (default 80)")
          ->type_name("N")
          ->group("Batch");
  auto* concurrency =
      s->add_option("--concurrency", o->concurrency, "parallel sends, 1-32 (default 8)")
          ->type_name("N")
          ->group("Batch");
  s->add_flag("--dry-run", o->dry_run, "check every row and file; send nothing")->group("Batch");
  s->add_option("--resolve", o->resolve,
                "settle a send whose outcome is unknown: it arrived (sent) or not (failed)")
      ->expected(2)
      ->type_name("KEY sent|failed");
  s->callback([o, rate, concurrency, &ctx] {
    o->batch_tuning = rate->count() > 0 || concurrency->count() > 0;
    run(*o, ctx);
  });
}

} // namespace wabactl::cli
