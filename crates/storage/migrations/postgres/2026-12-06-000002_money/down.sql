ALTER TABLE stores DROP COLUMN locale;
ALTER TABLE payments DROP COLUMN rounding_minor;
