-- What the scheduler, run history and retention need (issue 5).
-- Conventions as in 00001 (TEXT times in fixed-width UTC, INTEGER 0/1 booleans).

-- +goose Up
-- The last slot the scheduler dispatched or skipped; its compare-and-set keeps two
-- schedulers from dispatching one slot twice.
ALTER TABLE backup_configs ADD COLUMN last_scheduled TEXT;
-- When the current schedule took effect (NULL: at created_at). Set by the trigger
-- below whenever the schedule or enabled changes, so no writer can forget it.
ALTER TABLE backup_configs ADD COLUMN schedule_since TEXT;

-- +goose StatementBegin
CREATE TRIGGER backup_configs_schedule_since AFTER UPDATE OF schedule, enabled ON backup_configs
WHEN OLD.schedule IS NOT NEW.schedule OR OLD.enabled IS NOT NEW.enabled
BEGIN
    UPDATE backup_configs SET schedule_since = NEW.updated_at WHERE id = NEW.id;
END;
-- +goose StatementEnd

-- A run queued after its slot had passed (missed slots, an offline agent).
ALTER TABLE backup_logs ADD COLUMN late INTEGER NOT NULL DEFAULT 0 CHECK (late IN (0, 1));
-- The first slot a scheduled run stands for (NULL for manual runs).
ALTER TABLE backup_logs ADD COLUMN due_at TEXT;
-- When retention deleted the run's objects (its status is then 'expired').
ALTER TABLE backup_logs ADD COLUMN expired_at TEXT;
-- History lists filter by user and sort by start time.
CREATE INDEX idx_backup_logs_user_start ON backup_logs (user_id, start_time);

-- +goose Down
DROP INDEX idx_backup_logs_user_start;
ALTER TABLE backup_logs DROP COLUMN expired_at;
ALTER TABLE backup_logs DROP COLUMN due_at;
ALTER TABLE backup_logs DROP COLUMN late;
DROP TRIGGER backup_configs_schedule_since;
ALTER TABLE backup_configs DROP COLUMN schedule_since;
ALTER TABLE backup_configs DROP COLUMN last_scheduled;
