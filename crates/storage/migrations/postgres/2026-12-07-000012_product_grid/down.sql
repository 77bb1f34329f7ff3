DROP TRIGGER till_feed ON products;
CREATE CONSTRAINT TRIGGER till_feed AFTER INSERT OR DELETE OR UPDATE OF id, company_id, sku, name,
    price_minor, tax_category_id, weighed, kitchen, active, version, updated_hlc ON products
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION till_feed_touch('product', 'id');
ALTER TABLE products DROP COLUMN favourite;
ALTER TABLE products DROP COLUMN category;
