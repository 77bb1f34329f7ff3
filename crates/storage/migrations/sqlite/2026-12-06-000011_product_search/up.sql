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
