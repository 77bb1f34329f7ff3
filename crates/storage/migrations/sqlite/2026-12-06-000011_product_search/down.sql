DROP TRIGGER products_search_key;
ALTER TABLE products DROP COLUMN search_key;
