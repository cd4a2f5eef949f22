// SSE and WebSocket (on its own port and on the HTTP port) authenticate and parse the resume
// point with the same code, so they accept and refuse the same requests the same way.
#include "integration/test_stream_support.hpp"

#include <doctest/doctest.h>

using streamtest::Setup;
using streamtest::SseClient;

namespace {

const std::string handshake = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Version: 13\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

struct Door {
  const char* name;
  int port;
  std::string path;
  std::string headers; ///< what the door needs besides authentication
  int opened;          ///< the status of an accepted request
};

std::vector<Door> doors(const Setup& s) {
  return {{"SSE", s.daemon->port(), "/api/whatsapp/events", "", 200},
          {"WebSocket", s.ws_port, "/api/whatsapp/ws", handshake, 101},
          {"WebSocket on the HTTP port", s.daemon->port(), "/api/whatsapp/ws", handshake, 101}};
}

// The status line's code and the JSON body of a refused request.
std::pair<int, nlohmann::json> refused(const Door& d, const std::string& query,
                                       const std::string& headers) {
  std::string response =
      servetest::raw_http(d.port, fmt::format("GET {}{} HTTP/1.1\r\nHost: 127.0.0.1\r\n{}{}\r\n",
                                              d.path, query, d.headers, headers));
  auto body = response.find("\r\n\r\n");
  REQUIRE_MESSAGE(body != std::string::npos, response);
  return {servetest::status_of(response),
          nlohmann::json::parse(response.substr(body + 4), nullptr, false)};
}

} // namespace

TEST_CASE("streams: every door takes the bearer scheme in any case and refuses alike") {
  Setup s;
  for (const auto& d : doors(s)) {
    CAPTURE(d.name);
    for (const char* scheme : {"Bearer", "bearer", "BEARER"}) {
      CAPTURE(scheme);
      SseClient c(d.port, d.path,
                  d.headers + fmt::format("Authorization: {}  {}\r\n", scheme, s.acme_token));
      CHECK(c.status() == d.opened);
    }
    auto [wrong, wrong_body] = refused(d, "", "Authorization: Bearer wbt_wrong\r\n");
    CHECK(wrong == 401);
    CHECK(wrong_body["error"]["code"] == "unauthorized");
    CHECK(wrong_body["error"]["message"] == "the API token is invalid or revoked");
    auto [basic, basic_body] =
        refused(d, "?access_token=" + s.acme_token, "Authorization: Basic x\r\n");
    CHECK(basic == 401);
    CHECK(basic_body["error"]["message"] ==
          "an API token is required: 'Authorization: Bearer <token>'");
    auto [two, two_body] = refused(
        d, "",
        fmt::format("Authorization: Bearer {0}\r\nAuthorization: Bearer {0}\r\n", s.acme_token));
    CHECK(two == 401);
    CHECK(two_body["error"]["message"] == "the API token is invalid or revoked");
  }
}

TEST_CASE("streams: every door refuses a malformed resume point with the same 400") {
  Setup s;
  const std::string auth = "Authorization: Bearer " + s.acme_token + "\r\n";
  for (const auto& d : doors(s)) {
    CAPTURE(d.name);
    for (const char* bad : {"abc", "-1", "99999999999999999999"}) {
      CAPTURE(bad);
      for (bool header : {false, true}) {
        auto [status, body] = header
                                  ? refused(d, "", auth + fmt::format("Last-Event-ID: {}\r\n", bad))
                                  : refused(d, fmt::format("?last_event_id={}", bad), auth);
        CHECK(status == 400);
        CHECK(body["error"]["code"] == "bad_request");
        CHECK(body["error"]["message"] == "Last-Event-ID must be an event id (a number)");
      }
    }
    // Empty means "from now" everywhere.
    SseClient c(d.port, d.path + "?last_event_id=", d.headers + auth);
    CHECK(c.status() == d.opened);
  }
}
