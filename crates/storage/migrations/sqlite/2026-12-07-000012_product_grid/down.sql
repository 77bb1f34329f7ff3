DROP TRIGGER till_feed_products_upd;
CREATE TRIGGER till_feed_products_upd AFTER UPDATE OF id, company_id, sku, name, price_minor,
    tax_category_id, weighed, kitchen, active, version, updated_hlc ON products BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('product', OLD.id, (SELECT seq FROM till_feed_seq));
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('product', NEW.id, (SELECT seq FROM till_feed_seq));
END;
ALTER TABLE products DROP COLUMN favourite;
ALTER TABLE products DROP COLUMN category;
