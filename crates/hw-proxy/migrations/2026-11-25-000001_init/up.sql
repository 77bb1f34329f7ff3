-- hw-proxy's print queue: its own SQLite file next to the printers it drives.
CREATE TABLE print_jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    printer TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- sha256 of the submitted request: the same job id with another body is refused.
    request_sha256 TEXT NOT NULL,
    payload BLOB NOT NULL,
    preview TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    -- A person asked for this job (a reprint, a released hold): no age limit applies.
    asked INTEGER NOT NULL DEFAULT 0,
    reprint_of TEXT,
    fallback TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX print_jobs_queue ON print_jobs (printer, state, seq);
