DROP TABLE admin_audit;
DROP TABLE admin_api_tokens;
DROP TABLE admin_sessions;
DROP TABLE admin_account_stores;
DROP TABLE admin_accounts;
