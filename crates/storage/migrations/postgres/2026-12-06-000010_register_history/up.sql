-- On a register agent's database: the edge holds sales of this till that
-- this database lost (it was restored from an older copy and took a new
-- epoch): they come back down as history the till can show and refund
-- against (`register_history`). Set when an epoch is taken, cleared once
-- all of it is installed.
ALTER TABLE agent_link ADD COLUMN history_due BOOLEAN NOT NULL DEFAULT FALSE;
