ALTER TABLE admin_accounts DROP COLUMN disabled_at;
