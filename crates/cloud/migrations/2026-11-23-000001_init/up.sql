-- Outpost cloud schema, first version (PostgreSQL only). Forward-only,
-- expand-then-contract, like the edge's. Times: BIGINT ms since the Unix epoch.

-- Stores known to the cloud, each with its own sync credential (the SHA-256 of
-- a 256-bit random secret: the secret itself is shown once, never stored).
CREATE TABLE stores (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    credential_sha256 TEXT NOT NULL,
    -- The epoch the store's database is in, as last announced ('' before the
    -- first contact).
    node_epoch TEXT NOT NULL DEFAULT '',
    last_contact_at BIGINT,
    software_version TEXT NOT NULL DEFAULT '',
    -- Store clock minus cloud clock at the last contact.
    clock_skew_ms BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- Epochs a store entered after its database was found rewound or replaced.
CREATE TABLE store_epochs (
    store_id TEXT NOT NULL REFERENCES stores (id),
    node_epoch TEXT NOT NULL,
    parent_epoch TEXT NOT NULL,
    -- {"sales": 41, ...}: per stream, the last position both sides agreed on.
    fork JSONB NOT NULL,
    -- Events the cloud holds after the fork that the store no longer has.
    lost_events BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (store_id, node_epoch)
);

-- What the api has acknowledged to a store: published to the durable queue
-- and confirmed by the broker. A store resumes pushing after these.
CREATE TABLE sync_acks (
    store_id TEXT NOT NULL REFERENCES stores (id),
    node_epoch TEXT NOT NULL,
    stream TEXT NOT NULL,
    position BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    acked_at BIGINT NOT NULL,
    PRIMARY KEY (store_id, node_epoch, stream)
);

-- The consumer's high-water mark per store and stream: every position up to
-- here (in this epoch) has been applied or parked.
CREATE TABLE stream_marks (
    store_id TEXT NOT NULL REFERENCES stores (id),
    stream TEXT NOT NULL,
    node_epoch TEXT NOT NULL,
    position BIGINT NOT NULL,
    applied_at BIGINT NOT NULL,
    PRIMARY KEY (store_id, stream)
);

-- Every event applied or parked, once: the idempotency of applying.
CREATE TABLE inbox (
    event_id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL,
    node_epoch TEXT NOT NULL,
    stream TEXT NOT NULL,
    position BIGINT NOT NULL,
    device_id TEXT NOT NULL,
    aggregate_type TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    aggregate_version BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    occurred_at BIGINT NOT NULL,
    hlc BIGINT NOT NULL,
    master_version BIGINT NOT NULL,
    actor TEXT NOT NULL,
    payload TEXT NOT NULL,
    payload_sha256 TEXT NOT NULL,
    -- applied | rejected
    outcome TEXT NOT NULL,
    applied_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX inbox_position ON inbox (store_id, node_epoch, stream, position);

-- Events that arrived ahead of a gap (out of order): held until the gap fills.
CREATE TABLE pending_events (
    store_id TEXT NOT NULL,
    node_epoch TEXT NOT NULL,
    stream TEXT NOT NULL,
    position BIGINT NOT NULL,
    -- The event, as JSON.
    event TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (store_id, node_epoch, stream, position)
);

-- Events that could not be applied, with the reason. Their position counts
-- as processed; the inbox row (outcome 'rejected') keeps the event itself.
CREATE TABLE rejected_events (
    event_id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL,
    stream TEXT NOT NULL,
    position BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    reason TEXT NOT NULL,
    rejected_at BIGINT NOT NULL
);
CREATE INDEX rejected_events_store ON rejected_events (store_id, rejected_at);

-- Things a person must look at: an event id seen again with different content,
-- a store database rewound, an order number imported twice, ...
CREATE TABLE alarms (
    id BIGSERIAL PRIMARY KEY,
    store_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    raised_at BIGINT NOT NULL
);

-- Projections of the stores' events.
CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL,
    number TEXT NOT NULL,
    device_id TEXT NOT NULL,
    business_day TEXT NOT NULL,
    company_id TEXT NOT NULL,
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    total_minor BIGINT NOT NULL,
    tax_minor BIGINT NOT NULL,
    refunded_minor BIGINT NOT NULL,
    needs_adjustment BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    hlc BIGINT NOT NULL,
    version BIGINT NOT NULL,
    -- The order as the store last sent it (lines, payments).
    body TEXT NOT NULL
);
-- Not unique: an imported collision keeps both orders (and raises an alarm).
CREATE INDEX orders_store_number ON orders (store_id, number);
CREATE INDEX orders_store_created ON orders (store_id, created_at);

CREATE TABLE stock_movements (
    id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    qty_milli BIGINT NOT NULL,
    reason TEXT NOT NULL,
    occurred_at BIGINT NOT NULL
);

-- Stock per store and product: the sum of the movements. Negative stock is
-- flagged (negative_since), never blocked.
CREATE TABLE stock_levels (
    store_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    qty_milli BIGINT NOT NULL,
    negative_since BIGINT,
    PRIMARY KEY (store_id, product_id)
);
