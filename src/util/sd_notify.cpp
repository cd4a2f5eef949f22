#include "util/sd_notify.hpp"

#include "wabactl/util.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

namespace wabactl {

bool sd_notify(std::string_view state) {
  auto path = env("NOTIFY_SOCKET");
  if (!path) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if ((*path)[0] != '/' && (*path)[0] != '@') return false;
  if (path->size() >= sizeof(addr.sun_path)) return false;
  std::memcpy(addr.sun_path, path->data(), path->size());
  // An abstract socket's name starts with a NUL byte, which the variable spells '@'.
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path->size());

  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ssize_t n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                       reinterpret_cast<const sockaddr*>(&addr), len);
  ::close(fd);
  return n == static_cast<ssize_t>(state.size());
}

} // namespace wabactl
