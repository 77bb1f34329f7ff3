DROP TRIGGER products_search_key ON products;
DROP FUNCTION products_search_key_reset();
ALTER TABLE products DROP COLUMN search_key;
