-- How far a consumer of the event log (receipt printing) got, per stream.
CREATE TABLE consumer_cursors (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);
