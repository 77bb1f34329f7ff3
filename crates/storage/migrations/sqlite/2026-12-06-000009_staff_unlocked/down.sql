ALTER TABLE staff DROP COLUMN pins_unlocked_at;
