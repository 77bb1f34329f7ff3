-- The store's printers as the manager page configures them: which hw-proxy
-- drives each, how it is reached, and what prints on it. Local hardware:
-- not synced to the cloud.
CREATE TABLE printers (
    id TEXT PRIMARY KEY NOT NULL,
    hw_proxy_url TEXT NOT NULL,
    address TEXT NOT NULL,
    width INTEGER NOT NULL,
    -- Comma-separated, in order of preference; empty = all hw-proxy knows.
    code_pages TEXT NOT NULL,
    fallback TEXT,
    -- receipt | kitchen
    role TEXT NOT NULL,
    -- A receipt printer for this register only; NULL = every register without its own.
    device_id TEXT REFERENCES devices (id),
    logo_png BLOB,
    updated_at BIGINT NOT NULL,
    -- Removed on the page, kept until its hw-proxy has let go of it.
    removed_at BIGINT
);
