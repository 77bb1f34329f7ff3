DROP TABLE write_probe;
DROP TABLE parked_batches;
DROP TABLE register_numbers;
ALTER TABLE stores DROP COLUMN rotate_requested_at, DROP COLUMN rotate_lifetime_ms,
    DROP COLUMN pending_events, DROP COLUMN oldest_unsent_age_ms,
    DROP COLUMN backlog_reported_at, DROP COLUMN sync_refusal;
DROP TABLE store_credentials;
