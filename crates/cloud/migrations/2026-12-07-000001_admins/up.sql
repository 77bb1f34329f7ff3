-- Named admin accounts instead of one shared token (issue 31): an owner
-- does everything; an area manager reads its stores only; support reads
-- everything and retries parked batches. Passwords are Argon2id; sessions
-- and API tokens are kept as the SHA-256 of the token.
CREATE TABLE admin_accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'area_manager', 'support')),
    password_hash TEXT NOT NULL,
    -- Wrong passwords in a row, and until when sign-in is refused.
    failed INTEGER NOT NULL DEFAULT 0,
    locked_until BIGINT,
    created_at BIGINT NOT NULL
);

-- The stores an area manager sees.
CREATE TABLE admin_account_stores (
    account_id TEXT NOT NULL REFERENCES admin_accounts (id) ON DELETE CASCADE,
    store_id TEXT NOT NULL,
    PRIMARY KEY (account_id, store_id)
);

CREATE TABLE admin_sessions (
    token_sha256 TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES admin_accounts (id) ON DELETE CASCADE,
    -- Sent back by the page with every write (X-CSRF-Token or a form field).
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX admin_sessions_expiry ON admin_sessions (expires_at);

-- Bearer tokens for scripts and BI tools, one account's each.
CREATE TABLE admin_api_tokens (
    token_sha256 TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES admin_accounts (id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- Every admin action, with who did it and how.
CREATE TABLE admin_audit (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    account_name TEXT NOT NULL,
    via TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX admin_audit_at ON admin_audit (at);
