#include "support/support.hpp"

#include "wabactl/util.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <sodium.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iostream>
#include <netinet/in.h>
#include <poll.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace testsupport {

std::vector<std::string> RunResult::err_lines() const {
  std::vector<std::string> lines;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

int connect_loopback(int port, const std::string& source) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  if (!source.empty()) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    REQUIRE(::inet_pton(AF_INET, source.c_str(), &from.sin_addr) == 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0);
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<std::filesystem::path> find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    std::filesystem::path p = std::filesystem::path(dir) / name;
    if (::access(p.c_str(), X_OK) == 0 && !std::filesystem::is_directory(p)) return p;
  }
  return std::nullopt;
}

void skip(const std::string& reason) {
  // Written straight to stdout: doctest prints a MESSAGE only for a failing case, so the
  // marker would never reach ctest and the case would count as passed.
  std::cout << skip_marker << reason << std::endl;
}

RunResult run_program(const std::string& program, const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env, const std::string& input,
                      int timeout_s, std::atomic<int>* started) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  REQUIRE(::pipe2(in_pipe, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(err_pipe, O_CLOEXEC) == 0);

  std::vector<std::string> env_strings;
  for (const char* keep :
       {"PATH", "HOME", "LANG", "TMPDIR", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"}) {
    if (const char* v = std::getenv(keep); v != nullptr && env.count(keep) == 0) {
      env_strings.push_back(std::string(keep) + "=" + v);
    }
  }
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings{program};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::execve(program.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  if (started != nullptr) started->store(pid);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);

  RunResult result;
  std::size_t written = 0;
  int in_fd = in_pipe[1];
  if (input.empty()) {
    ::close(in_fd);
    in_fd = -1;
  } else {
    ::fcntl(in_fd, F_SETFL, O_NONBLOCK);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  bool out_open = true, err_open = true;
  ::signal(SIGPIPE, SIG_IGN);
  while (out_open || err_open) {
    std::vector<pollfd> fds;
    if (out_open) fds.push_back({out_pipe[0], POLLIN, 0});
    if (err_open) fds.push_back({err_pipe[0], POLLIN, 0});
    if (in_fd >= 0) fds.push_back({in_fd, POLLOUT, 0});
    int rc = ::poll(fds.data(), fds.size(), 200);
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      FAIL("process timed out: ", program);
    }
    if (rc <= 0) continue;
    for (auto& p : fds) {
      if (p.revents == 0) continue;
      if (p.fd == in_fd) {
        ssize_t n = ::write(in_fd, input.data() + written, input.size() - written);
        if (n > 0) written += static_cast<std::size_t>(n);
        if (n < 0 || written == input.size()) {
          ::close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      char buf[65536];
      ssize_t n = ::read(p.fd, buf, sizeof buf);
      if (n <= 0) {
        if (p.fd == out_pipe[0]) out_open = false;
        if (p.fd == err_pipe[0]) err_open = false;
        continue;
      }
      (p.fd == out_pipe[0] ? result.out : result.err).append(buf, static_cast<std::size_t>(n));
    }
  }
  if (in_fd >= 0) ::close(in_fd);
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

Wabactl::Wabactl(const TempDir& dir) : db(dir / "data/wabactl.db"), key(dir / "config/master.key") {
  env = {{"WABACTL_DB", db.string()},
         {"WABACTL_KEY_FILE", key.string()},
         {"XDG_DATA_HOME", (dir / "xdg-data").string()},
         {"XDG_CONFIG_HOME", (dir / "xdg-config").string()},
         {"WABACTL_GRAPH_URL", "http://127.0.0.1:9"}};
}

RunResult Wabactl::operator()(const std::vector<std::string>& args, const std::string& input,
                              const std::map<std::string, std::string>& extra_env) const {
  auto e = env;
  for (const auto& [k, v] : extra_env) e[k] = v;
  return run_program(WABACTL_BINARY, args, e, input);
}

RunResult Wabactl::run_noting_pid(const std::vector<std::string>& args,
                                  std::atomic<int>& pid) const {
  return run_program(WABACTL_BINARY, args, env, {}, 60, &pid);
}

struct FakeGraph::Impl {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  mutable std::mutex mu;
  std::vector<Recorded> requests;
  std::vector<std::string> tokens;
  std::function<std::optional<Reply>(const Recorded&)> handler;
  std::atomic<long> next_id{1};
  struct Media {
    std::string bytes;
    std::string mime_type;
  };
  std::map<std::string, Media> media;
  struct Catalogue {
    nlohmann::json templates;
    std::size_t page_size = 2;
  };
  std::map<std::string, Catalogue> catalogues;

  // Meta's listing: a page of templates from the `after` cursor on, and where the next is.
  std::optional<Reply> template_page(const std::string& version, const std::string& waba,
                                     const std::string& query) {
    Catalogue c;
    {
      std::lock_guard lock(mu);
      auto it = catalogues.find(waba);
      if (it == catalogues.end()) return std::nullopt;
      c = it->second;
    }
    std::map<std::string, std::string> params;
    std::istringstream in(query);
    for (std::string kv; std::getline(in, kv, '&');) {
      auto eq = kv.find('=');
      if (eq != std::string::npos) params[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    std::size_t size = c.page_size;
    if (params.count("limit") > 0) size = std::min(size, std::stoul(params["limit"]));
    std::size_t from = 0;
    if (params.count("after") > 0) {
      if (params["after"].rfind("QVFI", 0) != 0) {
        return Reply{400, error_body(100, "Invalid parameter", 0, "bad cursor")};
      }
      from = std::stoul(params["after"].substr(4));
    }
    nlohmann::json data = nlohmann::json::array();
    for (std::size_t i = from; i < c.templates.size() && i < from + size; ++i) {
      data.push_back(c.templates[i]);
    }
    std::size_t end = std::min(from + size, c.templates.size());
    nlohmann::json paging = {
        {"cursors",
         {{"before", fmt::format("QVFI{}", from)}, {"after", fmt::format("QVFI{}", end)}}}};
    if (end < c.templates.size()) {
      paging["next"] =
          fmt::format("http://127.0.0.1:{}/{}/{}/message_templates?limit={}&after=QVFI{}", port,
                      version, waba, size, end);
    }
    return Reply{200, nlohmann::json{{"data", data}, {"paging", paging}}.dump()};
  }

  std::optional<Media> media_of(const std::string& id) {
    std::lock_guard lock(mu);
    auto it = media.find(id);
    if (it == media.end()) return std::nullopt;
    return it->second;
  }

  Reply default_reply(const Recorded& r) {
    bool authorized = false;
    {
      std::lock_guard lock(mu);
      for (const auto& t : tokens) authorized = authorized || r.authorization == "Bearer " + t;
    }
    if (!authorized) {
      return Reply{401,
                   error_body(190, "Error validating access token: Session has expired.", 463)};
    }
    // /vNN.N/<id>[/<edge>]
    std::vector<std::string> parts;
    std::istringstream in(r.path);
    for (std::string p; std::getline(in, p, '/');) {
      if (!p.empty()) parts.push_back(p);
    }
    if (parts.size() == 2 && r.method == "GET" && parts[0] == "download") {
      if (auto m = media_of(parts[1]))
        return Reply{200, m->bytes, {{"Content-Type", m->mime_type}}};
      return Reply{404, "not found", {{"Content-Type", "text/plain"}}};
    }
    if (parts.size() == 2 && r.method == "GET") {
      if (auto m = media_of(parts[1])) {
        nlohmann::json j = {
            {"messaging_product", "whatsapp"},
            {"url", fmt::format("http://127.0.0.1:{}{}", port, media_download_path(parts[1]))},
            {"mime_type", m->mime_type},
            {"sha256", sha256_hex(m->bytes)},
            {"file_size", std::to_string(m->bytes.size())},
            {"id", parts[1]}};
        return Reply{200, j.dump()};
      }
      nlohmann::json j = {{"id", parts[1]},
                          {"display_phone_number", "+1 555-010-0000"},
                          {"verified_name", "Acme Test"},
                          {"quality_rating", "GREEN"}};
      return Reply{200, j.dump()};
    }
    if (parts.size() == 3 && r.method == "GET" && parts[2] == "message_templates") {
      if (auto page = template_page(parts[0], parts[1], r.query)) return *page;
    }
    if (parts.size() == 3 && r.method == "POST" && parts[2] == "messages") {
      auto body = nlohmann::json::parse(r.body, nullptr, false);
      if (body.is_object() && body.value("status", "") == "read") {
        return Reply{200, R"({"success":true})"};
      }
      std::string to = body.is_object() ? body.value("to", body.value("recipient", "")) : "";
      nlohmann::json j = {
          {"messaging_product", "whatsapp"},
          {"contacts", {{{"input", to}, {"wa_id", to}}}},
          {"messages",
           {{{"id", fmt::format("wamid.FAKE{:08}", next_id++)}, {"message_status", "accepted"}}}}};
      return Reply{200, j.dump()};
    }
    if (parts.size() == 3 && r.method == "POST" && parts[2] == "media") {
      return Reply{200, nlohmann::json{{"id", fmt::format("{}", 900000 + next_id++)}}.dump()};
    }
    return Reply{400, error_body(100, "Unsupported request")};
  }
};

FakeGraph::FakeGraph() : impl_(std::make_unique<Impl>()) {
  auto handle = [this](const httplib::Request& req, httplib::Response& res) {
    Recorded r{req.method,
               req.path,
               {},
               req.get_header_value("Authorization"),
               req.get_header_value("Content-Type"),
               req.body,
               {}};
    for (const auto& [k, v] : req.params) {
      r.query += (r.query.empty() ? "" : "&") + k + "=" + v;
    }
    for (const auto& [k, f] : req.files) {
      r.parts.push_back(RecordedPart{f.name, f.filename, f.content_type, f.content});
    }
    std::function<std::optional<Reply>(const Recorded&)> h;
    {
      std::lock_guard lock(impl_->mu);
      impl_->requests.push_back(r);
      h = impl_->handler;
    }
    std::optional<Reply> reply;
    if (h) reply = h(r);
    if (!reply) reply = impl_->default_reply(r);
    if (reply->delay_ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(reply->delay_ms));
    res.status = reply->status;
    std::string type = "application/json";
    for (const auto& [k, v] : reply->headers) {
      if (k == "Content-Type") {
        type = v;
      } else {
        res.set_header(k, v);
      }
    }
    res.set_content(reply->body, type);
  };
  impl_->server.Get(".*", handle);
  impl_->server.Post(".*", handle);
  impl_->server.Delete(".*", handle);
  impl_->server.set_tcp_nodelay(true);
  // Each keep-alive client holds a worker: room for a batch's 32 connections and more.
  impl_->server.new_task_queue = [] { return new httplib::ThreadPool(64); };
  impl_->port = impl_->server.bind_to_any_port("127.0.0.1");
  REQUIRE(impl_->port > 0);
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  while (!impl_->server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

FakeGraph::~FakeGraph() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string FakeGraph::url() const {
  return fmt::format("http://127.0.0.1:{}", impl_->port);
}
int FakeGraph::port() const {
  return impl_->port;
}

void FakeGraph::set_templates(const std::string& waba_id, nlohmann::json templates,
                              std::size_t page_size) {
  std::lock_guard lock(impl_->mu);
  impl_->catalogues[waba_id] = Impl::Catalogue{std::move(templates), page_size};
}

void FakeGraph::accept_token(const std::string& token) {
  std::lock_guard lock(impl_->mu);
  impl_->tokens.push_back(token);
}

void FakeGraph::add_media(const std::string& media_id, std::string bytes,
                          const std::string& mime_type) {
  std::lock_guard lock(impl_->mu);
  impl_->media[media_id] = Impl::Media{std::move(bytes), mime_type};
}

std::string FakeGraph::media_download_path(const std::string& media_id) {
  return "/download/" + media_id;
}

std::string FakeGraph::sha256_hex(const std::string& bytes) {
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(bytes.data()),
                     bytes.size());
  return wabactl::to_hex(digest.data(), digest.size());
}

void FakeGraph::set_handler(std::function<std::optional<Reply>(const Recorded&)> handler) {
  std::lock_guard lock(impl_->mu);
  impl_->handler = std::move(handler);
}

std::vector<Recorded> FakeGraph::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->requests;
}

std::size_t FakeGraph::count(const std::string& method, const std::string& path_suffix) const {
  std::lock_guard lock(impl_->mu);
  std::size_t n = 0;
  for (const auto& r : impl_->requests) {
    if (r.method == method && r.path.size() >= path_suffix.size() &&
        r.path.compare(r.path.size() - path_suffix.size(), path_suffix.size(), path_suffix) == 0) {
      ++n;
    }
  }
  return n;
}

void FakeGraph::clear() {
  std::lock_guard lock(impl_->mu);
  impl_->requests.clear();
}

std::string FakeGraph::error_body(int code, const std::string& message, int subcode,
                                  const std::string& details) {
  nlohmann::json err = {{"message", message},
                        {"type", "OAuthException"},
                        {"code", code},
                        {"fbtrace_id", "AbCdEfGhIjK"}};
  if (subcode != 0) err["error_subcode"] = subcode;
  if (!details.empty()) {
    err["error_data"] = {{"messaging_product", "whatsapp"}, {"details", details}};
  }
  return nlohmann::json{{"error", err}}.dump();
}

} // namespace testsupport
