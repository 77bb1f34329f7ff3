-- When a manager last lifted a staff member's PIN lockouts (issue 28). The
-- till feed carries it with the staff row (old tills skip the column), and
-- a till lifts the lockouts it counted before that time.
ALTER TABLE staff ADD COLUMN pins_unlocked_at BIGINT;
