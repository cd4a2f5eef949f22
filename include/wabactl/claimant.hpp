#pragma once
// Who holds an outbox claim: this process named so that another process (or this one after
// a restart) can tell whether the claimant still runs, also across reboots, reused pids and
// containers.

#include <cstdint>
#include <string>

namespace wabactl {

/// This process as an outbox claim names it: "BOOT_ID PID START_TIME PID_NAMESPACE" (the
/// kernel's boot id, the start time from /proc, which tells a reused pid apart, and the PID
/// namespace the pid belongs to).
const std::string& outbox_claimant();

/// Whether the process a claim names still runs: false for a pid that is gone or reused,
/// and for a claim made before the last boot. A process of another PID namespace (another
/// container on this machine) cannot be looked up: it counts as alive.
bool claimant_alive(const std::string& claimant);

/// Whether claimant_alive() can tell: the claimant is well-formed, and of an earlier boot or
/// of this PID namespace. A claim it cannot tell about (or one without a claimant, written by
/// an older wabactl) is waited for, and counts as unknown once it is 15 minutes old.
bool claimant_checkable(const std::string& claimant);

/// The age at which a claim claimant_checkable() cannot tell about counts as unknown (a
/// pending row without a claimant, written before claims named their process, and this old
/// belongs to a process that died mid-send: no send lives that long).
inline constexpr std::int64_t unknowable_claim_seconds = 15 * 60;

/// Whether `claimant` was written during the current boot.
bool claimant_this_boot(const std::string& claimant);

} // namespace wabactl
