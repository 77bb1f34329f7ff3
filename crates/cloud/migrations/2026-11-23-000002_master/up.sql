-- Master data (expand-only). Products per store, authored in the cloud or at
-- the store; the later edit by hybrid logical clock wins.

CREATE TABLE store_products (
    store_id TEXT NOT NULL REFERENCES stores (id),
    sku TEXT NOT NULL,
    -- The product's fields as JSON: name, price_minor, active, tax_category.
    body JSONB NOT NULL,
    hlc BIGINT NOT NULL,
    -- 'cloud' or 'store'
    origin TEXT NOT NULL,
    -- The change-feed cursor of the last cloud edit (0 for a store edit).
    cursor BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (store_id, sku)
);

-- The per-store change feed. Written under an advisory lock, so cursors are
-- handed out in commit order and a store reading after its cursor never
-- skips a change that commits late.
CREATE TABLE master_changes (
    cursor BIGSERIAL PRIMARY KEY,
    store_id TEXT NOT NULL REFERENCES stores (id),
    kind TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    hlc BIGINT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX master_changes_store ON master_changes (store_id, cursor);

-- Edits that lost to a later one made elsewhere, kept for review.
CREATE TABLE master_conflicts (
    id BIGSERIAL PRIMARY KEY,
    store_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    kept_origin TEXT NOT NULL,
    kept_hlc BIGINT NOT NULL,
    kept_body TEXT NOT NULL,
    lost_origin TEXT NOT NULL,
    lost_hlc BIGINT NOT NULL,
    lost_body TEXT NOT NULL,
    at BIGINT NOT NULL
);
