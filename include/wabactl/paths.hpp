#pragma once
// Where the database and the master key live (CONTRACT.md §1): flag > environment >
// systemd directories > XDG defaults.

#include <filesystem>
#include <optional>
#include <string>

namespace wabactl {

/// A resolved location and where it came from (for messages such as "key file
/// /etc/... ($WABACTL_KEY_FILE)").
struct ResolvedPath {
  std::filesystem::path path;
  std::string origin;
};

/// `--db`, else `$WABACTL_DB`, else `$STATE_DIRECTORY/wabactl.db`, else
/// `$XDG_DATA_HOME/wabactl/wabactl.db` (default `~/.local/share/wabactl/wabactl.db`).
ResolvedPath resolve_db_path(const std::optional<std::filesystem::path>& flag);

/// `--key-file`, else `$WABACTL_KEY_FILE`, else `$CREDENTIALS_DIRECTORY/wabactl.key`, else
/// `$XDG_CONFIG_HOME/wabactl/master.key` (default `~/.config/wabactl/master.key`).
/// `have_passphrase` (from `$WHATSAPP_ENCRYPTION_KEY`) makes the implicit locations
/// (credentials directory, XDG default) count only when the file exists.
std::optional<ResolvedPath> resolve_key_path(const std::optional<std::filesystem::path>& flag,
                                             bool have_passphrase);

/// The default key file location (`$XDG_CONFIG_HOME/wabactl/master.key`), used by
/// `key init` when no flag or environment names one.
ResolvedPath default_key_path(const std::optional<std::filesystem::path>& flag);

} // namespace wabactl
