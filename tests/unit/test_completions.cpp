// The shell completions and the man page against the real command tree: every command and
// every long flag the CLI accepts must be offered by bash, zsh and fish and documented in
// wabactl(1), under the command it belongs to.
#include "support/support.hpp"
#include "wabactl/cli.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

using testsupport::find_program;
using testsupport::run_program;
using testsupport::skip;
using testsupport::slurp;

const std::filesystem::path source_dir = WABACTL_SOURCE_DIR;

struct Command {
  std::string path; // "" for wabactl itself, "config set" for a leaf
  std::vector<std::string> children;
  std::vector<std::string> flags; // long names without "--"
};

void collect_flags(const CLI::App* app, bool root, std::vector<std::string>& flags) {
  for (const CLI::Option* opt : app->get_options()) {
    if (opt->get_group().empty()) continue; // hidden on purpose
    for (const std::string& name : opt->get_lnames()) {
      // --help exists on every command; the completions offer it with the global flags.
      if (!root && name == "help") continue;
      flags.push_back(name);
    }
  }
  // Option groups are nameless subcommands: their flags belong to this command.
  for (const CLI::App* sub : app->get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name().empty()) collect_flags(sub, false, flags);
  }
}

void walk(const CLI::App* app, const std::string& path, std::vector<Command>& out) {
  Command c{path, {}, {}};
  collect_flags(app, path.empty(), c.flags);
  std::vector<const CLI::App*> named;
  for (const CLI::App* sub : app->get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name().empty()) continue; // an option group, collected above
    c.children.push_back(sub->get_name());
    named.push_back(sub);
  }
  out.push_back(c);
  for (const CLI::App* sub : named) {
    walk(sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(), out);
  }
}

std::vector<Command> command_tree() {
  std::ostringstream out;
  std::ostringstream err;
  wabactl::cli::Context ctx(out, err, false);
  CLI::App app;
  wabactl::cli::build_app(app, ctx, false);
  std::vector<Command> tree;
  walk(&app, "", tree);
  return tree;
}

bool word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// Whether `needle` occurs in `text` as a whole word (not as part of a longer flag or name).
bool contains_word(const std::string& text, const std::string& needle) {
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    bool starts = pos == 0 || !word_char(text[pos - 1]);
    std::size_t end = pos + needle.size();
    if (starts && (end == text.size() || !word_char(text[end]))) return true;
  }
  return false;
}

std::string replace_all(std::string s, char from, char to) {
  for (char& c : s) {
    if (c == from) c = to;
  }
  return s;
}

// How one file is laid out: where the text about a command is, and how it spells a flag.
struct Format {
  std::string name;
  std::filesystem::path file;
  // The text describing command `path` (whole file for the root), nullopt if absent.
  std::optional<std::string> (*section)(const std::string& text, const std::string& path);
  std::string (*flag)(const std::string& name);
  // Whether a parent's section lists its subcommands by name.
  bool lists_children;
};

std::optional<std::string> between(const std::string& text, const std::string& start,
                                   const std::string& stop) {
  auto pos = text.find(start);
  if (pos == std::string::npos) return std::nullopt;
  auto end = text.find(stop, pos + start.size());
  return text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
}

// bash: one `"config set") echo "…" ;;` line per command in _wabactl_spec.
std::optional<std::string> bash_section(const std::string& text, const std::string& path) {
  return between(text, "\"" + path + "\")", ";;");
}

// zsh: one function per command, _wabactl_config_set() { … }.
std::optional<std::string> zsh_section(const std::string& text, const std::string& path) {
  if (path.empty()) return text;
  return between(text, "\n_wabactl_" + replace_all(path, ' ', '_') + "() {", "\n}");
}

// fish: every `complete` line conditioned on '__wabactl_at config set'.
std::optional<std::string> fish_section(const std::string& text, const std::string& path) {
  if (path.empty()) return text;
  std::string marker = "'__wabactl_at " + path + "'";
  std::string lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(marker) != std::string::npos) lines += line + "\n";
  }
  if (lines.empty()) return std::nullopt;
  return lines;
}

// man page: a `## wabactl config set` subsection per command, up to the next heading; a
// command group is present when one of its subcommands' headings is.
std::optional<std::string> man_section(const std::string& text, const std::string& path) {
  if (path.empty()) return text;
  std::string heading = "\n## wabactl " + path;
  for (auto pos = text.find(heading); pos != std::string::npos; pos = text.find(heading, pos + 1)) {
    std::size_t after = pos + heading.size();
    if (after < text.size() && text[after] != '\n' && text[after] != ' ') continue;
    auto end = text.find("\n#", after);
    return text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
  }
  return std::nullopt;
}

std::string dashed(const std::string& name) {
  return "--" + name;
}
std::string fish_long(const std::string& name) {
  return "-l " + name;
}

std::vector<Format> formats() {
  return {
      {"bash", source_dir / "completions/wabactl.bash", bash_section, dashed, true},
      {"zsh", source_dir / "completions/_wabactl", zsh_section, dashed, true},
      {"fish", source_dir / "completions/wabactl.fish", fish_section, fish_long, true},
      {"man", source_dir / "man/wabactl.1.scd", man_section, dashed, false},
  };
}

// Every command and flag of `tree` that `format`'s file lacks, as readable lines.
std::vector<std::string> missing_from(const Format& format, const std::vector<Command>& tree) {
  std::string text = slurp(format.file);
  std::vector<std::string> missing;
  for (const Command& c : tree) {
    std::string shown = c.path.empty() ? "wabactl" : "wabactl " + c.path;
    auto section = format.section(text, c.path);
    if (!section) {
      missing.push_back("command '" + shown + "'");
      continue;
    }
    for (const std::string& flag : c.flags) {
      if (!contains_word(*section, format.flag(flag))) {
        missing.push_back("flag --" + flag + " of '" + shown + "'");
      }
    }
    if (!format.lists_children) continue;
    for (const std::string& child : c.children) {
      if (!contains_word(*section, child)) {
        missing.push_back("subcommand '" + child + "' in the list of '" + shown + "'");
      }
    }
  }
  return missing;
}

std::string join_lines(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& i : items) s += "\n  " + i;
  return s;
}

// `shell -n file`; each shell has its own test case, so a missing one skips only its check.
void check_syntax(const char* shell_name, const char* file) {
  auto shell = find_program(shell_name);
  if (!shell) {
    skip(std::string(shell_name) + " is not installed: its syntax check did not run");
    return;
  }
  auto r = run_program(shell->string(), {"-n", (source_dir / file).string()});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
}

} // namespace

TEST_SUITE("completions") {

  TEST_CASE("the walked command tree holds every family, subcommand and global flag") {
    auto tree = command_tree();
    REQUIRE_FALSE(tree.empty());
    const Command& root = tree.front();
    for (const char* name :
         {"db", "key-file", "config", "json", "quiet", "verbose", "help", "version"}) {
      CHECK_MESSAGE(std::find(root.flags.begin(), root.flags.end(), name) != root.flags.end(),
                    name);
    }
    auto find = [&](const std::string& path) {
      return std::find_if(tree.begin(), tree.end(),
                          [&](const Command& c) { return c.path == path; });
    };
    for (const char* path :
         {"key init", "key rotate", "tenant add", "tenant remove", "config set"}) {
      CHECK_MESSAGE(find(path) != tree.end(), path);
    }
    auto set = find("config set");
    REQUIRE(set != tree.end());
    CHECK(std::find(set->flags.begin(), set->flags.end(), "phone-number-id") != set->flags.end());
    // Hidden options (group "") are refusals, not features: they must not be offered.
    CHECK(std::find(set->flags.begin(), set->flags.end(), "access-token") == set->flags.end());
  }

  TEST_CASE("every command and long flag appears in each completion file and the man page") {
    auto tree = command_tree();
    for (const Format& format : formats()) {
      CAPTURE(format.file);
      REQUIRE(std::filesystem::exists(format.file));
      auto missing = missing_from(format, tree);
      std::string report = format.file.string() + " lacks:" + join_lines(missing) +
                           "\n(add them: the comment at the top of the file says where)";
      CHECK_MESSAGE(missing.empty(), report);
    }
  }

  TEST_CASE("the drift check notices a flag or command removed from a file") {
    auto tree = command_tree();
    testsupport::TempDir dir;
    for (const Format& format : formats()) {
      CAPTURE(format.name);
      std::string text = slurp(format.file);
      // Drop every mention of --phone-number-id (bash, zsh, man) or "-l phone-number-id" (fish).
      std::string needle = format.flag("phone-number-id");
      for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle)) {
        text.erase(pos, needle.size());
      }
      Format broken = format;
      broken.file = dir / format.name;
      { std::ofstream(broken.file) << text; }
      auto missing = missing_from(broken, tree);
      CHECK(std::find(missing.begin(), missing.end(),
                      "flag --phone-number-id of 'wabactl config set'") != missing.end());
    }
    std::string bash = slurp(source_dir / "completions/wabactl.bash");
    auto pos = bash.find("\"key rotate\")");
    REQUIRE(pos != std::string::npos);
    bash.replace(pos, 12, "\"key rotat\")");
    Format broken = formats().front();
    broken.file = dir / "renamed.bash";
    { std::ofstream(broken.file) << bash; }
    auto missing = missing_from(broken, tree);
    CHECK(std::find(missing.begin(), missing.end(), "command 'wabactl key rotate'") !=
          missing.end());
  }

  TEST_CASE("a check that cannot run prints what ctest reports as a skip") {
    // The checks below skip when their program is missing: ctest must say so, not "Passed".
    std::string cmake = slurp(source_dir / "tests/CMakeLists.txt");
    CHECK(cmake.find(std::string("SKIP_REGULAR_EXPRESSION \"") + testsupport::skip_marker + "\"") !=
          std::string::npos);
  }

  TEST_CASE("the bash completion file is valid bash") {
    check_syntax("bash", "completions/wabactl.bash");
  }

  TEST_CASE("the zsh completion file is valid zsh") {
    check_syntax("zsh", "completions/_wabactl");
  }

  TEST_CASE("the fish completion file is valid fish") {
    check_syntax("fish", "completions/wabactl.fish");
  }

  TEST_CASE("the committed man page is what scdoc makes of its source") {
    auto scdoc = find_program("scdoc");
    if (!scdoc) {
      skip("scdoc is not installed: the man page check did not run");
      return;
    }
    auto r = run_program("/bin/sh", {"-c", "exec \"$0\" < \"$1\"", scdoc->string(),
                                     (source_dir / "man/wabactl.1.scd").string()});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    // The .TH line carries the generation date; everything else must match.
    auto without_date = [](const std::string& roff) {
      std::istringstream in(roff);
      std::string kept;
      for (std::string line; std::getline(in, line);) {
        if (line.rfind(".TH ", 0) != 0) kept += line + "\n";
      }
      return kept;
    };
    CHECK_MESSAGE(without_date(slurp(source_dir / "man/wabactl.1")) == without_date(r.out),
                  "man/wabactl.1 is stale: run 'cmake --build BUILD --target man'");
  }

  TEST_CASE("bash completion offers subcommands, enumerations and the database's tenant ids") {
    auto bash = find_program("bash");
    if (!bash) {
      skip("bash is not installed: the bash completion check did not run");
      return;
    }
    testsupport::TempDir dir;
    testsupport::Wabactl wabactl(dir);
    REQUIRE(wabactl({"tenant", "add", "acme"}).exit_code == 0);
    REQUIRE(wabactl({"tenant", "add", "beta-2", "--name", "Beta \"two\""}).exit_code == 0);

    // Completes `words` (the last one is being typed) as bash would and prints the candidates.
    auto complete = [&](const std::string& words) {
      std::string script = "source '" + (source_dir / "completions/wabactl.bash").string() +
                           "'\nCOMP_WORDS=('" + WABACTL_BINARY + "' " + words +
                           ")\nCOMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n_wabactl\n"
                           "printf '%s\\n' \"${COMPREPLY[@]}\"\n";
      auto r = run_program(bash->string(), {"-c", script}, wabactl.env);
      CHECK_MESSAGE(r.exit_code == 0, r.err);
      return r.out;
    };
    CHECK(complete("con") == "config\n");
    CHECK(complete("config ''") == "set\nget\nlist\ndelete\ntest\n");
    CHECK(complete("--db x tenant r") == "remove\n");
    CHECK(complete("config set --phone") == "--phone-number-id\n");
    CHECK(complete("history --direction ''") == "in\nout\n");
    CHECK(complete("history --direction = o") == "out\n");
    CHECK(complete("config get --tenant ''") == "acme\nbeta-2\n");
    CHECK(complete("tenant remove b") == "beta-2\n");
    // A flag's value is not mistaken for a subcommand: here "config" is the database's name.
    CHECK(complete("--db config ''") == "key\ntenant\nconfig\nsend\nhistory\nunread\nmark-"
                                        "read\nstatus\nmedia\ntemplate\nhook\ntoken\nserve\n");
    CHECK(complete("--db config config ''") == "set\nget\nlist\ndelete\ntest\n");
    CHECK(complete("--color ''") == "auto\nalways\nnever\n");
    CHECK(complete("--color never ''") == "key\ntenant\nconfig\nsend\nhistory\nunread\nmark-"
                                          "read\nstatus\nmedia\ntemplate\nhook\ntoken\nserve\n");
    // An unreadable database offers no tenants and prints nothing on the terminal.
    CHECK(complete("--db /nonexistent/dir/x.db config get --tenant ''") == "\n");
  }

  TEST_CASE("fish completion offers subcommands, enumerations and the database's tenant ids") {
    auto fish = find_program("fish");
    if (!fish) {
      skip("fish is not installed: the fish completion check did not run");
      return;
    }
    testsupport::TempDir dir;
    testsupport::Wabactl wabactl(dir);
    REQUIRE(wabactl({"tenant", "add", "acme"}).exit_code == 0);
    auto env = wabactl.env;
    env["PATH"] =
        std::filesystem::path(WABACTL_BINARY).parent_path().string() + ":" + std::getenv("PATH");
    env["HOME"] = dir.path().string();
    auto complete = [&](const std::string& line) {
      std::string script = "source '" + (source_dir / "completions/wabactl.fish").string() +
                           "'; complete -C '" + line + "' | string replace -r '\\t.*' ''";
      auto r = run_program(fish->string(), {"--no-config", "-c", script}, env);
      CHECK_MESSAGE(r.exit_code == 0, r.err);
      return r.out;
    };
    CHECK(complete("wabactl ten") == "tenant\n");
    CHECK(complete("wabactl history --direction ") == "in\nout\n");
    CHECK(complete("wabactl config get --tenant ") == "acme\n");
    CHECK(complete("wabactl --db x config set --phone") == "--phone-number-id\n");
    CHECK(complete("wabactl --color ") == "always\nauto\nnever\n"); // fish sorts them
    CHECK(complete("wabactl --color never ten") == "tenant\n");
  }

} // TEST_SUITE
