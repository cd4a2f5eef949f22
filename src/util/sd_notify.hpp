#pragma once
// systemd's readiness protocol (sd_notify(3)) without libsystemd: one datagram to the
// socket named by $NOTIFY_SOCKET.

#include <string_view>

namespace wabactl {

/// Sends `state` (e.g. "READY=1", "STOPPING=1", "STATUS=...") to $NOTIFY_SOCKET. A path
/// socket or an abstract one (written with a leading '@'). Returns false when the variable
/// is unset or the datagram could not be sent (not under systemd: nothing to do).
bool sd_notify(std::string_view state);

} // namespace wabactl
