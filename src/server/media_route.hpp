#pragma once
// GET /api/whatsapp/media/{message id} (CONTRACT.md §7): a message's kept bytes, streamed
// from the media folder with the headers a browser needs to show or save them safely, and
// single byte ranges for audio and video players.

namespace httplib {
struct Request;
struct Response;
} // namespace httplib

#include <string>

namespace wabactl {
class Store;
}

namespace wabactl::server {

/// Answers the media of message `id` (local id or wamid) of `tenant`: 200 or 206 with the
/// bytes, 304 for a matching If-None-Match, 416 for a range outside them, 409
/// {"state": "pending"} while being fetched, 410 with the reason once failed, 404 for a
/// message of another tenant or without media. Throws Error for what guarded() answers.
void serve_media(const httplib::Request& req, httplib::Response& res, Store& store,
                 const std::string& tenant, const std::string& id);

} // namespace wabactl::server
