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
UPDATE till_feed SET seq = rowid;
INSERT INTO till_feed_seq (id, seq) SELECT 1, COALESCE(max(seq), 0) FROM till_feed;

CREATE TRIGGER till_feed_companies_ins AFTER INSERT ON companies BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('company', NEW.id, (SELECT seq FROM till_feed_seq));
END;
CREATE TRIGGER till_feed_companies_upd AFTER UPDATE ON companies BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('company', OLD.id, (SELECT seq FROM till_feed_seq));
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('company', NEW.id, (SELECT seq FROM till_feed_seq));
END;
CREATE TRIGGER till_feed_companies_del AFTER DELETE ON companies BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('company', OLD.id, (SELECT seq FROM till_feed_seq));
END;

CREATE TRIGGER till_feed_tax_categories_ins AFTER INSERT ON tax_categories BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('tax_category', NEW.id, (SELECT seq FROM till_feed_seq));
END;
CREATE TRIGGER till_feed_tax_categories_upd AFTER UPDATE ON tax_categories BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('tax_category', OLD.id, (SELECT seq FROM till_feed_seq));
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('tax_category', NEW.id, (SELECT seq FROM till_feed_seq));
END;
CREATE TRIGGER till_feed_tax_categories_del AFTER DELETE ON tax_categories BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('tax_category', OLD.id, (SELECT seq FROM till_feed_seq));
END;

CREATE TRIGGER till_feed_stores_ins AFTER INSERT ON stores BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('store', NEW.id, (SELECT seq FROM till_feed_seq));
END;
CREATE TRIGGER till_feed_stores_upd AFTER UPDATE ON stores BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('store', OLD.id, (SELECT seq FROM till_feed_seq));
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('store', NEW.id, (SELECT seq FROM till_feed_seq));
END;
CREATE TRIGGER till_feed_stores_del AFTER DELETE ON stores BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('store', OLD.id, (SELECT seq FROM till_feed_seq));
END;

CREATE TRIGGER till_feed_staff_ins AFTER INSERT ON staff BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('staff', NEW.id, (SELECT seq FROM till_feed_seq));
END;
CREATE TRIGGER till_feed_staff_upd AFTER UPDATE ON staff BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('staff', OLD.id, (SELECT seq FROM till_feed_seq));
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('staff', NEW.id, (SELECT seq FROM till_feed_seq));
END;
CREATE TRIGGER till_feed_staff_del AFTER DELETE ON staff BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('staff', OLD.id, (SELECT seq FROM till_feed_seq));
END;

CREATE TRIGGER till_feed_products_ins AFTER INSERT ON products BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('product', NEW.id, (SELECT seq FROM till_feed_seq));
END;
CREATE TRIGGER till_feed_products_upd AFTER UPDATE ON products BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('product', OLD.id, (SELECT seq FROM till_feed_seq));
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('product', NEW.id, (SELECT seq FROM till_feed_seq));
END;
CREATE TRIGGER till_feed_products_del AFTER DELETE ON products BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('product', OLD.id, (SELECT seq FROM till_feed_seq));
END;

CREATE TRIGGER till_feed_barcodes_ins AFTER INSERT ON barcodes BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('barcode', NEW.code, (SELECT seq FROM till_feed_seq));
END;
CREATE TRIGGER till_feed_barcodes_upd AFTER UPDATE ON barcodes BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('barcode', OLD.code, (SELECT seq FROM till_feed_seq));
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('barcode', NEW.code, (SELECT seq FROM till_feed_seq));
END;
CREATE TRIGGER till_feed_barcodes_del AFTER DELETE ON barcodes BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('barcode', OLD.code, (SELECT seq FROM till_feed_seq));
END;

CREATE TRIGGER till_feed_price_list_versions_ins AFTER INSERT ON price_list_versions BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('price_list', NEW.version, (SELECT seq FROM till_feed_seq));
END;
CREATE TRIGGER till_feed_price_list_versions_upd AFTER UPDATE ON price_list_versions BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('price_list', OLD.version, (SELECT seq FROM till_feed_seq));
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('price_list', NEW.version, (SELECT seq FROM till_feed_seq));
END;
CREATE TRIGGER till_feed_price_list_versions_del AFTER DELETE ON price_list_versions BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('price_list', OLD.version, (SELECT seq FROM till_feed_seq));
END;
