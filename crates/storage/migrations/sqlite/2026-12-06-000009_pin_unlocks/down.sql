DROP TRIGGER till_feed_pin_unlocks_ins;
DROP TRIGGER till_feed_pin_unlocks_upd;
DELETE FROM till_feed WHERE kind = 'pin_unlock';
DROP TABLE pin_unlocks;
