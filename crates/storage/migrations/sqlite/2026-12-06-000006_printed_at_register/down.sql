ALTER TABLE kitchen_tickets DROP COLUMN printed_at_register;
