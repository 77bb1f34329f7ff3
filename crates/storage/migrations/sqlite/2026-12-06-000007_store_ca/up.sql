-- The store's own certificate authority (issue 28), made on the edge's
-- first start: it signs the edge's TLS certificate for the LAN, and a
-- register agent pins it when it pairs. Its key never leaves the database.
CREATE TABLE store_ca (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    cert_pem TEXT NOT NULL,
    key_pem TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
