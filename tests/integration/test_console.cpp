// The console's HTTP side against the real daemon: its files (caching, compression, the
// security headers) and the sign-in (session cookie, CSRF, the cookie on REST and SSE).
#include "integration/test_stream_support.hpp"
#include "server/api_routes.hpp"
#include "server/console_assets.hpp"
#include "wabactl/util.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <zlib.h>

#include <regex>

using nlohmann::json;
using streamtest::Setup;

namespace {

const char* const csp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'";

// A raw response split into its status, headers (names lower-cased) and body.
struct Response {
  int status = 0;
  std::multimap<std::string, std::string> headers;
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

Response parse(const std::string& raw) {
  Response r;
  r.status = servetest::status_of(raw);
  auto end = raw.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  std::string head = raw.substr(0, end);
  r.body = raw.substr(end + 4);
  std::size_t pos = head.find("\r\n");
  while (pos != std::string::npos) {
    std::size_t next = head.find("\r\n", pos + 2);
    std::string line = head.substr(pos + 2, next == std::string::npos ? next : next - pos - 2);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers.emplace(name, std::string(wabactl::trim(line.substr(colon + 1))));
    }
    pos = next;
  }
  return r;
}

Response request(int port, const std::string& method, const std::string& target,
                 const std::string& headers = {}, const std::string& body = {}) {
  std::string req = fmt::format("{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{}",
                                method, target, headers);
  if (!body.empty() || method == "POST") {
    req += fmt::format("Content-Type: application/json\r\nContent-Length: {}\r\n", body.size());
  }
  req += "\r\n" + body;
  return parse(servetest::raw_http(port, req));
}

std::string gunzip(const std::string& in) {
  z_stream z{};
  REQUIRE(inflateInit2(&z, 16 + MAX_WBITS) == Z_OK);
  std::string out(1 << 20, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&z, Z_FINISH);
  out.resize(out.size() - z.avail_out);
  inflateEnd(&z);
  REQUIRE(rc == Z_STREAM_END);
  return out;
}

// Signs in with `token`; returns the cookie's value and the CSRF token.
std::pair<std::string, std::string> sign_in(int port, const std::string& token,
                                            const std::string& extra_headers = {}) {
  auto r =
      request(port, "POST", "/console/api/session", extra_headers, json{{"token", token}}.dump());
  INFO(r.body);
  REQUIRE(r.status == 200);
  std::smatch m;
  std::string cookie = r.header("set-cookie");
  REQUIRE(std::regex_search(cookie, m, std::regex("^wabactl_session=(wbs_[A-Za-z0-9_-]+);")));
  return {m[1], json::parse(r.body)["csrf_token"]};
}

} // namespace

TEST_CASE("console files: / redirects, index.html is revalidated, versioned assets are immutable, "
          "gzip only when accepted, and every answer carries the CSP") {
  Setup s;
  int port = s.daemon->port();

  auto root = request(port, "GET", "/");
  CHECK(root.status == 302);
  CHECK(root.header("location") == "/console/");
  CHECK(request(port, "GET", "/console").header("location") == "/console/");

  auto index = request(port, "GET", "/console/", "Accept-Encoding: gzip, br\r\n");
  REQUIRE(index.status == 200);
  CHECK(index.header("content-encoding") == "gzip");
  CHECK(index.header("content-type") == "text/html; charset=utf-8");
  CHECK(index.header("cache-control") == "no-cache");
  CHECK(index.header("content-security-policy") == csp);
  CHECK(index.header("x-content-type-options") == "nosniff");
  CHECK(index.header("referrer-policy") == "no-referrer");
  CHECK(index.header("vary") == "Accept-Encoding");
  std::string etag = index.header("etag");
  REQUIRE(etag.size() > 2);
  std::string html = gunzip(index.body);
  CHECK(html.find("<script type=\"module\"") != std::string::npos);
  CHECK(html.find("@ASSETS@") == std::string::npos);
  // No inline script or style: every script has a src, no style element or attribute.
  CHECK_FALSE(std::regex_search(html, std::regex("<script(?![^>]*\\ssrc=)[^>]*>")));
  CHECK(html.find("<style") == std::string::npos);
  CHECK(html.find("style=") == std::string::npos);

  // Without gzip in Accept-Encoding (or with q=0): the same bytes, inflated.
  auto plain = request(port, "GET", "/console/");
  CHECK(plain.status == 200);
  CHECK(plain.header("content-encoding").empty());
  CHECK(plain.body == html);
  CHECK(request(port, "GET", "/console/", "Accept-Encoding: gzip;q=0\r\n").body == html);

  auto again = request(port, "GET", "/console/", "If-None-Match: " + etag + "\r\n");
  CHECK(again.status == 304);
  CHECK(again.body.empty());
  CHECK(again.header("content-security-policy") == csp);
  CHECK(request(port, "GET", "/console/", "If-None-Match: \"other\"\r\n").status == 200);

  // Every asset index.html names is served from its versioned path, immutable.
  std::smatch m;
  std::regex ref("(src|href)=\"(assets/[0-9a-f]{16}/[a-z]+\\.(js|css))\"");
  int assets = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), ref); it != std::sregex_iterator();
       ++it) {
    std::string path = "/console/" + (*it)[2].str();
    CAPTURE(path);
    auto a = request(port, "GET", path, "Accept-Encoding: gzip\r\n");
    CHECK(a.status == 200);
    CHECK(a.header("cache-control") == "public, max-age=31536000, immutable");
    CHECK(a.header("content-security-policy") == csp);
    CHECK(a.header("content-type").find("charset=utf-8") != std::string::npos);
    CHECK_FALSE(gunzip(a.body).empty());
    ++assets;
  }
  CHECK(assets >= 3);
  // Every module the table holds is reachable by a relative import from app.js's folder.
  for (const auto& a : wabactl::server::console_assets()) {
    CHECK(request(port, "GET", std::string(a.path)).status == 200);
  }
  CHECK(request(port, "GET", "/console/assets/0000000000000000/app.js").status == 404);
}

TEST_CASE("console sign-in: a tenant token becomes an HttpOnly SameSite=Strict session cookie "
          "that REST and SSE take like the token, CSRF-checked on changes, ended by sign-out "
          "and by revoking the token") {
  Setup s;
  int port = s.daemon->port();
  s.inbound("wamid.C1", "hello acme");
  s.inbound("wamid.C2", "hello globex", true);

  // Without a cookie the session route says so without failing (a first visit).
  auto none = request(port, "GET", "/console/api/session");
  CHECK(none.status == 200);
  CHECK(json::parse(none.body)["signed_in"] == false);

  CHECK(request(port, "POST", "/console/api/session", {}, R"({"token":"wbt_wrong"})").status ==
        401);
  CHECK(request(port, "POST", "/console/api/session", {}, R"({})").status == 401);
  // Only JSON: another site's form cannot sign a browser in.
  auto form = parse(servetest::raw_http(
      port, fmt::format("POST /console/api/session HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: "
                        "{}\r\n\r\ntoken={}",
                        6 + s.acme_token.size(), s.acme_token)));
  CHECK(form.status == 400);

  auto r = request(port, "POST", "/console/api/session", {}, json{{"token", s.acme_token}}.dump());
  REQUIRE(r.status == 200);
  std::string set_cookie = r.header("set-cookie");
  CHECK(set_cookie.find("; HttpOnly") != std::string::npos);
  CHECK(set_cookie.find("; SameSite=Strict") != std::string::npos);
  CHECK(set_cookie.find("; Path=/") != std::string::npos);
  CHECK(set_cookie.find("; Max-Age=43200") != std::string::npos);
  CHECK(set_cookie.find("Secure") == std::string::npos);
  json answer = json::parse(r.body);
  CHECK(answer["tenant_id"] == "acme");
  CHECK(answer["token_id"] == s.acme_token_id);
  auto [session, csrf] = sign_in(port, s.acme_token);
  std::string cookie = "Cookie: theme=dark; wabactl_session=" + session + "\r\n";

  // Behind a TLS proxy the cookie is Secure.
  auto tls = request(port, "POST", "/console/api/session", "X-Forwarded-Proto: https\r\n",
                     json{{"token", s.acme_token}}.dump());
  CHECK(tls.header("set-cookie").find("; Secure") != std::string::npos);

  auto who = request(port, "GET", "/console/api/session", cookie);
  REQUIRE(who.status == 200);
  CHECK(json::parse(who.body)["csrf_token"] == csrf);
  CHECK(json::parse(who.body)["tenant_id"] == "acme");

  // REST with the cookie sees acme's data only.
  auto msgs = request(port, "GET", "/api/whatsapp/messages", cookie);
  REQUIRE(msgs.status == 200);
  CHECK(msgs.body.find("hello acme") != std::string::npos);
  CHECK(msgs.body.find("hello globex") == std::string::npos);
  auto convs = request(port, "GET", "/api/whatsapp/conversations", cookie);
  REQUIRE(convs.status == 200);
  json rows = json::parse(convs.body)["conversations"];
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["last_text"] == "hello acme");
  CHECK(rows[0]["unread"] == 1);

  // A change needs the CSRF header; a wrong one is refused the same way.
  CHECK(request(port, "POST", "/api/whatsapp/read-all", cookie, R"({"receipt":false})").status ==
        403);
  CHECK(request(port, "POST", "/api/whatsapp/read-all", cookie + "X-CSRF-Token: nope\r\n",
                R"({"receipt":false})")
            .status == 403);
  auto [other_session, other_csrf] = sign_in(port, s.acme_token);
  CHECK(other_csrf != csrf);
  CHECK(request(port, "POST", "/api/whatsapp/read-all",
                cookie + "X-CSRF-Token: " + other_csrf + "\r\n", R"({"receipt":false})")
            .status == 403);
  auto marked = request(port, "POST", "/api/whatsapp/read-all",
                        cookie + "X-CSRF-Token: " + csrf + "\r\n", R"({"receipt":false})");
  CHECK(marked.status == 200);
  CHECK(json::parse(marked.body)["marked"] == 1);
  // A bearer client needs no CSRF header, and a token wins over a cookie.
  auto bearer = s.request("POST", "/api/whatsapp/read-all", s.acme_token, R"({"receipt":false})");
  REQUIRE(bearer);
  CHECK(bearer->status == 200);
  auto mixed = request(port, "GET", "/api/whatsapp/unread-count",
                       cookie + "Authorization: Bearer " + s.globex_token + "\r\n");
  CHECK(mixed.status == 200);
  CHECK(json::parse(mixed.body)["count"] == 1); // globex's

  // SSE with the cookie: acme's events only.
  {
    streamtest::SseClient sse(port, "/api/whatsapp/events?last_event_id=0", cookie);
    REQUIRE(sse.status() == 200);
    bool saw_acme = false;
    while (auto e = sse.event(700)) {
      CHECK(e->data.find("hello globex") == std::string::npos);
      saw_acme = saw_acme || e->data.find("hello acme") != std::string::npos;
    }
    CHECK(saw_acme);
  }

  // The session id is kept only as a hash.
  {
    std::string bytes = testsupport::slurp(s.w.db) + testsupport::slurp(s.w.db.string() + "-wal");
    CHECK(bytes.find(session) == std::string::npos);
  }

  // Sign-out needs the CSRF header too, and ends that session only.
  std::string other = "Cookie: wabactl_session=" + other_session + "\r\n";
  CHECK(request(port, "DELETE", "/console/api/session", other).status == 403);
  auto out = request(port, "DELETE", "/console/api/session",
                     other + "X-CSRF-Token: " + other_csrf + "\r\n");
  CHECK(out.status == 200);
  CHECK(out.header("set-cookie").find("Max-Age=0") != std::string::npos);
  CHECK(request(port, "GET", "/api/whatsapp/unread-count", other).status == 401);
  CHECK(request(port, "GET", "/api/whatsapp/unread-count", cookie).status == 200);

  // Revoking the token ends its sessions and their streams.
  streamtest::SseClient live(port, "/api/whatsapp/events", cookie);
  REQUIRE(live.status() == 200);
  REQUIRE(s.w({"token", "revoke", "--tenant", "acme", s.acme_token_id}).exit_code == 0);
  CHECK(request(port, "GET", "/api/whatsapp/unread-count", cookie).status == 401);
  CHECK(request(port, "GET", "/console/api/session", cookie).status == 401);
  CHECK(live.ended(10000));
}

TEST_CASE("console sessions expire: an expired session is refused and pruned at the next "
          "sign-in") {
  Setup s;
  int port = s.daemon->port();
  auto [session, csrf] = sign_in(port, s.acme_token);
  std::string cookie = "Cookie: wabactl_session=" + session + "\r\n";
  CHECK(request(port, "GET", "/api/whatsapp/unread-count", cookie).status == 200);
  {
    SQLite::Database db(s.w.db.string(), SQLite::OPEN_READWRITE);
    db.exec("UPDATE console_sessions SET expires_at = '2020-01-01T00:00:00Z'");
  }
  CHECK(request(port, "GET", "/api/whatsapp/unread-count", cookie).status == 401);
  sign_in(port, s.acme_token);
  SQLite::Database db(s.w.db.string());
  CHECK(db.execAndGet("SELECT count(*) FROM console_sessions").getInt() == 1);
}

TEST_CASE("console sessions: tenant B's cookie never reaches tenant A's data (route matrix)") {
  // B's writes that call Meta reach this fake, which refuses B's token.
  testsupport::FakeGraph graph;
  Setup s({}, graph.url());
  int port = s.daemon->port();
  s.inbound("wamid.SECRET-A", "acme private text", false, "15551234567", 1764000001);
  s.inbound("wamid.B1", "globex text", true, "15550001111", 1764000002);
  auto status = request(port, "GET", "/api/whatsapp/messages/wamid.SECRET-A/status",
                        "Authorization: Bearer " + s.acme_token + "\r\n");
  REQUIRE(status.status == 200);
  std::string a_local = json::parse(status.body)["message"]["id"];
  auto [session, csrf] = sign_in(port, s.globex_token);
  std::string cookie = "Cookie: wabactl_session=" + session + "\r\nX-CSRF-Token: " + csrf + "\r\n";
  const std::string parameter = "([^/]+)";
  std::size_t requests = 0;
  for (const auto& route : wabactl::server::tenant_routes()) {
    const std::string method = route.method;
    std::string pattern = route.pattern;
    bool takes_id = pattern.find(parameter) != std::string::npos;
    for (const std::string& id : {a_local, std::string("wamid.SECRET-A")}) {
      std::string path = pattern;
      for (auto at = path.find(parameter); at != std::string::npos; at = path.find(parameter)) {
        path.replace(at, parameter.size(), id);
      }
      CAPTURE(route.name);
      CAPTURE(path);
      ++requests;
      if (route.stream != nullptr) {
        streamtest::SseClient sse(port, path + "?last_event_id=0", cookie);
        REQUIRE(sse.status() == 200);
        bool saw_own = false;
        while (auto e = sse.event(500)) {
          CHECK(e->data.find("SECRET-A") == std::string::npos);
          saw_own = saw_own || e->data.find("wamid.B1") != std::string::npos;
        }
        CHECK(saw_own);
        break;
      }
      std::string body = method == "POST" ? R"({"phone_number":"15551234567","text":"x"})" : "";
      auto r = request(port, method, path, cookie, body);
      INFO(r.body);
      CHECK(r.status < 500);
      CHECK(r.status != 401);
      CHECK(r.status != 403);
      if (takes_id) CHECK(r.status == 404);
      CHECK(r.body.find("acme private") == std::string::npos);
      CHECK(r.body.find(fixtures::acme.phone_number_id) == std::string::npos);
      if (!takes_id) {
        CHECK(r.body.find("SECRET-A") == std::string::npos);
        break;
      }
    }
  }
  CHECK(requests > wabactl::server::tenant_routes().size());
}
