#pragma once
// The inbox: storing Meta's webhook deliveries (archive, contacts, inbound messages, status
// updates and their events), deduplicated so that Meta's retries store nothing twice.

#include "wabactl/delivery.hpp"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace wabactl {

class Store;

/// What ingest did.
struct IngestStats {
  std::int64_t delivery_id = 0;    ///< the webhook_deliveries row (an earlier one for a retry)
  bool duplicate_delivery = false; ///< the same bytes were archived before
  std::set<std::string> tenants;   ///< tenants the delivery reached (delivery_tenants rows)
  std::size_t messages = 0;        ///< new inbound messages stored
  std::size_t statuses = 0;        ///< new status rows stored
  std::size_t revisions = 0;  ///< new edits and revokes (applied, or waiting for their original)
  std::size_t duplicates = 0; ///< messages/statuses already present
  std::size_t echoes = 0;     ///< new messages the business sent from the app
  std::size_t history_chunks = 0;   ///< new history chunks stored for the background import
  std::size_t contact_syncs = 0;    ///< address-book changes applied
  std::size_t template_changes = 0; ///< template status or quality changes applied
  std::size_t archived_only = 0;    ///< records whose number is not in tenant_of_number
  std::vector<std::int64_t> event_ids;
};

/// Stores one verified delivery, `parsed` being parse_delivery(raw_body). Must run inside a
/// transaction the caller holds (Store::transaction; the daemon's writer groups many
/// deliveries into one), else Error(internal). Writes:
/// - the raw body once (webhook_deliveries, deduplicated on its SHA-256) and one
///   delivery_tenants row per tenant reached;
/// - for records whose phone_number_id is in `tenant_of_number` (phone_number_id → tenant
///   id; the caller lists only authenticated tenants' numbers): contacts (upserted by phone
///   number, else user id), inbound messages (deduplicated on the wamid) and status rows
///   (deduplicated on wamid + status; the outgoing message only moves to a higher
///   status_rank, `failed` keeps its error), edits and revokes (deduplicated on their own
///   wamid, applied to their original, never a new message; one that comes first waits);
/// - events: `message.received` per new message, one `unread.changed` per tenant that got
///   new messages, and `message.status` per new status row (its message, or null when the
///   wamid is not one of ours), `message.edited` / `message.revoked` per change applied.
///   Duplicates write no rows and no events;
/// - coexistence records (coexistence.hpp): echoes, history chunks, address-book syncs.
/// `route` and `verified_by` are recorded on the archive row.
IngestStats record_delivery(Store& store, std::string_view raw_body, const ParsedDelivery& parsed,
                            const std::map<std::string, std::string>& tenant_of_number,
                            std::string_view route, std::string_view verified_by = {});

} // namespace wabactl
