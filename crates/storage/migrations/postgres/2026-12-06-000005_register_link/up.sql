-- The register tier (issue 28).
--
-- On the edge: how far each register agent's events are applied, per
-- agent epoch and stream (the agent's own positions). An event at the
-- next position applies; one at or before it is a repeat; one after it
-- is a gap, refused until the agent sends what is missing.
CREATE TABLE register_marks (
    device_id TEXT NOT NULL REFERENCES devices(id),
    epoch TEXT NOT NULL,
    stream TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (device_id, epoch, stream)
);

-- On the edge: the last push each register agent had refused (a gap, an
-- event it may not send), until one is taken again. Health says so.
CREATE TABLE register_refusals (
    device_id TEXT PRIMARY KEY REFERENCES devices(id),
    at BIGINT NOT NULL,
    reason TEXT NOT NULL
);

-- On a register agent's own database: the edge it is paired with, its
-- device there and the token it authenticates with, and how far its
-- outbox (by seq, commit order) has been taken by the edge.
CREATE TABLE agent_link (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    edge_url TEXT NOT NULL,
    device_id TEXT NOT NULL,
    token TEXT NOT NULL,
    pushed_seq BIGINT NOT NULL DEFAULT 0,
    last_ok_at BIGINT,
    -- The edge's store CA the agent pinned at pairing (PEM; NULL: plain
    -- HTTP to the edge).
    ca_pem TEXT
);

-- On a register agent's own database: each epoch it has had, and where
-- each of its streams stood when that epoch began (JSON {stream:
-- position}; {} for the first). A till whose database was restored from
-- an older copy takes a new epoch whose positions go on from its heads;
-- one that learns it only when the edge refuses its push moves what it has
-- not pushed from the epoch it `replaces` into the new one.
CREATE TABLE agent_epochs (
    epoch TEXT PRIMARY KEY,
    since TEXT NOT NULL,
    replaces TEXT
);
