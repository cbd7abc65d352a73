-- What a restore does with names the target's file system cannot hold (issue 12):
-- 'rename' restores them under an escaped name, 'skip' leaves them out; both list
-- them in the restore's result. Restores from before were all renamed.

-- +goose Up
ALTER TABLE restores ADD COLUMN unportable_names {{text}} NOT NULL DEFAULT 'rename';

-- +goose Down
ALTER TABLE restores DROP COLUMN unportable_names;
