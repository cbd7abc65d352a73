-- What the scheduler, run history and retention need (issue 5).

-- +goose Up
-- The last slot the scheduler dispatched or skipped; its compare-and-set keeps two
-- schedulers from dispatching one slot twice.
ALTER TABLE backup_configs ADD COLUMN last_scheduled timestamptz;
-- When the current schedule took effect (NULL: at created_at). Set by the trigger
-- below whenever the schedule or enabled changes, so no writer can forget it.
ALTER TABLE backup_configs ADD COLUMN schedule_since timestamptz;

-- +goose StatementBegin
CREATE FUNCTION backup_configs_schedule_since() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.schedule IS DISTINCT FROM OLD.schedule OR NEW.enabled IS DISTINCT FROM OLD.enabled THEN
        NEW.schedule_since := NEW.updated_at;
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER backup_configs_schedule_since BEFORE UPDATE ON backup_configs
    FOR EACH ROW EXECUTE FUNCTION backup_configs_schedule_since();

-- A run queued after its slot had passed (missed slots, an offline agent).
ALTER TABLE backup_logs ADD COLUMN late boolean NOT NULL DEFAULT false;
-- The first slot a scheduled run stands for (NULL for manual runs).
ALTER TABLE backup_logs ADD COLUMN due_at timestamptz;
-- When retention deleted the run's objects (its status is then 'expired').
ALTER TABLE backup_logs ADD COLUMN expired_at timestamptz;
-- History lists filter by user and sort by start time.
CREATE INDEX idx_backup_logs_user_start ON backup_logs (user_id, start_time);

-- +goose Down
DROP INDEX idx_backup_logs_user_start;
ALTER TABLE backup_logs DROP COLUMN expired_at;
ALTER TABLE backup_logs DROP COLUMN due_at;
ALTER TABLE backup_logs DROP COLUMN late;
DROP TRIGGER backup_configs_schedule_since ON backup_configs;
DROP FUNCTION backup_configs_schedule_since();
ALTER TABLE backup_configs DROP COLUMN schedule_since;
ALTER TABLE backup_configs DROP COLUMN last_scheduled;
