-- Sync with the cloud (edge side). Expand-only.

-- What the cloud has acknowledged as durable, per stream. The sync worker
-- resumes from here (or from the cloud's own figure, whichever is higher).
CREATE TABLE sync_acks (
    stream TEXT PRIMARY KEY,
    node_epoch TEXT NOT NULL,
    position BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    acked_at BIGINT NOT NULL
);

-- Epochs this database has entered because it was found rewound (restored
-- from a backup, cloned) or replaced: the epoch it left and, per stream, the
-- last position both it and the cloud agree on (JSON {"sales": 41, ...}).
CREATE TABLE node_epochs (
    node_epoch TEXT PRIMARY KEY,
    parent_epoch TEXT NOT NULL,
    fork TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The sync worker's last word on the link, so the api's /health and pages
-- show it whichever process runs the worker.
CREATE TABLE sync_status (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    online BOOLEAN NOT NULL,
    last_attempt_at BIGINT NOT NULL,
    last_success_at BIGINT,
    last_error TEXT NOT NULL
);
