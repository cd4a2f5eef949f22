#include "wabactl/graph.hpp"

#include <fmt/format.h>

namespace wabactl {

ErrorClass classify(const MetaError& e) {
  const int c = e.code;
  if (c == 0 && e.type.empty()) {
    // Not Meta's error object (a proxy's or a wrong --graph-url's page): only the HTTP
    // status says anything, and a 404 is no verdict on the token.
    if (e.http_status == 401) return ErrorClass::credentials;
    if (e.http_status == 0 || e.http_status == 429 || e.http_status >= 500) {
      return ErrorClass::retry;
    }
    return ErrorClass::permanent;
  }
  if (c == 190 || c == 0 || c == 10 || (c >= 200 && c <= 299)) {
    // Code 0 with an HTTP 5xx is a server failure, not an authentication one.
    if (!(c == 0 && (e.http_status == 0 || e.http_status >= 500))) return ErrorClass::credentials;
  }
  if (c == 131049) return ErrorClass::wait_day;
  switch (c) {
  case 1:
  case 2:
  case 4:
  case 17:
  case 80007:
  case 130429:
  case 131000:
  case 131016:
  case 131056:
    return ErrorClass::retry;
  default:
    break;
  }
  if (e.is_transient || e.http_status >= 500 || e.http_status == 0 || e.http_status == 429) {
    return ErrorClass::retry;
  }
  return ErrorClass::permanent;
}

std::optional<MetaError> parse_meta_error(const HttpResult& result) {
  if (result.ok()) return std::nullopt;
  MetaError e;
  e.http_status = result.status;
  auto doc = nlohmann::json::parse(result.body, nullptr, false);
  if (doc.is_object() && doc.contains("error") && doc["error"].is_object()) {
    const auto& err = doc["error"];
    auto str = [&](const nlohmann::json& j, const char* k) {
      return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
    };
    auto num = [&](const nlohmann::json& j, const char* k) {
      return j.contains(k) && j[k].is_number_integer() ? j[k].get<int>() : 0;
    };
    e.code = num(err, "code");
    e.subcode = num(err, "error_subcode");
    e.type = str(err, "type");
    e.message = str(err, "message");
    e.title = str(err, "error_user_title");
    if (e.title.empty()) e.title = e.message;
    e.fbtrace_id = str(err, "fbtrace_id");
    if (err.contains("error_data") && err["error_data"].is_object()) {
      e.details = str(err["error_data"], "details");
    }
    e.is_transient = err.contains("is_transient") && err["is_transient"].is_boolean() &&
                     err["is_transient"].get<bool>();
    return e;
  }
  // Not Meta's answer: whoever sent it (a proxy, a wrong --graph-url) gets none of its
  // text copied into a response, a log or the store.
  e.message = fmt::format("Graph API answered HTTP {}", result.status);
  e.title = e.message;
  return e;
}

std::string advice_for(int code) {
  switch (code) {
  case 190:
    return "the access token expired or was revoked: set a new one with 'wabactl config set "
           "--access-token-file'";
  case 0:
  case 10:
    return "the token lacks permission for this number: check the app's "
           "whatsapp_business_messaging "
           "permission and set a new token";
  case 131047:
    return "outside the 24-hour window: send a template";
  case 131026:
    return "the recipient cannot receive this message (not on WhatsApp, old app, or has not "
           "accepted the terms)";
  case 131049:
    return "Meta limits marketing messages to this user: try again in a day";
  case 131056:
    return "too many messages to the same recipient: wait a few seconds between them";
  case 130429:
    return "the phone number's throughput limit was hit: lower --rate";
  case 131048:
    return "spam rate limit hit: the number's quality is low; slow down and review content";
  case 131051:
    return "unsupported message type";
  case 131052:
  case 131053:
    return "the media could not be downloaded or uploaded: check the link or file";
  case 131008:
    return "a required parameter is missing";
  case 131009:
    return "a parameter value is not valid";
  case 100:
    return "invalid parameter: check ids and field names";
  case 368:
    return "the account is temporarily blocked for policy violations";
  case 131031:
    return "the business account is locked";
  default:
    if (code >= 132000 && code <= 132016) {
      return "template error: check the template name, language and parameters against the "
             "approved template";
    }
    if (code >= 200 && code <= 299) return "permission error: set a token with the right scopes";
    return {};
  }
}

std::string advice_for(const MetaError& e) {
  if (e.code == 0 && e.type.empty()) {
    return fmt::format("the answer (HTTP {}) did not come from Meta's Graph API: check "
                       "--graph-url and $WABACTL_GRAPH_URL, or try again later",
                       e.http_status);
  }
  return advice_for(e.code);
}

std::string describe(const MetaError& e) {
  if (e.code == 0 && e.type.empty())
    return fmt::format("Graph API answered HTTP {}", e.http_status);
  std::string out = e.code != 0 || !e.type.empty()
                        ? fmt::format("Meta error {}", e.code)
                        : fmt::format("Graph API answered HTTP {}", e.http_status);
  if (!e.type.empty()) out += fmt::format(" ({})", e.type);
  if (!e.title.empty()) out += ": " + e.title;
  if (!e.details.empty() && e.details != e.title) out += ": " + e.details;
  if (!e.fbtrace_id.empty()) out += fmt::format(" (fbtrace_id {})", e.fbtrace_id);
  return out;
}

CredentialCheck check_credentials(GraphClient& client, const std::string& phone_number_id) {
  CredentialCheck check{CredentialCheck::Result::ok, std::nullopt, std::nullopt, {}};
  HttpResult r =
      client.get(phone_number_id + "?fields=id,display_phone_number,verified_name,quality_rating");
  if (r.status == 0) {
    check.result = CredentialCheck::Result::unreachable;
    check.transport_error = r.transport_error;
    return check;
  }
  if (auto err = parse_meta_error(r)) {
    check.error = err;
    switch (classify(*err)) {
    case ErrorClass::credentials:
      check.result = CredentialCheck::Result::rejected_credentials;
      break;
    case ErrorClass::retry:
      check.result = CredentialCheck::Result::unreachable;
      check.transport_error = describe(*err);
      break;
    default:
      check.result = CredentialCheck::Result::rejected;
      break;
    }
    return check;
  }
  auto doc = nlohmann::json::parse(r.body, nullptr, false);
  PhoneNumberInfo info;
  if (doc.is_object()) {
    auto str = [&](const char* k) {
      return doc.contains(k) && doc[k].is_string() ? doc[k].get<std::string>() : std::string();
    };
    info.id = str("id");
    info.display_phone_number = str("display_phone_number");
    info.verified_name = str("verified_name");
    info.quality_rating = str("quality_rating");
  }
  check.info = info;
  return check;
}

} // namespace wabactl
