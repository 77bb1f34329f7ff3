-- A kitchen ticket a register agent printed as a slip on its own printer
-- while the edge was away (issue 28): when. The kitchen display shows it
-- marked, already preparing, with no alert; the edge does not print it.
ALTER TABLE kitchen_tickets ADD COLUMN printed_at_register BIGINT;
