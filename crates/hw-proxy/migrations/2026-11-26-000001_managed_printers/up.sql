-- Printers the edge configured on its manager page (SetPrinters), kept so
-- hw-proxy drives them after a restart while the edge is away.
CREATE TABLE managed_printers (
    id TEXT PRIMARY KEY NOT NULL,
    -- hw-proxy's PrinterConfig as JSON.
    config TEXT NOT NULL,
    logo_png BLOB NOT NULL
);
