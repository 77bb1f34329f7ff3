-- The sync link's lifecycle (expand-only): when the store's credential
-- expires, as the cloud last said, and a credential the cloud rotated.

ALTER TABLE sync_status ADD COLUMN credential_expires_at BIGINT;

-- A credential the cloud rotated over the authenticated link. It replaces
-- the one in the settings for as long as the settings still name the one it
-- replaced (settings_sha256); an operator who sets another credential in the
-- settings (a new one after a revocation) takes over again.
CREATE TABLE sync_credential (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    credential TEXT NOT NULL,
    settings_sha256 TEXT NOT NULL,
    rotated_at BIGINT NOT NULL
);
