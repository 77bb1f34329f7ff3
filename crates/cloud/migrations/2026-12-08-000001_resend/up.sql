-- Re-sending a store's master data (expand-only).

-- A change appended by a re-send: the entity's current state with the time
-- of its last edit, which the store applies unless its own copy is later.
ALTER TABLE master_changes ADD COLUMN resent BOOLEAN NOT NULL DEFAULT false;

-- The feed cursor the store last pulled from: every change up to it has
-- reached the store.
ALTER TABLE stores ADD COLUMN master_pulled BIGINT NOT NULL DEFAULT 0;
