-- The change feed register agents pull (issue 28): which master-data rows
-- changed, in commit order. Triggers fill it, so no write path (the manager
-- page, the cloud's feed, a price list taking effect, a migration) can
-- forget it. One row per (kind, key) with the sequence number of its last
-- change; a reader sends each row's current state, or that it is gone.
-- `till_feed_seq` is one counter row: every writer of master data takes
-- its lock, so sequence numbers are in commit order.
CREATE TABLE till_feed_seq (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL);
CREATE TABLE till_feed (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX till_feed_by_seq ON till_feed (seq);
-- On a register agent's database: the edge's epoch and the cursor it pulled to.
CREATE TABLE till_feed_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), epoch TEXT NOT NULL, seq BIGINT NOT NULL);

-- What an upgraded edge holds already, numbered 1, 2, …
INSERT INTO till_feed (kind, key, seq) SELECT 'company', id, 0 FROM companies;
INSERT INTO till_feed (kind, key, seq) SELECT 'tax_category', id, 0 FROM tax_categories;
INSERT INTO till_feed (kind, key, seq) SELECT 'store', id, 0 FROM stores;
INSERT INTO till_feed (kind, key, seq) SELECT 'staff', id, 0 FROM staff;
INSERT INTO till_feed (kind, key, seq) SELECT 'product', id, 0 FROM products;
INSERT INTO till_feed (kind, key, seq) SELECT 'barcode', code, 0 FROM barcodes;
INSERT INTO till_feed (kind, key, seq) SELECT 'price_list', version, 0 FROM price_list_versions;
UPDATE till_feed t SET seq = n.rn
  FROM (SELECT kind, key, row_number() OVER (ORDER BY kind, key) AS rn FROM till_feed) n
  WHERE t.kind = n.kind AND t.key = n.key;
INSERT INTO till_feed_seq (id, seq) SELECT 1, COALESCE(max(seq), 0) FROM till_feed;

-- TG_ARGV: the kind and the key column. The triggers are deferred to the
-- commit: the counter row is locked last, after every row lock the
-- transaction took (no deadlock between two master-data writers), and held
-- only while the transaction commits.
CREATE FUNCTION till_feed_touch() RETURNS trigger AS $$
DECLARE
    s BIGINT;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE till_feed_seq SET seq = seq + 1 WHERE id = 1 RETURNING seq INTO s;
        INSERT INTO till_feed (kind, key, seq) VALUES (TG_ARGV[0], to_jsonb(OLD) ->> TG_ARGV[1], s)
            ON CONFLICT (kind, key) DO UPDATE SET seq = EXCLUDED.seq;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE till_feed_seq SET seq = seq + 1 WHERE id = 1 RETURNING seq INTO s;
        INSERT INTO till_feed (kind, key, seq) VALUES (TG_ARGV[0], to_jsonb(NEW) ->> TG_ARGV[1], s)
            ON CONFLICT (kind, key) DO UPDATE SET seq = EXCLUDED.seq;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER till_feed AFTER INSERT OR UPDATE OR DELETE ON companies
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION till_feed_touch('company', 'id');
CREATE CONSTRAINT TRIGGER till_feed AFTER INSERT OR UPDATE OR DELETE ON tax_categories
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION till_feed_touch('tax_category', 'id');
CREATE CONSTRAINT TRIGGER till_feed AFTER INSERT OR UPDATE OR DELETE ON stores
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION till_feed_touch('store', 'id');
CREATE CONSTRAINT TRIGGER till_feed AFTER INSERT OR UPDATE OR DELETE ON staff
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION till_feed_touch('staff', 'id');
CREATE CONSTRAINT TRIGGER till_feed AFTER INSERT OR UPDATE OR DELETE ON products
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION till_feed_touch('product', 'id');
CREATE CONSTRAINT TRIGGER till_feed AFTER INSERT OR UPDATE OR DELETE ON barcodes
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION till_feed_touch('barcode', 'code');
CREATE CONSTRAINT TRIGGER till_feed AFTER INSERT OR UPDATE OR DELETE ON price_list_versions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION till_feed_touch('price_list', 'version');
