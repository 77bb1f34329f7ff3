-- What the store's edge understands of the master feed, as its last pull
-- said (expand-only): 1 before re-sends, 2 with them. A re-send waits for 2:
-- an older edge would take each re-sent entity for a conflict.
ALTER TABLE stores ADD COLUMN master_feed_version INTEGER NOT NULL DEFAULT 1;
