-- Product search that ignores case, accents and marks in every script
-- (issue 29): each product's name and SKU as search compares them
-- (`outpost_domain::search::fold`, written by `catalog::fold_missing`).
-- NULL until folded: a change of name or SKU clears it, whatever wrote
-- it (the manager page, the cloud's feed), and search folds what is
-- missing before it looks.
ALTER TABLE products ADD COLUMN search_key TEXT;
CREATE FUNCTION products_search_key_reset() RETURNS trigger AS $$
BEGIN
    NEW.search_key := NULL;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER products_search_key BEFORE UPDATE OF name, sku ON products
    FOR EACH ROW EXECUTE FUNCTION products_search_key_reset();
