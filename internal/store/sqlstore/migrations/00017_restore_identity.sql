-- The age identity given for a restore of a backup encrypted to recipients, sealed
-- under the master key (purpose restore-identity, the restore's id as associated
-- data), kept in the database until the agent acknowledges the restore (it lists
-- it in a heartbeat or reports progress), the restore settles, or identity_until
-- (a day after it was given) passes; then both columns are NULL. Kept in one
-- replica's memory before, it was lost when the hand-out's answer was lost, and
-- unknown to the other replicas.

-- +goose Up
ALTER TABLE restores ADD COLUMN identity_sealed {{bytes}};
ALTER TABLE restores ADD COLUMN identity_until {{time}};
-- The reaper erases expired identities: few rows hold one at any time.
CREATE INDEX idx_restores_identity_until ON restores (identity_until) WHERE identity_until IS NOT NULL;

-- +goose Down
DROP INDEX idx_restores_identity_until;
ALTER TABLE restores DROP COLUMN identity_until;
ALTER TABLE restores DROP COLUMN identity_sealed;
