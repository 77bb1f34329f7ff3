-- One-time pairing codes (issue 28): a manager makes one on the manager
-- page for a device to be (its name and kind); the device trades it once,
-- within its time, for its token. Only the code's hash is kept.
CREATE TABLE pairing_codes (
    code_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES staff(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    device_id TEXT REFERENCES devices(id)
);
