ALTER TABLE stores DROP COLUMN master_feed_version;
