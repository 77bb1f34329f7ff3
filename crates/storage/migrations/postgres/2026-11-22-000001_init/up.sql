-- Outpost edge schema, first version. Forward-only: later changes expand first
-- (add nullable columns/tables) and contract in a later release.
-- Money: BIGINT minor units. Quantities: BIGINT thousandths. Times: BIGINT ms
-- since the Unix epoch; HLC: BIGINT (48-bit ms << 16 | counter). Ids: UUID text.

CREATE TABLE node (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    store_id TEXT NOT NULL,
    -- Changes when the database is restored from a backup or cloned.
    node_epoch TEXT NOT NULL,
    master_version BIGINT NOT NULL DEFAULT 0,
    hlc_floor BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE companies (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    tax_id TEXT NOT NULL DEFAULT ''
);

CREATE TABLE stores (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    currency TEXT NOT NULL,
    utc_offset_minutes INTEGER NOT NULL DEFAULT 0,
    default_company_id TEXT NOT NULL REFERENCES companies(id)
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL REFERENCES stores(id),
    register_no INTEGER NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    -- Last order sequence used by this register: per-register, so never a hot row
    -- shared by several tills.
    last_seq BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    UNIQUE (store_id, register_no)
);

CREATE TABLE staff (
    id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL REFERENCES stores(id),
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    pin_hash TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE pin_attempts (
    staff_id TEXT NOT NULL REFERENCES staff(id),
    device_key TEXT NOT NULL,
    failures INTEGER NOT NULL,
    locked_until BIGINT NOT NULL,
    PRIMARY KEY (staff_id, device_key)
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    staff_id TEXT NOT NULL REFERENCES staff(id),
    device_id TEXT REFERENCES devices(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE tax_categories (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    rate_ppm BIGINT NOT NULL,
    mode TEXT NOT NULL
);

CREATE TABLE products (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    sku TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    price_minor BIGINT NOT NULL,
    tax_category_id TEXT NOT NULL REFERENCES tax_categories(id),
    weighed BOOLEAN NOT NULL DEFAULT FALSE,
    kitchen BOOLEAN NOT NULL DEFAULT FALSE,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    version BIGINT NOT NULL DEFAULT 1,
    updated_hlc BIGINT NOT NULL
);
CREATE INDEX products_name ON products (name);

CREATE TABLE barcodes (
    code TEXT PRIMARY KEY,
    product_id TEXT NOT NULL REFERENCES products(id)
);

CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

CREATE TABLE shifts (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(id),
    -- Fixed when the shift opens; never recomputed from a clock.
    business_day TEXT NOT NULL,
    opened_by TEXT NOT NULL REFERENCES staff(id),
    opened_at BIGINT NOT NULL,
    opening_float_minor BIGINT NOT NULL,
    closed_by TEXT REFERENCES staff(id),
    closed_at BIGINT,
    counted_cash_minor BIGINT,
    expected_cash_minor BIGINT,
    version BIGINT NOT NULL DEFAULT 1
);
-- At most one open shift per register.
CREATE UNIQUE INDEX shifts_one_open ON shifts (device_id) WHERE closed_at IS NULL;

CREATE TABLE cash_movements (
    id TEXT PRIMARY KEY,
    shift_id TEXT NOT NULL REFERENCES shifts(id),
    amount_minor BIGINT NOT NULL,
    reason TEXT NOT NULL,
    staff_id TEXT NOT NULL REFERENCES staff(id),
    at BIGINT NOT NULL
);

-- Sales tables reference master data (products, staff, companies, customers)
-- without foreign keys: the sale's transaction checks them itself, master rows
-- are deactivated, never deleted, and a foreign key to a row that every register
-- touches makes PostgreSQL share-lock it on every sale (multixacts), which costs
-- throughput for no added safety.
CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    device_id TEXT NOT NULL REFERENCES devices(id),
    shift_id TEXT NOT NULL REFERENCES shifts(id),
    business_day TEXT NOT NULL,
    company_id TEXT NOT NULL,
    staff_id TEXT NOT NULL,
    customer_id TEXT,
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    subtotal_minor BIGINT NOT NULL,
    discount_minor BIGINT NOT NULL,
    tax_minor BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    refunded_minor BIGINT NOT NULL DEFAULT 0,
    -- Needs a manager's look: a line for another company, a price override.
    needs_adjustment BOOLEAN NOT NULL DEFAULT FALSE,
    note TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    hlc BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX orders_recent ON orders (device_id, created_at);

CREATE TABLE order_lines (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(id),
    line_no INTEGER NOT NULL,
    product_id TEXT NOT NULL,
    company_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    qty_milli BIGINT NOT NULL,
    list_price_minor BIGINT NOT NULL,
    unit_price_minor BIGINT NOT NULL,
    gross_minor BIGINT NOT NULL,
    line_discount_minor BIGINT NOT NULL,
    order_discount_minor BIGINT NOT NULL,
    net_minor BIGINT NOT NULL,
    tax_minor BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    tax_ppm BIGINT NOT NULL,
    tax_mode TEXT NOT NULL,
    refunded_milli BIGINT NOT NULL DEFAULT 0,
    UNIQUE (order_id, line_no)
);

CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(id),
    -- 'payment' or 'refund' (refund amounts are stored positive).
    kind TEXT NOT NULL,
    method TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    tendered_minor BIGINT NOT NULL,
    change_minor BIGINT NOT NULL,
    card_type TEXT NOT NULL DEFAULT '',
    reference TEXT NOT NULL DEFAULT '',
    shift_id TEXT NOT NULL REFERENCES shifts(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX payments_order ON payments (order_id);
CREATE INDEX payments_shift ON payments (shift_id);

CREATE TABLE refunds (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(id),
    approved_by TEXT NOT NULL REFERENCES staff(id),
    staff_id TEXT NOT NULL REFERENCES staff(id),
    reason TEXT NOT NULL,
    total_minor BIGINT NOT NULL,
    tax_minor BIGINT NOT NULL,
    lines_json TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Stock is the sum of these append-only movements (positive in, negative out).
CREATE TABLE stock_movements (
    id TEXT PRIMARY KEY,
    product_id TEXT NOT NULL,
    qty_milli BIGINT NOT NULL,
    reason TEXT NOT NULL,
    ref_id TEXT NOT NULL DEFAULT '',
    staff_id TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX stock_movements_product ON stock_movements (product_id);

CREATE TABLE kitchen_tickets (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(id),
    order_number TEXT NOT NULL,
    status TEXT NOT NULL,
    lines_json TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX kitchen_tickets_status ON kitchen_tickets (status, created_at);

-- Append-only record of privileged actions.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    hlc BIGINT NOT NULL,
    staff_id TEXT,
    device_id TEXT,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL
);

-- Retried requests return the first answer; kept at least 30 days.
CREATE TABLE idempotency_keys (
    device_id TEXT NOT NULL,
    key TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);

-- The transactional outbox. Rows are written in the same transaction as the
-- change; `position` is assigned afterwards by the relay, in commit order, so no
-- sale waits on a shared counter row.
CREATE TABLE outbox (
    seq BIGSERIAL PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    store_id TEXT NOT NULL,
    device_id TEXT,
    stream TEXT NOT NULL,
    position BIGINT,
    node_epoch TEXT NOT NULL,
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
    -- The writing transaction's id: the relay positions only rows whose
    -- transaction is older than every running one (pg_snapshot_xmin).
    txid BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    UNIQUE (stream, position)
);
CREATE INDEX outbox_commit_order ON outbox (txid, seq);
-- Payloads are a few KiB of JSON written once per event on the hot path:
-- storing them uncompressed saves the pglz work (measured in a profile).
ALTER TABLE outbox ALTER COLUMN payload SET STORAGE EXTERNAL;

CREATE TABLE stream_heads (
    stream TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);

-- The relay's keyset (PostgreSQL): every outbox row at or before
-- (last_txid, last_seq) in commit order has its position. Reading on from here
-- touches only new rows, never the dead index entries that "WHERE position IS
-- NULL" would wade through on a busy queue table.
CREATE TABLE relay_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_txid BIGINT NOT NULL,
    last_seq BIGINT NOT NULL
);
