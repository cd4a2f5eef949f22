// wabactl key init | rotate
#include "wabactl/cli.hpp"
#include "wabactl/configs.hpp"
#include "wabactl/error.hpp"
#include "wabactl/paths.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>

#include <filesystem>

namespace wabactl::cli {
namespace {

struct InitOptions {
  bool force = false;
};

struct RotateOptions {
  std::string new_key_file;
};

void run_init(const InitOptions& o, Context& ctx) {
  auto target = default_key_path(ctx.globals.key_file.empty()
                                     ? std::nullopt
                                     : std::optional<std::filesystem::path>(ctx.globals.key_file));
  auto path = create_key_file(target.path, o.force);
  if (ctx.globals.json) {
    ctx.print_json({{"path", path.string()}});
  } else {
    ctx.out << fmt::format("created master key {}\n", path.string());
  }
}

void run_rotate(const RotateOptions& o, Context& ctx) {
  if (o.new_key_file.empty()) {
    throw Error(Exit::usage, "--new-key-file needs a path");
  }
  const MasterKey& old_key = ctx.key();
  std::filesystem::path path = o.new_key_file;
  std::error_code ec;
  bool created = false;
  if (!std::filesystem::exists(path, ec)) {
    create_key_file(path, false);
    created = true;
  }
  MasterKey new_key = read_key_file(path, "--new-key-file");
  std::size_t n = rotate_master_key(ctx.store(), old_key, new_key);
  if (ctx.globals.json) {
    ctx.print_json({{"new_key_file", path.string()}, {"created", created}, {"resealed", n}});
  } else {
    ctx.out << fmt::format("re-sealed {} secret{} under {}{}\n", n, n == 1 ? "" : "s",
                           path.string(), created ? " (new key file)" : "");
  }
  ctx.note(fmt::format("use the new key from now on: --key-file {} (or $WABACTL_KEY_FILE); the "
                       "old key file was left as it was",
                       path.string()));
}

} // namespace

void setup_key(CLI::App& app, Context& ctx) {
  auto* key = app.add_subcommand("key", "create or rotate the master key that seals secrets");
  key->require_subcommand(1);

  auto init = std::make_shared<InitOptions>();
  auto* i = key->add_subcommand("init", "create a random 32-byte master key file (mode 0600)");
  i->add_flag("--force", init->force, "replace an existing key file");
  i->callback([init, &ctx] { run_init(*init, ctx); });

  auto rotate = std::make_shared<RotateOptions>();
  auto* r = key->add_subcommand("rotate", "re-seal every stored secret under a new key");
  r->add_option("--new-key-file", rotate->new_key_file,
                "the new key file (created, mode 0600, if absent)")
      ->required()
      ->type_name("PATH");
  r->callback([rotate, &ctx] { run_rotate(*rotate, ctx); });
}

} // namespace wabactl::cli
