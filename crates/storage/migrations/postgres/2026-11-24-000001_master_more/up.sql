-- More master data from the cloud (edge side). Expand-only.

-- The hybrid logical clock of a staff member's last edit, here or in the
-- cloud: the later edit wins (0 for rows from before this migration).
ALTER TABLE staff ADD COLUMN updated_hlc BIGINT NOT NULL DEFAULT 0;

-- Price-list versions authored in the cloud: a set of prices that takes
-- effect at a time. A version due in the future waits here; when its time
-- comes the edge applies it as its own price edit (so it syncs back as one).
CREATE TABLE price_list_versions (
    version TEXT PRIMARY KEY,
    effective_at BIGINT NOT NULL,
    -- JSON [{"sku": "...", "price_minor": 123}, ...]
    prices TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    applied_at BIGINT
);
CREATE INDEX price_list_versions_due ON price_list_versions (effective_at) WHERE applied_at IS NULL;
