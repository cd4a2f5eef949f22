#include "store/migrations.hpp"

namespace wabactl {

// Each entry moves the schema from version i to i+1. Never edit a released entry: add one.
const std::vector<const char*>& migrations() {
  static const std::vector<const char*> list = {
      // 1: tenants, their WhatsApp configs (secrets sealed), settings.
      R"sql(
CREATE TABLE settings (
  name  TEXT PRIMARY KEY,
  value BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE tenants (
  id         TEXT PRIMARY KEY,
  name       TEXT,
  created_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE whatsapp_configs (
  id                  INTEGER PRIMARY KEY,
  tenant_id           TEXT NOT NULL UNIQUE REFERENCES tenants(id) ON DELETE CASCADE,
  api_key             BLOB,
  api_secret          BLOB,
  phone_number_id     TEXT NOT NULL UNIQUE,
  business_account_id TEXT,
  verify_token        BLOB,
  webhook_url         TEXT,
  is_active           INTEGER NOT NULL DEFAULT 1,
  api_version         TEXT,
  graph_url           TEXT,
  needs_reauth        INTEGER NOT NULL DEFAULT 0,
  created_at          TEXT NOT NULL,
  updated_at          TEXT NOT NULL
);
)sql",
      // 2: conversations: contacts, messages (also the outbox), status history, raw
      // webhook deliveries and the append-only event log.
      R"sql(
CREATE TABLE contacts (
  id           INTEGER PRIMARY KEY,
  tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  phone_number TEXT,
  user_id      TEXT,
  name         TEXT,
  external_id  TEXT,
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL,
  CHECK (phone_number IS NOT NULL OR user_id IS NOT NULL)
);
CREATE UNIQUE INDEX contacts_by_phone ON contacts(tenant_id, phone_number)
  WHERE phone_number IS NOT NULL;
CREATE UNIQUE INDEX contacts_by_user ON contacts(tenant_id, user_id) WHERE user_id IS NOT NULL;

CREATE TABLE whatsapp_messages (
  id              INTEGER PRIMARY KEY,
  tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  contact_id      TEXT,
  phone_number    TEXT,
  user_id         TEXT,
  conversation    TEXT NOT NULL,
  message_id      TEXT,
  direction       TEXT NOT NULL CHECK (direction IN ('incoming', 'outgoing')),
  status          TEXT NOT NULL,
  status_rank     INTEGER NOT NULL DEFAULT 0,
  type            TEXT NOT NULL,
  message_text    TEXT,
  media_url       TEXT,
  media_type      TEXT,
  media_id        TEXT,
  template_name   TEXT,
  reply_to        TEXT,
  timestamp       TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  read_at         TEXT,
  error_code      INTEGER,
  error_title     TEXT,
  error_details   TEXT,
  fbtrace_id      TEXT,
  idempotency_key TEXT,
  callback_data   TEXT,
  send_state      TEXT,
  request         TEXT,
  payload         TEXT
);
CREATE UNIQUE INDEX messages_by_wamid ON whatsapp_messages(tenant_id, message_id)
  WHERE message_id IS NOT NULL;
CREATE UNIQUE INDEX messages_by_idempotency_key ON whatsapp_messages(tenant_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_by_conversation ON whatsapp_messages(tenant_id, conversation, timestamp, id);
CREATE INDEX messages_by_time ON whatsapp_messages(tenant_id, timestamp, id);
CREATE INDEX messages_by_contact ON whatsapp_messages(tenant_id, contact_id, timestamp, id)
  WHERE contact_id IS NOT NULL;
CREATE INDEX messages_unread ON whatsapp_messages(tenant_id, conversation, timestamp)
  WHERE direction = 'incoming' AND read_at IS NULL;

CREATE TABLE message_statuses (
  id            INTEGER PRIMARY KEY,
  tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  message_id    TEXT NOT NULL,
  status        TEXT NOT NULL,
  timestamp     TEXT NOT NULL,
  error_code    INTEGER,
  error_title   TEXT,
  error_details TEXT,
  payload       TEXT,
  UNIQUE (tenant_id, message_id, status)
);

CREATE TABLE webhook_deliveries (
  id          INTEGER PRIMARY KEY,
  received_at TEXT NOT NULL,
  route       TEXT,
  verified_by TEXT,
  body        BLOB NOT NULL,
  body_hash   BLOB
);
CREATE UNIQUE INDEX webhook_deliveries_by_hash ON webhook_deliveries(body_hash)
  WHERE body_hash IS NOT NULL;
CREATE TABLE delivery_tenants (
  delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
  tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  PRIMARY KEY (delivery_id, tenant_id)
) WITHOUT ROWID;
CREATE INDEX delivery_tenants_by_tenant ON delivery_tenants(tenant_id);

CREATE TABLE events (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  type       TEXT NOT NULL,
  at         TEXT NOT NULL,
  data       TEXT NOT NULL
);
CREATE INDEX events_by_tenant ON events(tenant_id, id);
)sql",
      // 3: bearer tokens for the REST API and streams, stored as hashes.
      R"sql(
CREATE TABLE api_tokens (
  id           TEXT PRIMARY KEY,
  tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  label        TEXT,
  token_hash   BLOB NOT NULL UNIQUE,
  created_at   TEXT NOT NULL,
  last_used_at TEXT,
  revoked_at   TEXT
) WITHOUT ROWID;
CREATE INDEX api_tokens_by_tenant ON api_tokens(tenant_id);
)sql",
      // 4: each tenant's unread count, kept by triggers so every writer (daemon, CLI, a
      // host's own SQL) keeps it right. Counting the unread index instead costs time in
      // proportion to the backlog, once per inbound message.
      R"sql(
CREATE TABLE unread_counts (
  tenant_id TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
  count     INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO unread_counts(tenant_id, count)
  SELECT tenant_id, count(*) FROM whatsapp_messages
  WHERE direction = 'incoming' AND read_at IS NULL GROUP BY tenant_id;
CREATE TRIGGER unread_on_insert AFTER INSERT ON whatsapp_messages
  WHEN new.direction = 'incoming' AND new.read_at IS NULL
BEGIN
  INSERT INTO unread_counts(tenant_id, count) VALUES(new.tenant_id, 1)
    ON CONFLICT(tenant_id) DO UPDATE SET count = count + 1;
END;
CREATE TRIGGER unread_on_delete AFTER DELETE ON whatsapp_messages
  WHEN old.direction = 'incoming' AND old.read_at IS NULL
BEGIN
  UPDATE unread_counts SET count = count - 1 WHERE tenant_id = old.tenant_id;
END;
CREATE TRIGGER unread_on_update AFTER UPDATE OF tenant_id, direction, read_at ON whatsapp_messages
  WHEN (old.direction = 'incoming' AND old.read_at IS NULL)
       OR (new.direction = 'incoming' AND new.read_at IS NULL)
BEGIN
  UPDATE unread_counts SET count = count - 1
    WHERE tenant_id = old.tenant_id AND old.direction = 'incoming' AND old.read_at IS NULL;
  INSERT INTO unread_counts(tenant_id, count)
    SELECT new.tenant_id, 1 WHERE new.direction = 'incoming' AND new.read_at IS NULL
    ON CONFLICT(tenant_id) DO UPDATE SET count = count + 1;
END;
)sql",
      // 5: fewer pages written by each webhook commit. The event log gives up AUTOINCREMENT:
      // its sqlite_sequence row was one more page in every commit. Ids still never go back
      // (append_event starts past the high-water mark remove_tenant leaves in settings).
      // Raw deliveries are found per tenant through one table keyed that way, not a table
      // and an index; only removing a tenant reads it, and it deletes the rows it names.
      R"sql(
CREATE TABLE events_v5 (
  id         INTEGER PRIMARY KEY,
  tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  type       TEXT NOT NULL,
  at         TEXT NOT NULL,
  data       TEXT NOT NULL
);
INSERT INTO events_v5(id, tenant_id, type, at, data)
  SELECT id, tenant_id, type, at, data FROM events;
INSERT INTO settings(name, value)
  SELECT 'events.high_water', seq FROM sqlite_sequence WHERE name = 'events';
DROP TABLE events;
ALTER TABLE events_v5 RENAME TO events;
CREATE INDEX events_by_tenant ON events(tenant_id, id);

CREATE TABLE delivery_tenants_v5 (
  tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  delivery_id INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, delivery_id)
) WITHOUT ROWID;
INSERT INTO delivery_tenants_v5(tenant_id, delivery_id)
  SELECT tenant_id, delivery_id FROM delivery_tenants;
DROP TABLE delivery_tenants;
ALTER TABLE delivery_tenants_v5 RENAME TO delivery_tenants;
)sql",
      // 6: each message and status names the delivery that first brought it, so a retried
      // body is recognised through its records: indexing the hash of every delivery put a
      // random page of that index into every webhook commit (about 16 % of the webhook
      // bench's throughput). Only deliveries that bring nothing new keep an indexed hash.
      R"sql(
ALTER TABLE whatsapp_messages ADD COLUMN delivery_id INTEGER;
ALTER TABLE message_statuses ADD COLUMN delivery_id INTEGER;
)sql",
      // 7: an outbox claim names the process that holds it (boot id, pid and start time), so
      // a re-run recognises the claim of a dead process at once and knows, from send_state
      // 'sending', whether its request may have left.
      R"sql(
ALTER TABLE whatsapp_messages ADD COLUMN claimed_by TEXT;
)sql",
      // 8: the whole conversation (CONTRACT.md §6, §7). Contacts gain the username Meta shows
      // and the business's own name for them (its address book, in preference to the profile
      // name). Messages say where an outgoing one came from (source), whether it was edited
      // or revoked (earlier payloads kept), and what became of their media's bytes.
      R"sql(
ALTER TABLE contacts ADD COLUMN username TEXT;
ALTER TABLE contacts ADD COLUMN business_name TEXT;
ALTER TABLE whatsapp_messages ADD COLUMN source TEXT;
ALTER TABLE whatsapp_messages ADD COLUMN edited_at TEXT;
ALTER TABLE whatsapp_messages ADD COLUMN revoked_at TEXT;
ALTER TABLE whatsapp_messages ADD COLUMN payload_history TEXT;
ALTER TABLE whatsapp_messages ADD COLUMN media_state TEXT;
ALTER TABLE whatsapp_messages ADD COLUMN media_sha256 TEXT;
ALTER TABLE whatsapp_messages ADD COLUMN media_size INTEGER;
ALTER TABLE whatsapp_messages ADD COLUMN media_filename TEXT;
ALTER TABLE whatsapp_messages ADD COLUMN media_error TEXT;
UPDATE whatsapp_messages SET source = 'api' WHERE direction = 'outgoing';
)sql",
      // 9: the conversation is the contact (CONTRACT.md §6), not a phone number: messages name
      // their contact's id, so a username user who later shows a number, or a user who
      // changes number, stays one conversation. Every conversation gets its contact; the
      // names a contact has had are kept (two contacts merged keep both).
      R"sql(
CREATE TABLE contact_names (
  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  name       TEXT NOT NULL,
  seen_at    TEXT NOT NULL,
  PRIMARY KEY (contact_id, name)
) WITHOUT ROWID;
INSERT INTO contact_names(contact_id, name, seen_at)
  SELECT id, name, updated_at FROM contacts WHERE name IS NOT NULL;
INSERT INTO contacts(tenant_id, phone_number, user_id, created_at, updated_at)
  SELECT m.tenant_id,
         CASE WHEN m.conversation NOT GLOB '*[^0-9]*' THEN m.conversation END,
         CASE WHEN m.conversation GLOB '*[^0-9]*' THEN m.conversation END,
         min(m.created_at), max(m.created_at)
  FROM whatsapp_messages m
  WHERE NOT EXISTS (SELECT 1 FROM contacts c WHERE c.tenant_id = m.tenant_id AND
                    (c.phone_number = m.conversation OR c.user_id = m.conversation))
  GROUP BY m.tenant_id, m.conversation;
UPDATE whatsapp_messages AS m SET conversation = coalesce(
  (SELECT CAST(c.id AS TEXT) FROM contacts c
   WHERE c.tenant_id = m.tenant_id AND c.phone_number = m.conversation),
  (SELECT CAST(c.id AS TEXT) FROM contacts c
   WHERE c.tenant_id = m.tenant_id AND c.user_id = m.conversation));
)sql",
      // 10: edits and revokes (CONTRACT.md §6), each once under its own wamid: what it changes,
      // from whom, and its new content, so that one arriving before its original waits here
      // (state 'pending') and is applied when the original comes. 'ignored' ones lost to a
      // newer edit or to a revoke.
      R"sql(
CREATE TABLE message_revisions (
  id           INTEGER PRIMARY KEY,
  tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  message_id   TEXT NOT NULL,
  original_id  TEXT NOT NULL,
  kind         TEXT NOT NULL CHECK (kind IN ('edit', 'revoke')),
  phone_number TEXT,
  user_id      TEXT,
  timestamp    TEXT NOT NULL,
  type         TEXT,
  message_text TEXT,
  media_type   TEXT,
  media_id     TEXT,
  payload      TEXT NOT NULL,
  delivery_id  INTEGER,
  state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'applied', 'ignored')),
  UNIQUE (tenant_id, message_id)
);
CREATE INDEX message_revisions_pending ON message_revisions(tenant_id, original_id)
  WHERE state = 'pending';
)sql",
      // 11: media lists read a tenant's messages with media newest first, and a prune asks
      // whether any message (of any tenant) still shows bytes it would remove.
      R"sql(
CREATE INDEX messages_with_media ON whatsapp_messages(tenant_id, timestamp, id)
  WHERE media_state IS NOT NULL;
CREATE INDEX messages_by_media_sha256 ON whatsapp_messages(media_sha256)
  WHERE media_sha256 IS NOT NULL;
)sql",
      // 12: the media download queue (CONTRACT.md §7): one job per inbound media message
      // whose bytes are not stored yet, due at `due_at` (unix seconds), held by the daemon
      // that claimed it until `lease_until`, so a daemon that died leaves it claimable again.
      R"sql(
CREATE TABLE media_jobs (
  message_id  INTEGER PRIMARY KEY REFERENCES whatsapp_messages(id) ON DELETE CASCADE,
  tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  due_at      INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  attempts    INTEGER NOT NULL DEFAULT 0,
  lease_until INTEGER,
  claimed_by  TEXT,
  last_error  TEXT
);
CREATE INDEX media_jobs_due ON media_jobs(due_at);
)sql",
      // 13: coexistence (CONTRACT.md §6). History chunks are stored by the webhook's
      // transaction and imported in the background (`imported` counts the chunk's messages
      // done, so a restart resumes); the same chunk twice is one row (its SHA-256). The
      // address book's last applied timestamp per phone keeps an older sync from undoing a
      // newer one.
      R"sql(
CREATE TABLE history_chunks (
  id              INTEGER PRIMARY KEY,
  tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  phone_number_id TEXT NOT NULL,
  business_number TEXT,
  phase           INTEGER,
  chunk_order     INTEGER,
  progress        INTEGER,
  error_code      INTEGER,
  error_title     TEXT,
  messages        INTEGER NOT NULL,
  chunk_hash      BLOB NOT NULL,
  body            TEXT NOT NULL,
  state           TEXT NOT NULL CHECK (state IN ('pending', 'imported', 'declined')),
  imported        INTEGER NOT NULL DEFAULT 0,
  received_at     TEXT NOT NULL,
  finished_at     TEXT,
  delivery_id     INTEGER,
  UNIQUE (tenant_id, chunk_hash)
);
CREATE INDEX history_chunks_pending ON history_chunks(id) WHERE state = 'pending';
CREATE TABLE address_book_syncs (
  tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  phone_number TEXT NOT NULL,
  synced_at    INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, phone_number)
) WITHOUT ROWID;
)sql",
      // 14: the customer-service window (CONTRACT.md §8) of every row a history page or a
      // conversation list shows is the latest customer message of its conversation: one seek.
      R"sql(
CREATE INDEX messages_customer_latest ON whatsapp_messages(tenant_id, conversation, timestamp)
  WHERE direction = 'incoming' AND type <> 'system';
)sql",
      // 15: full-text search (CONTRACT.md §13) over what a person reads of a message: its
      // text (body, caption, a document's filename when it has no caption, ...) and its media
      // filename, folded for case and accents; a revoked message's text is not there. The
      // index holds no copy of the text: its content is the view, so FTS5's integrity-check
      // compares it with exactly what was indexed. Triggers keep it in step with every
      // insert, edit, revoke and delete, so no write path can forget it; FTS5's 'delete'
      // must be given the values that were indexed, which the view's rule recomputes.
      R"sql(
CREATE VIEW message_search_source AS
SELECT id, iif(revoked_at IS NULL, message_text, NULL) AS message_text,
       iif(revoked_at IS NULL, media_filename, NULL) AS media_filename
FROM whatsapp_messages;
CREATE VIRTUAL TABLE message_search USING fts5(
  message_text, media_filename, content = 'message_search_source', content_rowid = 'id',
  tokenize = 'unicode61 remove_diacritics 2');
CREATE TRIGGER message_search_insert AFTER INSERT ON whatsapp_messages BEGIN
  INSERT INTO message_search(rowid, message_text, media_filename)
  VALUES (new.id, iif(new.revoked_at IS NULL, new.message_text, NULL),
          iif(new.revoked_at IS NULL, new.media_filename, NULL));
END;
CREATE TRIGGER message_search_delete AFTER DELETE ON whatsapp_messages BEGIN
  INSERT INTO message_search(message_search, rowid, message_text, media_filename)
  VALUES ('delete', old.id, iif(old.revoked_at IS NULL, old.message_text, NULL),
          iif(old.revoked_at IS NULL, old.media_filename, NULL));
END;
CREATE TRIGGER message_search_update
  AFTER UPDATE OF message_text, media_filename, revoked_at ON whatsapp_messages BEGIN
  INSERT INTO message_search(message_search, rowid, message_text, media_filename)
  VALUES ('delete', old.id, iif(old.revoked_at IS NULL, old.message_text, NULL),
          iif(old.revoked_at IS NULL, old.media_filename, NULL));
  INSERT INTO message_search(rowid, message_text, media_filename)
  VALUES (new.id, iif(new.revoked_at IS NULL, new.message_text, NULL),
          iif(new.revoked_at IS NULL, new.media_filename, NULL));
END;
INSERT INTO message_search(message_search) VALUES ('rebuild');
)sql",
      // 16: each tenant's template catalogue (CONTRACT.md §8), replaced whole by a sync; when
      // it was last synced (never: sends go unchecked, with a warning) and when the next
      // periodic sync is due, claimed by one daemon however many share the database.
      R"sql(
CREATE TABLE templates (
  tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name             TEXT NOT NULL,
  language         TEXT NOT NULL,
  template_id      TEXT,
  category         TEXT,
  status           TEXT NOT NULL,
  quality          TEXT,
  parameter_format TEXT NOT NULL,
  components       TEXT NOT NULL,
  synced_at        TEXT NOT NULL,
  updated_at       TEXT NOT NULL,
  PRIMARY KEY (tenant_id, name, language)
) WITHOUT ROWID;
CREATE INDEX templates_by_id ON templates(tenant_id, template_id);
CREATE TABLE template_syncs (
  tenant_id    TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
  synced_at    TEXT,
  count        INTEGER NOT NULL DEFAULT 0,
  next_sync_at TEXT
) WITHOUT ROWID;
)sql",
      // 17: forwarded events (CONTRACT.md §13). A hook's cursor is the last event id turned
      // into its deliveries; a delivery is due at next_attempt_at (unix ms), which is null
      // while it waits behind an earlier pending event of its lane (conversation). Failed
      // and acknowledged rows stay a week for `hook deliveries`, then are pruned. The lane
      // index is whole, state included: SQLite's planner passes over a partial one there
      // and scans the hook's every delivery per event. With state before lane it also
      // counts a hook's pending deliveries without reading its finished ones.
      R"sql(
CREATE TABLE hooks (
  id            TEXT PRIMARY KEY,
  tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  url           TEXT NOT NULL,
  events        TEXT NOT NULL,
  state         TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled')),
  allow_private INTEGER NOT NULL DEFAULT 0,
  secret        BLOB NOT NULL,
  cursor        INTEGER NOT NULL,
  failing_since INTEGER,
  created_at    TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX hooks_by_tenant ON hooks(tenant_id, created_at);
CREATE TABLE hook_deliveries (
  hook_id          TEXT NOT NULL REFERENCES hooks(id) ON DELETE CASCADE,
  event_id         INTEGER NOT NULL,
  type             TEXT NOT NULL,
  lane             TEXT NOT NULL,
  state            TEXT NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'acknowledged', 'failed')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  last_status      INTEGER,
  last_error       TEXT,
  next_attempt_at  INTEGER,
  created_at       INTEGER NOT NULL,
  first_attempt_at INTEGER,
  finished_at      INTEGER,
  PRIMARY KEY (hook_id, event_id)
) WITHOUT ROWID;
CREATE INDEX hook_deliveries_due ON hook_deliveries(hook_id, next_attempt_at)
  WHERE state = 'pending' AND next_attempt_at IS NOT NULL;
CREATE INDEX hook_deliveries_lane ON hook_deliveries(hook_id, state, lane, event_id);
CREATE INDEX hook_deliveries_finished ON hook_deliveries(finished_at)
  WHERE state <> 'pending';
)sql",
      // 18: console sessions, each a browser's sign-in with a tenant token. Only the hash of
      // the session id is kept, as for tokens; a session dies with its token (the lookup
      // joins api_tokens) and with the token's row.
      R"sql(
CREATE TABLE console_sessions (
  id_hash    BLOB PRIMARY KEY,
  token_id   TEXT NOT NULL REFERENCES api_tokens(id) ON DELETE CASCADE,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX console_sessions_by_token ON console_sessions(token_id);
CREATE INDEX console_sessions_by_expiry ON console_sessions(expires_at);
)sql",
  };
  return list;
}

} // namespace wabactl
