ALTER TABLE stores DROP COLUMN master_pulled;
ALTER TABLE master_changes DROP COLUMN resent;
