DROP TABLE price_list_versions;
ALTER TABLE staff DROP COLUMN updated_hlc;
