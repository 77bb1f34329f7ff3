-- Money in every currency (expand-only): a cash payment rounded to the
-- currency's cash unit keeps the difference (amount_minor less what it paid
-- of the order; a refund the same), and the store's locale for numbers
-- ('' = the currency's usual one).
ALTER TABLE payments ADD COLUMN rounding_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE stores ADD COLUMN locale TEXT NOT NULL DEFAULT '';
