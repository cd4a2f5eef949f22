// systemd/wabactl.service as systemd itself judges it: `systemctl reload` reaches the daemon
// (SIGHUP takes a rotated key), `systemd-analyze verify` finds nothing to fix, and the
// sandbox keeps `systemd-analyze security` at an exposure of 1.5 or less.
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

namespace {

using testsupport::find_program;
using testsupport::run_program;
using testsupport::slurp;
using testsupport::TempDir;

const std::filesystem::path source_dir(WABACTL_SOURCE_DIR);

// The unit as installed, with ExecStart pointing at the binary under test (verify checks
// the command exists), and the man page where `man` finds it (verify reads Documentation=).
struct InstalledUnit {
  TempDir dir;
  std::filesystem::path unit;
  std::filesystem::path manpath;

  InstalledUnit() : unit(dir / "wabactl.service"), manpath(dir / "man") {
    std::string text = slurp(source_dir / "systemd/wabactl.service");
    const std::string exec = "ExecStart=/usr/bin/wabactl ";
    auto at = text.find(exec);
    REQUIRE(at != std::string::npos);
    text.replace(at, exec.size(), std::string("ExecStart=") + WABACTL_BINARY + " ");
    std::ofstream(unit) << text;
    std::filesystem::create_directories(manpath / "man1");
    std::filesystem::copy_file(source_dir / "man/wabactl.1", manpath / "man1/wabactl.1");
  }
};

} // namespace

TEST_SUITE("systemd unit") {

  TEST_CASE("the unit reloads with SIGHUP (the rotated key is taken at once)") {
    std::istringstream in(slurp(source_dir / "systemd/wabactl.service"));
    int reloads = 0;
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("ExecReload=", 0) != 0) continue;
      ++reloads;
      CHECK(line == "ExecReload=/bin/kill -HUP $MAINPID");
    }
    CHECK(reloads == 1);
  }

  TEST_CASE("systemd-analyze: the unit verifies clean and its exposure is at most 1.5") {
    auto analyze = find_program("systemd-analyze");
    if (!analyze || !find_program("man")) {
      testsupport::skip("systemd-analyze or man is not installed");
      return;
    }
    InstalledUnit installed;
    auto verify = run_program(analyze->string(), {"verify", installed.unit.string()},
                              {{"MANPATH", installed.manpath.string()}});
    INFO(verify.err);
    CHECK(verify.exit_code == 0);
    CHECK(verify.err.empty());

    // --threshold counts tenths: 15 is an overall exposure of 1.5.
    auto security = run_program(analyze->string(), {"security", "--offline=yes", "--threshold=15",
                                                    installed.unit.string()});
    std::smatch level;
    std::regex overall(R"(Overall exposure level for [^:]+: ([0-9.]+))");
    REQUIRE_MESSAGE(std::regex_search(security.out, level, overall), security.out, security.err);
    INFO("exposure ", level[1].str());
    CHECK(security.exit_code == 0);
    CHECK(std::stod(level[1].str()) <= 1.5);
  }

} // TEST_SUITE
