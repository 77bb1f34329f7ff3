-- The till's item grid (issue 29): each product's category (a name the
-- grid shows as a tab; '' for none) and whether it is on the favourites
-- tab. Columns with defaults, so an edge image one version older writes
-- and reads products as before.
ALTER TABLE products ADD COLUMN category TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN favourite BOOLEAN NOT NULL DEFAULT FALSE;
DROP TRIGGER till_feed_products_upd;
CREATE TRIGGER till_feed_products_upd AFTER UPDATE OF id, company_id, sku, name, price_minor,
    tax_category_id, weighed, kitchen, active, version, updated_hlc, category, favourite ON products BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('product', OLD.id, (SELECT seq FROM till_feed_seq));
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('product', NEW.id, (SELECT seq FROM till_feed_seq));
END;
-- A till that pulled its products with an older build kept them without
-- these: it pulls everything again (on the edge this table is empty).
DELETE FROM till_feed_cursor;
