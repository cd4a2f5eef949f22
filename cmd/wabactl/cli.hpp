#pragma once
// The command-line front door: global options, output, and the command families. Each
// family (cmd_*.cpp) registers its subcommands with a setup function listed in cli.cpp.

#include "wabactl/secrets.hpp"
#include "wabactl/store.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace wabactl::cli {

/// Options accepted before or after any subcommand.
struct Globals {
  std::string db;
  std::string key_file;
  /// --color: auto, always or never.
  std::string color = "auto";
  bool json = false;
  int quiet = 0;
  int verbose = 0;
};

/// What a command runs with: the global options, where to write, and lazily opened
/// resources (the store and the master key).
class Context {
public:
  Context(std::ostream& out, std::ostream& err, bool stdout_is_tty, bool stderr_is_tty = false);

  Globals globals;
  std::ostream& out;
  std::ostream& err;

  /// Whether stdout may carry colour (--color, $NO_COLOR, $TERM and whether it is a
  /// terminal decide), never with --json.
  bool out_color() const;
  /// Whether stderr may carry colour (the error and warning prefixes).
  bool err_color() const;
  /// `text` in `sgr` (an ANSI SGR code such as "1;31") when stdout may carry colour.
  std::string paint(const std::string& text, const char* sgr) const;
  /// A message status word, coloured by outcome when stdout may carry colour: read and
  /// delivered green, failed red, queued yellow.
  std::string paint_status(const std::string& status) const;

  /// The database, opened (and migrated) on first use.
  Store& store();
  /// The master key, resolved and checked against the store on first use.
  const MasterKey& key();
  /// KeyOptions from the global flags.
  KeyOptions key_options() const;

  /// Prints one JSON value as a line.
  void print_json(const nlohmann::json& value);
  /// A warning on stderr (suppressed by -q).
  void warn(const std::string& message);
  /// An informational line on stderr (shown unless -q).
  void note(const std::string& message);

private:
  bool stdout_is_tty_;
  bool stderr_is_tty_;
  std::unique_ptr<Store> store_;
  std::optional<MasterKey> key_;
};

/// A command family's registration function.
using SetupFn = void (*)(CLI::App& app, Context& ctx);

void setup_key(CLI::App& app, Context& ctx);
void setup_tenant(CLI::App& app, Context& ctx);
void setup_config(CLI::App& app, Context& ctx);
void setup_send(CLI::App& app, Context& ctx);
void setup_token(CLI::App& app, Context& ctx);
void setup_media(CLI::App& app, Context& ctx);
void setup_template(CLI::App& app, Context& ctx);
void setup_hook(CLI::App& app, Context& ctx);

/// `unread --watch`: prints the tenant's unread count now and each time it changes, from
/// the daemon's SSE stream when $WABACTL_URL and $WABACTL_TOKEN name one, else by polling
/// the events table. Runs until interrupted or stdout closes.
void run_unread_watch(Context& ctx, const std::string& tenant);
void setup_read(CLI::App& app, Context& ctx);
void setup_serve(CLI::App& app, Context& ctx);

/// Builds the command tree (global options and every family) on `app` without parsing
/// anything; `serve_config_default` makes --config default to /etc/wabactl/wabactl.conf.
/// When `only_command` names a top-level command, only the family that registers it is
/// built (what run() does for the command argv names). Used by run() and by tests that
/// walk the tree.
void build_app(CLI::App& app, Context& ctx, bool serve_config_default,
               std::string_view only_command = {});

/// The subcommand argv names (the first word that is not a global option or its value),
/// or an empty view when there is none. Allocates nothing and touches no global state, so
/// it may run before static constructors.
std::string_view command_word(int argc, const char* const* argv) noexcept;

/// Whether argv names a command that never opens a network connection (history, unread
/// without --watch, status, tenant, key, token, or no command at all). Conservative: any
/// --config gives false, since a config file may set any option. Safe before static
/// constructors, like command_word().
bool opens_no_connection(int argc, const char* const* argv) noexcept;

/// Runs the CLI; returns the process exit code. Errors are printed to `err` as one line.
int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

/// Reads a secret from a file, stdin, or an environment variable (never argv), trims the
/// trailing newline and validates it. nullopt when no source was given.
std::optional<std::string> read_secret(const std::string& file, bool from_stdin,
                                       const char* env_name, const char* what);

/// A two-column "key  value" table for human output.
std::string format_fields(const std::vector<std::pair<std::string, std::string>>& rows);

} // namespace wabactl::cli
