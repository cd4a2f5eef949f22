#pragma once
// The outbox: every send is recorded in whatsapp_messages before Meta is called, and updated
// with Meta's answer, so that an idempotency key is never sent twice (the send_state
// lifecycle is described in send.hpp). These are the store's operations for it; the send
// pipeline decides when each runs.

#include "wabactl/messages.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wabactl {

class Store;

/// One outgoing message as the outbox records it.
struct OutboxEntry {
  std::string tenant;
  std::optional<std::string> contact_id;
  std::optional<std::string> phone_number;
  std::optional<std::string> user_id;
  std::string type; ///< Meta's message type
  std::optional<std::string> text;
  std::optional<std::string> media_url;
  std::optional<std::string> media_type;
  std::optional<std::string> template_name;
  std::optional<std::string> reply_to; ///< a wamid
  std::optional<std::string> callback_data;
  std::string request; ///< Meta's request body, as JSON text
  std::optional<std::string> idempotency_key;
};

/// A message recorded in the outbox before it is sent.
struct OutboxClaim {
  std::int64_t id = 0;   ///< local message id
  bool owned = false;    ///< this caller sends it; else an earlier send holds the key
  std::string state;     ///< the earlier send's send_state when not owned
  std::string timestamp; ///< the earlier send's timestamp when not owned
  std::string holder;    ///< the claimant (outbox_claimant()) of the earlier send, if any
};

/// Records every entry in one transaction, committed with the store's durability (a claim
/// a power loss could undo would let a re-run send the message twice). An entry whose
/// idempotency key the tenant used before is not recorded again: its claim names the
/// earlier send. When that send's process has died (or died before a reboot) while its
/// request was out, the earlier send becomes unknown; when nothing of it was delivered, the
/// entry takes it over with its new content and is owned.
std::vector<OutboxClaim> claim_sends(Store& store, const std::vector<OutboxEntry>& entries);

/// The claimed message's request is about to leave: from now on a death of this process
/// leaves its outcome unknown. Committed without a sync: it must survive this process, not
/// the machine (claims of an earlier boot count as possibly sent anyway).
void mark_sending(Store& store, const std::string& tenant, std::int64_t id);

/// Meta accepted the message as `wamid`: it is sent (never again) and a message.sent event
/// is appended; a status webhook that came before the answer (kept in message_statuses) is
/// applied. Committed without a sync: if a power loss undoes it, the row stays claimed and
/// is never re-sent. `request` is the request body as sent, `media_id` an uploaded file's.
Message record_answer(Store& store, const std::string& tenant, std::int64_t id,
                      const std::string& wamid, const std::string& request,
                      const std::optional<std::string>& media_id);

/// Why a send failed: Meta's error, or a local reason in `title` alone.
struct SendFailure {
  std::optional<int> code;
  std::string title;
  std::optional<std::string> details;
  std::optional<std::string> fbtrace_id;
};

/// Nothing was delivered: the message is failed, and the next send with its key tries it
/// again when `retryable`. Committed without a sync, as record_answer().
Message record_failure(Store& store, const std::string& tenant, std::int64_t id, bool retryable,
                       const SendFailure& why);

/// The request left and no answer came: never re-sent until resolve_send() settles it.
Message record_unknown(Store& store, const std::string& tenant, std::int64_t id,
                       const std::string& why);

/// Settles by hand a send whose outcome is unknown (or whose process died while its request
/// was out): `delivered` marks it sent (its key is never sent again), else failed (the next
/// send with the key tries again). Error(not_found) for an unknown key, Error(usage) when the
/// key's send is settled already or still held by a live process.
Message resolve_send(Store& store, const std::string& tenant, const std::string& key,
                     bool delivered);

} // namespace wabactl
