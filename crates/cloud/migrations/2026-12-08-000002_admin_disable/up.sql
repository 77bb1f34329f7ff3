-- An account can be disabled (expand-only): it cannot sign in, and its
-- sessions and API tokens stop working, until it is enabled again.
ALTER TABLE admin_accounts ADD COLUMN disabled_at BIGINT;
