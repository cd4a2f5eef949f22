#include "wabactl/claimant.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

namespace wabactl {
namespace {

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

const std::string& boot_id() {
  static const std::string id = first_line("/proc/sys/kernel/random/boot_id");
  return id;
}

// Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. The
// fields after the command name (which may hold spaces and parentheses) start at field 3.
std::string start_time(long pid) {
  std::string stat = first_line(fmt::format("/proc/{}/stat", pid));
  auto close = stat.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) return field;
  }
  return {};
}

// The PID namespace (a container has its own): a pid means something only within it.
const std::string& pid_namespace() {
  static const std::string ns = [] {
    std::error_code ec;
    auto target = std::filesystem::read_symlink("/proc/self/ns/pid", ec);
    return ec ? std::string() : target.string();
  }();
  return ns;
}

struct Claimant {
  std::string boot;
  long pid = 0;
  std::string started;
  std::string pid_namespace;
};

std::optional<Claimant> parse_claimant(const std::string& text) {
  std::istringstream in(text);
  Claimant c;
  if (!(in >> c.boot >> c.pid >> c.started >> c.pid_namespace) || c.pid <= 0) return std::nullopt;
  return c;
}

} // namespace

const std::string& outbox_claimant() {
  static const std::string me =
      fmt::format("{} {} {} {}", boot_id(), static_cast<long>(::getpid()), start_time(::getpid()),
                  pid_namespace().empty() ? "-" : pid_namespace());
  return me;
}

bool claimant_this_boot(const std::string& claimant) {
  auto c = parse_claimant(claimant);
  return c && !boot_id().empty() && c->boot == boot_id();
}

bool claimant_checkable(const std::string& claimant) {
  auto c = parse_claimant(claimant);
  return c && (!claimant_this_boot(claimant) || c->pid_namespace == pid_namespace());
}

bool claimant_alive(const std::string& claimant) {
  auto c = parse_claimant(claimant);
  if (!c || !claimant_this_boot(claimant)) return false;
  // A process of another PID namespace (container) cannot be looked up from here.
  if (c->pid_namespace != pid_namespace()) return true;
  return start_time(c->pid) == c->started;
}

} // namespace wabactl
