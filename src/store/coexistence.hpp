#pragma once
// Storing a delivery's coexistence records inside record_delivery()'s transaction. Private
// to src/store, like contacts.hpp.

#include "wabactl/delivery.hpp"
#include "wabactl/inbox.hpp"

#include <cstdint>
#include <map>
#include <string>

namespace wabactl {

class Store;

/// Stores `parsed`'s echoes (outgoing messages, source "business_app", event
/// `message.echoed`), history chunks (deduplicated, for the background import; a declined
/// share is logged) and address-book syncs (the business's name for a contact, newest
/// timestamp wins), for the numbers in `tenant_of_number`; the rest stays in the archive
/// only. Counts go to `stats`.
void record_coexistence(Store& store, const ParsedDelivery& parsed,
                        const std::map<std::string, std::string>& tenant_of_number,
                        std::int64_t delivery_id, const std::string& now, IngestStats& stats);

} // namespace wabactl
