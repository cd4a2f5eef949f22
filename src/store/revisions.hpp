#pragma once
// Edits and revokes inside the store (CONTRACT.md §6): each is recorded once under its own
// wamid and applied to the message it changes, or waits until that message is stored.
// Private to src/store, like contacts.hpp.

#include <cstdint>
#include <string>
#include <vector>

namespace wabactl {

class Store;
struct InboundMessage;

/// Whether `m` changes an earlier message (an edit or a revoke) rather than being one.
bool is_revision(const InboundMessage& m);

/// Records the edit or revoke `m` of `tenant` (parse_delivery() has set its original_id)
/// and applies it when its original is stored, else it waits for apply_pending_revisions().
/// Returns false for one recorded before (Meta's retry), which changes nothing. Runs inside
/// the caller's transaction; the events it appends go to `event_ids`.
bool record_revision(Store& store, const std::string& tenant, const InboundMessage& m,
                     const std::string& now, std::int64_t delivery,
                     std::vector<std::int64_t>& event_ids);

/// Applies, oldest first, the edits and revokes of message `wamid` of `tenant` that arrived
/// before it. Call right after storing that message, in the same transaction.
void apply_pending_revisions(Store& store, const std::string& tenant, const std::string& wamid,
                             const std::string& now, std::vector<std::int64_t>& event_ids);

} // namespace wabactl
