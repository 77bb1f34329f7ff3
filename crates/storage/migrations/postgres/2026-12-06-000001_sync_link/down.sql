DROP TABLE sync_credential;
ALTER TABLE sync_status DROP COLUMN credential_expires_at;
