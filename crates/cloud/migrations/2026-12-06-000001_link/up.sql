-- The sync link's lifecycle (expand-only; stores.credential_sha256 is still
-- written, with the active credential's hash, for a cloud rolled back to the
-- previous version, and no longer read).

-- Store credentials: several per store over time. `active` is in use;
-- `pending` was issued by a rotation and becomes active (the active one
-- `replaced`) the first time the store uses it; `revoked` is refused at once.
CREATE TABLE store_credentials (
    id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL REFERENCES stores (id),
    secret_sha256 TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- NULL = never expires.
    expires_at BIGINT,
    ended_at BIGINT
);
CREATE INDEX store_credentials_store ON store_credentials (store_id);
INSERT INTO store_credentials (id, store_id, secret_sha256, state, created_at)
    SELECT gen_random_uuid()::text, id, credential_sha256, 'active', created_at FROM stores;

ALTER TABLE stores
    -- A rotation asked for by an operator, delivered at the store's next
    -- hello or heartbeat; the lifetime of the credential it issues.
    ADD COLUMN rotate_requested_at BIGINT,
    ADD COLUMN rotate_lifetime_ms BIGINT,
    -- The store's backlog as its last heartbeat reported it.
    ADD COLUMN pending_events BIGINT,
    ADD COLUMN oldest_unsent_age_ms BIGINT,
    ADD COLUMN backlog_reported_at BIGINT,
    -- Why sync with this store is refused ('' = it is not), e.g. the edge's
    -- store code is not this store's.
    ADD COLUMN sync_refusal TEXT NOT NULL DEFAULT '';

-- Per store and register, the highest order sequence the cloud holds: a
-- store whose database was restored numbers past it.
CREATE TABLE register_numbers (
    store_id TEXT NOT NULL,
    register_no INTEGER NOT NULL,
    last_seq BIGINT NOT NULL,
    PRIMARY KEY (store_id, register_no)
);
INSERT INTO register_numbers (store_id, register_no, last_seq)
    SELECT store_id, substring(number from '-R([0-9]+)-[0-9]+$')::int,
           max(substring(number from '-([0-9]+)$')::bigint)
    FROM orders WHERE number ~ '-R[0-9]{1,9}-[0-9]{1,18}$'
    GROUP BY 1, 2;

-- Batches the consumer could not apply within its delivery limit. Their
-- events that still failed alone are parked (inbox outcome 'rejected', a
-- row in rejected_events): their positions count as processed, so the
-- store's stream goes on. The batch as it arrived is kept to retry after a
-- fix.
CREATE TABLE parked_batches (
    id BIGSERIAL PRIMARY KEY,
    store_id TEXT NOT NULL,
    stream TEXT NOT NULL,
    first_position BIGINT NOT NULL,
    last_position BIGINT NOT NULL,
    events INTEGER NOT NULL,
    -- Events of it parked (the others applied when tried one by one).
    rejected INTEGER NOT NULL,
    reason TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    -- 'events': the batch's events as JSON (to retry); 'message': a queued
    -- message that did not even decode, as it was.
    body_kind TEXT NOT NULL,
    body BYTEA NOT NULL,
    parked_at BIGINT NOT NULL,
    retried_at BIGINT,
    resolved_at BIGINT
);
CREATE INDEX parked_batches_open ON parked_batches (store_id) WHERE resolved_at IS NULL;

-- One row the consumer writes to tell "the database takes no writes" (a
-- read-only failover, a full disk) from "this batch cannot apply".
CREATE TABLE write_probe (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL
);
