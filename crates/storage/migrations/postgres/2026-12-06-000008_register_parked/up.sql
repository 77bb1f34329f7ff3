-- On the edge: a register agent's events it refused for good (one it may
-- not send, one whose rows do not fit, one too large to take). Each is
-- kept here with its reason and the event as sent, and its position counts
-- as taken, so one bad event never stops the till's stream (the rule the
-- cloud keeps for the edge's events). Health shows those not cleared; a
-- manager clears one after dealing with it (audited).
CREATE TABLE register_parked (
    event_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(id),
    epoch TEXT NOT NULL,
    stream TEXT NOT NULL,
    position BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    reason TEXT NOT NULL,
    -- The event as the till sent it (JSON).
    event TEXT NOT NULL,
    at BIGINT NOT NULL,
    cleared_at BIGINT,
    cleared_by TEXT
);
CREATE INDEX register_parked_open ON register_parked (cleared_at, at);
