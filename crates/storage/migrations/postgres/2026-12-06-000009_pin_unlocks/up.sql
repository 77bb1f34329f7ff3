-- When a manager last lifted a staff member's PIN lockouts (issue 28). It
-- travels down the till feed (kind `pin_unlock`), so a lockout a till
-- counted on its own is lifted there too.
CREATE TABLE pin_unlocks (
    staff_id TEXT PRIMARY KEY REFERENCES staff(id),
    at BIGINT NOT NULL
);
CREATE CONSTRAINT TRIGGER till_feed AFTER INSERT OR UPDATE OR DELETE ON pin_unlocks
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION till_feed_touch('pin_unlock', 'staff_id');
