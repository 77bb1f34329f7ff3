DROP TRIGGER till_feed ON pin_unlocks;
DELETE FROM till_feed WHERE kind = 'pin_unlock';
DROP TABLE pin_unlocks;
