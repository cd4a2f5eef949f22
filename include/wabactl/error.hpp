#pragma once
// Errors carry the process exit code they map to, so that one catch at the top of the
// program can print `wabactl: error: ...` and exit with the contract's code.

#include <stdexcept>
#include <string>

namespace wabactl {

/// Exit codes of the contract (CONTRACT.md §1, `man wabactl` EXIT STATUS).
enum class Exit : int {
  ok = 0,
  internal = 1,
  usage = 2,
  not_found = 3,
  credentials = 4,
  rejected = 5,
  partial = 6,
  not_configured = 7,
  exists = 8,
  tempfail = 75,
  interrupted = 130, ///< a batch stopped by SIGINT (128 + 2)
  terminated = 143,  ///< a batch stopped by SIGTERM (128 + 15)
};

/// An error a user can act on: a message, the exit code and an optional hint.
class Error : public std::runtime_error {
public:
  Error(Exit code, const std::string& message, std::string hint = {})
      : std::runtime_error(message), code_(code), hint_(std::move(hint)) {}

  /// The exit code the process should end with.
  Exit code() const noexcept { return code_; }
  /// A suggestion printed after the message (`hint: ...`), or empty.
  const std::string& hint() const noexcept { return hint_; }

private:
  Exit code_;
  std::string hint_;
};

/// A request refused before it reached Meta, because Meta would refuse it (a template that
/// is missing, not approved or given the wrong parameters): exit 5, and HTTP 422 with
/// `reason` (template_not_sendable, …) as the error code.
class Refusal : public Error {
public:
  Refusal(std::string reason, const std::string& message, std::string hint = {})
      : Error(Exit::rejected, message, std::move(hint)), reason_(std::move(reason)) {}
  const std::string& reason() const noexcept { return reason_; }

private:
  std::string reason_;
};

} // namespace wabactl
