// The WebSocket handshake digest and the frame codec (RFC 6455 §5), without I/O.
#include "server/websocket.hpp"

#include "wabactl/util.hpp"

#include <openssl/sha.h>
#include <sodium.h>

#include <cstring>

namespace wabactl::ws {
namespace {

constexpr const char* handshake_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr std::size_t max_control_payload = 125;

bool valid_close_code(std::uint16_t code) {
  if (code >= 3000 && code <= 4999) return true;
  if (code < 1000 || code > 1014) return false;
  return code != 1004 && code != 1005 && code != 1006;
}

bool known_opcode(unsigned op) {
  return op <= 2 || (op >= 8 && op <= 10);
}

} // namespace

std::string accept_key(std::string_view client_key) {
  // The protocol defines the accept key with SHA-1; libcrypto (linked for TLS) computes it.
  std::string input = std::string(client_key) + handshake_guid;
  std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
  std::string out(sodium_base64_ENCODED_LEN(digest.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), digest.data(), digest.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::string encode_frame(Opcode opcode, std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 10);
  out.push_back(static_cast<char>(0x80 | static_cast<unsigned>(opcode)));
  std::uint64_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(n));
  } else if (n <= 0xffff) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>((n >> 8) & 0xff));
    out.push_back(static_cast<char>(n & 0xff));
  } else {
    out.push_back(static_cast<char>(127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((n >> (i * 8)) & 0xff));
  }
  out.append(payload);
  return out;
}

std::string encode_close(std::uint16_t code, std::string_view reason) {
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xff));
  reason = reason.substr(0, max_control_payload - 2);
  // Never cut a UTF-8 sequence in half: the reason must stay valid UTF-8.
  while (!reason.empty() && !valid_utf8(reason)) reason.remove_suffix(1);
  payload.append(reason);
  return encode_frame(Opcode::close, payload);
}

FrameReader::FrameReader(FrameLimits limits) : limits_(limits) {}

std::optional<Violation> FrameReader::feed(std::string& buffer, std::vector<ClientItem>& out) {
  std::size_t pos = 0;
  auto fail = [&](std::uint16_t code, std::string reason) {
    buffer.erase(0, pos);
    return std::optional<Violation>(Violation{code, std::move(reason)});
  };
  while (buffer.size() - pos >= 2) {
    const auto* p = reinterpret_cast<const unsigned char*>(buffer.data() + pos);
    std::size_t avail = buffer.size() - pos;
    bool fin = (p[0] & 0x80) != 0;
    unsigned rsv = p[0] & 0x70;
    unsigned op = p[0] & 0x0F;
    bool masked = (p[1] & 0x80) != 0;
    std::uint64_t len = p[1] & 0x7F;
    if (rsv != 0) return fail(close_protocol_error, "reserved bits set");
    if (!known_opcode(op)) return fail(close_protocol_error, "unknown opcode");
    if (!masked) return fail(close_protocol_error, "client frames must be masked");
    bool control = op >= 8;
    if (control && (!fin || len > max_control_payload)) {
      return fail(close_protocol_error, "bad control frame");
    }
    std::size_t header = 2;
    if (len == 126) {
      if (avail < 4) break;
      len = (std::uint64_t{p[2]} << 8) | p[3];
      header = 4;
    } else if (len == 127) {
      if (avail < 10) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
      header = 10;
      if ((len >> 63) != 0) return fail(close_protocol_error, "bad frame length");
    }
    if (len > limits_.max_frame) return fail(close_too_big, "frame too big");
    if (!control && in_message_ && op != 0) {
      return fail(close_protocol_error, "new message inside a fragmented message");
    }
    if (op == 0 && !in_message_) return fail(close_protocol_error, "continuation without a start");
    if (!control && message_.size() + len > limits_.max_message) {
      return fail(close_too_big, "message too big");
    }
    std::size_t total = header + 4 + static_cast<std::size_t>(len);
    if (avail < total) break;

    const unsigned char* mask = p + header;
    std::string payload(reinterpret_cast<const char*>(p + header + 4),
                        static_cast<std::size_t>(len));
    for (std::size_t i = 0; i < payload.size(); ++i) {
      payload[i] = static_cast<char>(static_cast<unsigned char>(payload[i]) ^ mask[i % 4]);
    }
    pos += total;

    if (control) {
      ClientItem item;
      if (op == 8) {
        item.kind = ClientItem::Kind::close;
        if (payload.size() == 1) return fail(close_protocol_error, "bad close payload");
        if (payload.size() >= 2) {
          item.close_code =
              static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                         static_cast<unsigned char>(payload[1]));
          if (!valid_close_code(item.close_code))
            return fail(close_protocol_error, "bad close code");
          item.payload = payload.substr(2);
          if (!valid_utf8(item.payload)) return fail(close_invalid_data, "close reason not UTF-8");
        }
      } else {
        item.kind = op == 9 ? ClientItem::Kind::ping : ClientItem::Kind::pong;
        item.payload = std::move(payload);
      }
      out.push_back(std::move(item));
      continue;
    }
    if (op != 0) {
      in_message_ = true;
      message_opcode_ = static_cast<Opcode>(op);
      message_.clear();
    }
    message_ += payload;
    if (fin) {
      in_message_ = false;
      if (message_opcode_ == Opcode::text && !valid_utf8(message_)) {
        return fail(close_invalid_data, "text message not UTF-8");
      }
      ClientItem item;
      item.kind = ClientItem::Kind::message;
      item.opcode = message_opcode_;
      item.payload = std::move(message_);
      message_.clear();
      out.push_back(std::move(item));
    }
  }
  buffer.erase(0, pos);
  return std::nullopt;
}

} // namespace wabactl::ws
