#include "wabactl/cli.hpp"

#include "wabactl/configs.hpp"
#include "wabactl/error.hpp"
#include "wabactl/log.hpp"
#include "wabactl/paths.hpp"
#include "wabactl/suggest.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <ostream>

namespace wabactl::cli {
namespace {

// The command families, in the order `wabactl --help` lists them.
constexpr SetupFn families[] = {
    setup_key,   setup_tenant,   setup_config, setup_send,  setup_read,
    setup_media, setup_template, setup_hook,   setup_token, setup_serve,
};

// The family that registers each top-level command. Building only that one saves most of
// the command tree's construction (a few hundred options and their strings) in every
// short-lived process; a command missing here simply gets the whole tree.
struct CommandFamily {
  std::string_view command;
  SetupFn setup;
};
constexpr CommandFamily family_of_command[] = {
    {"key", setup_key},        {"tenant", setup_tenant},     {"config", setup_config},
    {"send", setup_send},      {"history", setup_read},      {"unread", setup_read},
    {"mark-read", setup_read}, {"status", setup_read},       {"token", setup_token},
    {"media", setup_media},    {"template", setup_template}, {"templates", setup_template},
    {"hook", setup_hook},      {"hooks", setup_hook},        {"serve", setup_serve},
};

constexpr const char* system_config = "/etc/wabactl/wabactl.conf";

// 512 KiB of WAL costs the next process at most about 0.4 ms to read; at 16-23 KiB per
// send, the last command folds it in about once every 25 sends when no daemon keeps the
// database open.
constexpr std::uintmax_t cli_wal_limit = 512 * 1024;

// SGR codes for the few words that carry colour.
constexpr const char* red_bold = "1;31";
constexpr const char* yellow_bold = "1;33";
constexpr const char* green = "32";
constexpr const char* red = "31";
constexpr const char* yellow = "33";

std::string sgr(const std::string& text, const char* code, bool on) {
  return on ? fmt::format("\033[{}m{}\033[0m", code, text) : text;
}

void print_error(const Context& ctx, const std::string& message, const std::string& hint) {
  std::string line = message;
  std::replace(line.begin(), line.end(), '\n', ' ');
  ctx.err << sgr("wabactl: error:", red_bold, ctx.err_color()) << ' ' << line;
  if (!hint.empty()) ctx.err << "; hint: " << hint;
  ctx.err << '\n';
}

// Whether argv holds `option`, alone or as --option=VALUE.
bool has_option(int argc, const char* const* argv, std::string_view option) noexcept {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == option || (a.size() > option.size() && a.substr(0, option.size()) == option &&
                        a[option.size()] == '=')) {
      return true;
    }
  }
  return false;
}

// The long names of `app`'s visible options, its option groups' and (for fallthrough) its
// parents', spelled as typed: what a mistyped long option may have meant.
void option_names(const CLI::App* app, std::vector<std::string>& names) {
  for (const CLI::Option* opt : app->get_options()) {
    if (opt->get_group().empty()) continue; // hidden on purpose
    for (const std::string& n : opt->get_lnames()) names.push_back("--" + n);
  }
  for (const CLI::App* group :
       app->get_subcommands([](const CLI::App* a) { return a->get_name().empty(); })) {
    option_names(group, names);
  }
  if (app->get_parent() != nullptr && !app->get_name().empty())
    option_names(app->get_parent(), names);
}

std::vector<std::string> command_names(const CLI::App* app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app->get_subcommands({})) {
    if (!sub->get_name().empty()) names.push_back(sub->get_name());
  }
  return names;
}

// Whether a stream gets colour: --color always or never decides; auto gives colour on a
// terminal unless $NO_COLOR is set (and not empty) or $TERM is "dumb". An explicit --color
// beats $NO_COLOR, as no-color.org asks.
bool use_color(std::string_view mode, bool is_tty) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && *no_color != '\0') return false;
  const char* term = std::getenv("TERM");
  if (term != nullptr && std::string_view(term) == "dumb") return false;
  return is_tty;
}

// Each command's --help lists the global options too: they are accepted after the command.
class HelpFormatter : public CLI::Formatter {
public:
  std::string make_footer(const CLI::App* app) const override {
    std::string globals;
    if (app->get_parent() != nullptr && !app->get_name().empty()) {
      const CLI::App* root = app;
      while (root->get_parent() != nullptr) root = root->get_parent();
      for (const CLI::Option* opt : root->get_options()) {
        if (opt->get_group().empty() || opt->check_lname("help") || opt->check_lname("version")) {
          continue;
        }
        globals += make_option(opt, false);
      }
      if (!globals.empty()) globals = "Global options:\n" + globals + "\n";
    }
    return globals + CLI::Formatter::make_footer(app);
  }
};

} // namespace

Context::Context(std::ostream& o, std::ostream& e, bool stdout_is_tty, bool stderr_is_tty)
    : out(o), err(e), stdout_is_tty_(stdout_is_tty), stderr_is_tty_(stderr_is_tty) {}

bool Context::out_color() const {
  return !globals.json && use_color(globals.color, stdout_is_tty_);
}

bool Context::err_color() const {
  return use_color(globals.color, stderr_is_tty_);
}

std::string Context::paint(const std::string& text, const char* code) const {
  return sgr(text, code, out_color());
}

std::string Context::paint_status(const std::string& status) const {
  if (status == "read" || status == "delivered") return paint(status, green);
  if (status == "failed") return paint(status, red);
  if (status == "queued") return paint(status, yellow);
  return status;
}

Store& Context::store() {
  if (!store_) {
    auto resolved = resolve_db_path(
        globals.db.empty() ? std::nullopt : std::optional<std::filesystem::path>(globals.db));
    LOG_DEBUG("database {} ({})", resolved.path.string(), resolved.origin);
    store_ = std::make_unique<Store>(resolved.path);
    store_->checkpoint_on_close_past(cli_wal_limit);
  }
  return *store_;
}

KeyOptions Context::key_options() const {
  KeyOptions o;
  if (!globals.key_file.empty()) o.key_file = globals.key_file;
  return o;
}

const MasterKey& Context::key() {
  if (!key_) key_.emplace(load_master_key(key_options(), store()));
  return *key_;
}

void Context::print_json(const nlohmann::json& value) {
  out << value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

void Context::warn(const std::string& message) {
  if (globals.quiet == 0) {
    err << sgr("wabactl: warning:", yellow_bold, err_color()) << ' ' << message << '\n';
  }
}

void Context::note(const std::string& message) {
  if (globals.quiet == 0) err << message << '\n';
}

std::optional<std::string> read_secret(const std::string& file, bool from_stdin,
                                       const char* env_name, const char* what) {
  constexpr std::size_t limit = 64 * 1024;
  std::string value;
  if (!file.empty() && from_stdin) {
    throw Error(Exit::usage, fmt::format("give the {} from a file or from stdin, not both", what));
  }
  if (!file.empty()) {
    value = read_file_limited(file, limit, std::string("the ") + what);
  } else if (from_stdin) {
    value = read_stdin_limited(limit, std::string("the ") + what);
  } else if (auto v = env(env_name)) {
    value = *v;
  } else {
    return std::nullopt;
  }
  std::string trimmed(trim(value));
  validate_secret(trimmed, what);
  return trimmed;
}

std::string format_fields(const std::vector<std::pair<std::string, std::string>>& rows) {
  std::size_t width = 0;
  for (const auto& [k, v] : rows) width = std::max(width, k.size());
  std::string out;
  for (const auto& [k, v] : rows) out += fmt::format("{:<{}}  {}\n", k, width, v);
  return out;
}

std::string_view command_word(int argc, const char* const* argv) noexcept {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.empty() || a[0] != '-') return a;
    // Global options that take a value may be written as two words.
    if ((a == "--db" || a == "--key-file" || a == "--config" || a == "--color") && i + 1 < argc) {
      ++i;
    }
  }
  return {};
}

bool opens_no_connection(int argc, const char* const* argv) noexcept {
  auto has = [&](std::string_view option) { return has_option(argc, argv, option); };
  // A config file may set any option, --watch included.
  if (has("--config")) return false;
  std::string_view command = command_word(argc, argv);
  if (command.empty()) return true; // --help, --version or a usage error
  if (command == "history" || command == "status" || command == "tenant" || command == "key" ||
      command == "token") {
    return true;
  }
  // `unread --watch` may follow the daemon's stream over https.
  return command == "unread" && !has("--watch");
}

void build_app(CLI::App& app, Context& ctx, bool serve_config_default,
               std::string_view only_command) {
  app.name("wabactl");
  app.description("wabactl: the WhatsApp Business Cloud API for servers: tenants, sending, "
                  "history and a webhook daemon");
  app.set_version_flag("--version", std::string("wabactl ") + WABACTL_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  app.formatter(std::make_shared<HelpFormatter>());
  app.option_defaults()->always_capture_default(false);
  app.set_config("--config", serve_config_default ? system_config : "",
                 "read long options from an INI/TOML file")
      ->type_name("FILE");
  // A key no option reads is a typo that would silently do nothing.
  app.allow_config_extras(CLI::config_extras_mode::error);
  // An empty path would silently fall back to the environment or the default location.
  // (No validator name: help would read "PATH:PATH".)
  const CLI::Validator non_empty(
      [](std::string& v) { return v.empty() ? std::string("an empty path is not allowed") : ""; },
      "");
  app.add_option("--db", ctx.globals.db, "database file")->type_name("PATH")->check(non_empty);
  app.add_option("--key-file", ctx.globals.key_file, "master key file")
      ->type_name("PATH")
      ->check(non_empty);
  app.add_option("--color", ctx.globals.color,
                 "colour the output: auto (on a terminal), always, never")
      ->type_name("WHEN")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  app.add_flag("--json", ctx.globals.json, "print JSON (JSON Lines for lists)");
  app.add_flag("-q,--quiet", ctx.globals.quiet, "print errors only");
  app.add_flag("-v,--verbose", ctx.globals.verbose, "print more (repeat for debug)");
  app.footer("Run 'wabactl COMMAND --help' for a command's options; 'man wabactl' for the rest.");
  app.parse_complete_callback(
      [&ctx] { log::configure(ctx.globals.verbose - 2 * ctx.globals.quiet); });
  for (const auto& [command, setup] : family_of_command) {
    if (command == only_command) {
      setup(app, ctx);
      return;
    }
  }
  for (SetupFn setup : families) setup(app, ctx);
}

namespace {

// The one line a parse error prints, naming what was mistyped and what it may have meant.
void print_parse_error(const Context& ctx, const CLI::App& app, const CLI::ParseError& e) {
  std::string path = "wabactl";
  const CLI::App* sub = &app;
  for (auto parsed = sub->get_subcommands(); !parsed.empty(); parsed = sub->get_subcommands()) {
    sub = parsed.front();
    path += " " + sub->get_name();
  }
  std::string hint = fmt::format("run '{} --help'", path);
  std::string message = e.what();
  auto left = sub->remaining().empty() ? app.remaining() : sub->remaining();
  const bool required = dynamic_cast<const CLI::RequiredError*>(&e) != nullptr;
  const bool extras = dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr;
  const std::string typed = left.empty() ? std::string() : left.front();
  const bool option = typed.rfind('-', 0) == 0;
  if (required && sub->get_require_subcommand_min() > 0 && !typed.empty()) {
    // CLI11 reports a mistyped command as a missing one; name what was typed instead.
    message = fmt::format("unknown {} '{}'", option ? "option" : "command", typed);
  } else if (extras && option) {
    message = fmt::format("unknown option '{}'", typed);
  } else if (dynamic_cast<const CLI::FileError*>(&e) != nullptr) {
    message =
        fmt::format("cannot read the config file '{}'", app.get_config_ptr()->as<std::string>());
    hint = "--config names an INI/TOML file of long options";
  } else if (constexpr std::string_view prefix = "INI was not able to parse ";
             dynamic_cast<const CLI::ConfigError*>(&e) != nullptr &&
             message.rfind(prefix, 0) == 0) {
    const std::string key = message.substr(prefix.size());
    const std::string file = app.get_config_ptr()->as<std::string>();
    hint = "keys are long option names, under [command] for a command's options";
    // CLI11 reads "[name]" as the key "name.++" (a section opens).
    if (key.size() > 3 && (key.ends_with(".++") || key.ends_with(".--"))) {
      const std::string section = key.substr(0, key.size() - 3);
      message = fmt::format("unknown section [{}] in the config file '{}'", section, file);
      if (auto near = closest_match(section, command_names(&app))) {
        hint = fmt::format("did you mean [{}]?", *near);
      }
    } else {
      message = fmt::format("unknown key '{}' in the config file '{}'", key, file);
      // "section.name": the name is one of the section's command's long options.
      const auto dot = key.rfind('.');
      const CLI::App* owner = &app;
      if (dot != std::string::npos) {
        owner = nullptr;
        for (const CLI::App* command : app.get_subcommands({})) {
          if (command->get_name() == key.substr(0, dot)) owner = command;
        }
      }
      if (owner != nullptr) {
        std::vector<std::string> names;
        option_names(owner, names);
        for (std::string& n : names) n.erase(0, 2); // keys are written without "--"
        const std::string name = dot == std::string::npos ? key : key.substr(dot + 1);
        if (auto near = closest_match(name, names)) hint = fmt::format("did you mean '{}'?", *near);
      }
    }
  }
  if (!typed.empty() && (required || extras)) {
    std::vector<std::string> candidates;
    if (option) {
      // A one-letter option is one keystroke from every other: no guess is worth printing.
      if (typed.rfind("--", 0) == 0) option_names(sub, candidates);
    } else {
      candidates = command_names(sub);
    }
    // --name=value: the name is what may be mistyped.
    if (auto near = closest_match(typed.substr(0, typed.find('=')), candidates)) {
      hint = fmt::format("did you mean '{}'? ({})", *near, hint);
    }
  }
  print_error(ctx, message, hint);
}

} // namespace

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  Context ctx(out, err, ::isatty(STDOUT_FILENO) == 1, ::isatty(STDERR_FILENO) == 1);
  CLI::App app;
  // `serve` reads /etc/wabactl/wabactl.conf by default; other commands read a config file
  // only when --config names one. A config file may hold any command's section, so it is
  // checked against the whole tree.
  std::string_view command = command_word(argc, argv);
  const bool reads_config = command == "serve" || has_option(argc, argv, "--config");
  build_app(app, ctx, command == "serve", reads_config ? std::string_view() : command);

  try {
    try {
      app.parse(argc, argv);
    } catch (const CLI::Success& e) {
      return app.exit(e, out, err);
    } catch (const CLI::ParseError& e) {
      // A command without its subcommand (or wabactl alone) shows what it offers.
      const CLI::App* sub = &app;
      for (auto parsed = sub->get_subcommands(); !parsed.empty(); parsed = sub->get_subcommands()) {
        sub = parsed.front();
      }
      if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr &&
          sub->get_require_subcommand_min() > 0 && sub->remaining().empty() &&
          app.remaining().empty()) {
        err << app.help();
        std::string path = "wabactl";
        for (const CLI::App* a = sub; a->get_parent() != nullptr; a = a->get_parent()) {
          path.insert(7, " " + a->get_name());
        }
        print_error(ctx, fmt::format("'{}' needs a command", path), "");
        return static_cast<int>(Exit::usage);
      }
      print_parse_error(ctx, app, e);
      return static_cast<int>(Exit::usage);
    }
  } catch (const Error& e) {
    print_error(ctx, e.what(), e.hint());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    print_error(ctx, fmt::format("internal error: {}", e.what()),
                "this is a bug: please report it");
    return static_cast<int>(Exit::internal);
  }
  return 0;
}

} // namespace wabactl::cli
