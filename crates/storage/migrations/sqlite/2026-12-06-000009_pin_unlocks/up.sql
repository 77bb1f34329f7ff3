-- When a manager last lifted a staff member's PIN lockouts (issue 28). It
-- travels down the till feed (kind `pin_unlock`), so a lockout a till
-- counted on its own is lifted there too.
CREATE TABLE pin_unlocks (
    staff_id TEXT PRIMARY KEY REFERENCES staff(id),
    at BIGINT NOT NULL
);
CREATE TRIGGER till_feed_pin_unlocks_ins AFTER INSERT ON pin_unlocks BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('pin_unlock', NEW.staff_id, (SELECT seq FROM till_feed_seq));
END;
CREATE TRIGGER till_feed_pin_unlocks_upd AFTER UPDATE ON pin_unlocks BEGIN
    UPDATE till_feed_seq SET seq = seq + 1;
    INSERT OR REPLACE INTO till_feed (kind, key, seq) VALUES ('pin_unlock', NEW.staff_id, (SELECT seq FROM till_feed_seq));
END;
