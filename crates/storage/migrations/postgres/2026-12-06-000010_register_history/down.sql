ALTER TABLE agent_link DROP COLUMN history_due;
