-- Product search that ignores case, accents and marks in every script
-- (issue 29): each product's name and SKU as search compares them
-- (`outpost_domain::search::fold`, written by `catalog::fold_missing`).
-- NULL until folded: a change of name or SKU clears it, whatever wrote
-- it (the manager page, the cloud's feed, a till's feed), and search folds
-- what is missing before it looks.
ALTER TABLE products ADD COLUMN search_key TEXT;
CREATE TRIGGER products_search_key AFTER UPDATE OF name, sku ON products
    WHEN NEW.search_key IS NOT NULL
BEGIN
    UPDATE products SET search_key = NULL WHERE id = NEW.id;
END;
-- Folding a name is no change to the product: the till feed's trigger
-- fires on the columns a till holds only.
DROP TRIGGER till_feed_products_upd;
CREATE TRIGGER till_feed_products_upd AFTER UPDATE OF id, company_id, sku, name, price_minor,
    tax_category_id, weighed, kitchen, active, version, updated_hlc ON products BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('product', OLD.id, (SELECT seq FROM till_feed_seq));
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('product', NEW.id, (SELECT seq FROM till_feed_seq));
END;
