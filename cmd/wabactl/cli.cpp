#include "wabactl/cli.hpp"

#include "wabactl/configs.hpp"
#include "wabactl/error.hpp"
#include "wabactl/log.hpp"
#include "wabactl/paths.hpp"
#include "wabactl/util.hpp"

#include <SQLiteCpp/Exception.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <ostream>

namespace wabactl::cli {
namespace {

// The command families, in the order `wabactl --help` lists them.
constexpr SetupFn families[] = {
    setup_key, setup_tenant, setup_config, setup_send, setup_read, setup_token, setup_serve,
};

// The family that registers each top-level command. Building only that one saves most of
// the command tree's construction (a few hundred options and their strings) in every
// short-lived process; a command missing here simply gets the whole tree.
struct CommandFamily {
  std::string_view command;
  SetupFn setup;
};
constexpr CommandFamily family_of_command[] = {
    {"key", setup_key},        {"tenant", setup_tenant}, {"config", setup_config},
    {"send", setup_send},      {"history", setup_read},  {"unread", setup_read},
    {"mark-read", setup_read}, {"status", setup_read},   {"token", setup_token},
    {"serve", setup_serve},
};

constexpr const char* system_config = "/etc/wabactl/wabactl.conf";

// 512 KiB of WAL costs the next process at most about 0.4 ms to read; at 16-23 KiB per
// send, the last command folds it in about once every 25 sends when no daemon keeps the
// database open.
constexpr std::uintmax_t cli_wal_limit = 512 * 1024;

void print_error(std::ostream& err, const std::string& message, const std::string& hint) {
  std::string line = message;
  std::replace(line.begin(), line.end(), '\n', ' ');
  err << "wabactl: error: " << line;
  if (!hint.empty()) err << "; hint: " << hint;
  err << '\n';
}

} // namespace

Context::Context(std::ostream& o, std::ostream& e, bool stdout_is_tty)
    : out(o), err(e), color(stdout_is_tty && !env("NO_COLOR")) {}

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
  if (globals.quiet == 0) err << "wabactl: warning: " << message << '\n';
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
    if ((a == "--db" || a == "--key-file" || a == "--config") && i + 1 < argc) ++i;
  }
  return {};
}

bool opens_no_connection(int argc, const char* const* argv) noexcept {
  auto has = [&](std::string_view option) {
    for (int i = 1; i < argc; ++i) {
      std::string_view a = argv[i];
      if (a == option || (a.size() > option.size() && a.substr(0, option.size()) == option &&
                          a[option.size()] == '=')) {
        return true;
      }
    }
    return false;
  };
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
  app.option_defaults()->always_capture_default(false);
  app.set_config("--config", serve_config_default ? system_config : "",
                 "read long options from an INI/TOML FILE");
  // An empty path would silently fall back to the environment or the default location.
  const CLI::Validator non_empty(
      [](std::string& v) { return v.empty() ? std::string("an empty path is not allowed") : ""; },
      "PATH");
  app.add_option("--db", ctx.globals.db, "database file")->type_name("PATH")->check(non_empty);
  app.add_option("--key-file", ctx.globals.key_file, "master key file")
      ->type_name("PATH")
      ->check(non_empty);
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

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  Context ctx(out, err, ::isatty(STDOUT_FILENO) == 1);
  CLI::App app;
  // `serve` reads /etc/wabactl/wabactl.conf by default; other commands read a config file
  // only when --config names one.
  std::string_view command = command_word(argc, argv);
  build_app(app, ctx, command == "serve", command);

  try {
    try {
      app.parse(argc, argv);
    } catch (const CLI::Success& e) {
      return app.exit(e, out, err);
    } catch (const CLI::ParseError& e) {
      std::string path = "wabactl";
      const CLI::App* sub = &app;
      for (auto parsed = sub->get_subcommands(); !parsed.empty(); parsed = sub->get_subcommands()) {
        sub = parsed.front();
        path += " " + sub->get_name();
      }
      std::string hint = fmt::format("run '{} --help'", path);
      // CLI11 reports a mistyped command as a missing one; name what was typed instead.
      std::string message = e.what();
      auto left = sub->remaining().empty() ? app.remaining() : sub->remaining();
      if (e.get_name() == "RequiredError" && !left.empty() &&
          sub->get_require_subcommand_min() > 0) {
        message = fmt::format("unknown {} '{}'",
                              left.front().rfind('-', 0) == 0 ? "option" : "command", left.front());
      }
      print_error(err, message, hint);
      return static_cast<int>(Exit::usage);
    }
  } catch (const Error& e) {
    print_error(err, e.what(), e.hint());
    return static_cast<int>(e.code());
  } catch (const SQLite::Exception& e) {
    print_error(err, fmt::format("database: {}", e.what()),
                "another process may hold a lock, or the file is damaged");
    return static_cast<int>(Exit::internal);
  } catch (const std::exception& e) {
    print_error(err, fmt::format("internal error: {}", e.what()),
                "this is a bug: please report it");
    return static_cast<int>(Exit::internal);
  }
  return 0;
}

} // namespace wabactl::cli
