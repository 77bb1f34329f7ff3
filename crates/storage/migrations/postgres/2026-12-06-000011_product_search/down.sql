DROP TRIGGER till_feed ON products;
CREATE CONSTRAINT TRIGGER till_feed AFTER INSERT OR UPDATE OR DELETE ON products
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION till_feed_touch('product', 'id');
DROP TRIGGER products_search_key ON products;
DROP FUNCTION products_search_key_reset();
ALTER TABLE products DROP COLUMN search_key;
