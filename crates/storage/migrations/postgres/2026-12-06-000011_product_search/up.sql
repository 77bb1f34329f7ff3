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
-- Folding a name is no change to the product: the till feed's trigger
-- fires on the columns a till holds only.
DROP TRIGGER till_feed ON products;
CREATE CONSTRAINT TRIGGER till_feed AFTER INSERT OR DELETE OR UPDATE OF id, company_id, sku, name,
    price_minor, tax_category_id, weighed, kitchen, active, version, updated_hlc ON products
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION till_feed_touch('product', 'id');
