#include "wabactl/paths.hpp"

#include "wabactl/error.hpp"
#include "wabactl/util.hpp"

#include <pwd.h>
#include <unistd.h>

namespace wabactl {
namespace {

std::filesystem::path home_dir() {
  if (auto h = env("HOME")) return *h;
  if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr && pw->pw_dir != nullptr) {
    return pw->pw_dir;
  }
  throw Error(Exit::usage, "cannot find a home folder: set $HOME, or pass --db and --key-file");
}

std::filesystem::path xdg(const char* var, const char* fallback) {
  if (auto v = env(var)) return *v;
  return home_dir() / fallback;
}

} // namespace

ResolvedPath resolve_db_path(const std::optional<std::filesystem::path>& flag) {
  if (flag && !flag->empty()) return {*flag, "--db"};
  if (auto v = env("WABACTL_DB")) return {*v, "$WABACTL_DB"};
  if (auto v = env("STATE_DIRECTORY")) {
    // systemd may pass several colon-separated directories; the first is ours.
    std::string first = v->substr(0, v->find(':'));
    return {std::filesystem::path(first) / "wabactl.db", "$STATE_DIRECTORY"};
  }
  return {xdg("XDG_DATA_HOME", ".local/share") / "wabactl" / "wabactl.db", "default"};
}

std::optional<ResolvedPath> resolve_key_path(const std::optional<std::filesystem::path>& flag,
                                             bool have_passphrase) {
  if (flag && !flag->empty()) return ResolvedPath{*flag, "--key-file"};
  if (auto v = env("WABACTL_KEY_FILE")) return ResolvedPath{*v, "$WABACTL_KEY_FILE"};
  std::error_code ec;
  if (auto v = env("CREDENTIALS_DIRECTORY")) {
    std::filesystem::path p = std::filesystem::path(*v) / "wabactl.key";
    if (!have_passphrase || std::filesystem::exists(p, ec)) {
      return ResolvedPath{p, "$CREDENTIALS_DIRECTORY"};
    }
  }
  if (!have_passphrase) {
    return ResolvedPath{xdg("XDG_CONFIG_HOME", ".config") / "wabactl" / "master.key", "default"};
  }
  // A passphrase stands in for the default key file unless that file exists; without a
  // home folder there is no default file to prefer.
  try {
    std::filesystem::path fallback = xdg("XDG_CONFIG_HOME", ".config") / "wabactl" / "master.key";
    if (std::filesystem::exists(fallback, ec)) return ResolvedPath{fallback, "default"};
  } catch (const Error&) {
  }
  return std::nullopt;
}

ResolvedPath default_key_path(const std::optional<std::filesystem::path>& flag) {
  if (flag && !flag->empty()) return {*flag, "--key-file"};
  if (auto v = env("WABACTL_KEY_FILE")) return {*v, "$WABACTL_KEY_FILE"};
  return {xdg("XDG_CONFIG_HOME", ".config") / "wabactl" / "master.key", "default"};
}

} // namespace wabactl
