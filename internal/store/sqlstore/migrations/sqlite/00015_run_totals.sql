-- Running totals for the dashboard and GET /api/metrics (issue 14): with 100,000 runs
-- a request must read O(days + configurations) rows, not the history. As
-- migrations/postgres/00015_run_totals.sql (which says what each table holds), with
-- row triggers: every insert, update of a counted column and delete of a run
-- (cascades included) moves its contribution, in the same statement. A row whose
-- run count falls to 0 stays (readers skip it). config_run_state holds each
-- configuration's newest run's status and newest success (ConfigStates).

-- +goose Up
CREATE TABLE run_days (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day         TEXT NOT NULL, -- YYYY-MM-DD of start_time, UTC
    status      TEXT NOT NULL,
    runs        INTEGER NOT NULL,
    stored      INTEGER NOT NULL, -- archive + manifest bytes
    duration_ms INTEGER NOT NULL, -- sum over the runs with a duration
    timed       INTEGER NOT NULL, -- runs with a duration
    PRIMARY KEY (user_id, day, status)
) STRICT;
CREATE INDEX idx_run_days_day ON run_days (day);

CREATE TABLE storage_totals (
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    destination_id TEXT NOT NULL, -- '' for runs without one
    config_id      TEXT NOT NULL,
    agent_id       TEXT NOT NULL, -- '' in server mode
    bytes          INTEGER NOT NULL,
    objects        INTEGER NOT NULL,
    runs           INTEGER NOT NULL,
    PRIMARY KEY (user_id, destination_id, config_id, agent_id)
) STRICT;

CREATE INDEX idx_backup_logs_config_success ON backup_logs (config_id, COALESCE(end_time, start_time))
    WHERE status IN ('completed', 'expired');

-- The dashboard's running backups (and the history filtered by status) read the
-- newest runs of one status: without these, a user's few running runs are found by
-- walking all their history.
CREATE INDEX idx_backup_logs_user_status_start ON backup_logs (user_id, status, start_time);
CREATE INDEX idx_backup_logs_status_start ON backup_logs (status, start_time);

CREATE TABLE config_run_state (
    config_id     TEXT PRIMARY KEY REFERENCES backup_configs (id) ON DELETE CASCADE,
    latest_status TEXT, -- the newest run's (by start, then id); NULL: no run
    last_success  TEXT  -- end of the newest completed or expired run
) STRICT;

-- +goose StatementBegin
CREATE TRIGGER backup_logs_totals_insert AFTER INSERT ON backup_logs
BEGIN
    INSERT INTO run_days (user_id, day, status, runs, stored, duration_ms, timed)
    VALUES (NEW.user_id, substr(NEW.start_time, 1, 10), NEW.status, 1, NEW.archive_size + NEW.manifest_size + NEW.catalog_size,
        COALESCE(NEW.duration, 0), NEW.duration IS NOT NULL)
    ON CONFLICT (user_id, day, status) DO UPDATE SET runs = runs + 1, stored = stored + excluded.stored,
        duration_ms = duration_ms + excluded.duration_ms, timed = timed + excluded.timed;
    INSERT INTO storage_totals (user_id, destination_id, config_id, agent_id, bytes, objects, runs)
    SELECT NEW.user_id, COALESCE(NEW.destination_id, ''), NEW.config_id, COALESCE(NEW.agent_id, ''),
        NEW.archive_size + NEW.manifest_size + NEW.catalog_size, (NEW.archive_size > 0) + (NEW.manifest_size > 0) + (NEW.catalog_size > 0), 1
    WHERE NEW.status = 'completed'
    ON CONFLICT (user_id, destination_id, config_id, agent_id) DO UPDATE SET runs = runs + 1,
        bytes = bytes + excluded.bytes, objects = objects + excluded.objects;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER backup_logs_totals_delete AFTER DELETE ON backup_logs
BEGIN
    UPDATE run_days SET runs = runs - 1, stored = stored - (OLD.archive_size + OLD.manifest_size + OLD.catalog_size),
        duration_ms = duration_ms - COALESCE(OLD.duration, 0), timed = timed - (OLD.duration IS NOT NULL)
    WHERE user_id = OLD.user_id AND day = substr(OLD.start_time, 1, 10) AND status = OLD.status;
    UPDATE storage_totals SET runs = runs - 1, bytes = bytes - (OLD.archive_size + OLD.manifest_size + OLD.catalog_size),
        objects = objects - ((OLD.archive_size > 0) + (OLD.manifest_size > 0) + (OLD.catalog_size > 0))
    WHERE OLD.status = 'completed' AND user_id = OLD.user_id AND destination_id = COALESCE(OLD.destination_id, '')
        AND config_id = OLD.config_id AND agent_id = COALESCE(OLD.agent_id, '');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER backup_logs_totals_update AFTER UPDATE OF user_id, start_time, status, destination_id, config_id,
    agent_id, archive_size, manifest_size, catalog_size, duration ON backup_logs
WHEN OLD.user_id IS NOT NEW.user_id OR OLD.start_time IS NOT NEW.start_time OR OLD.status IS NOT NEW.status
    OR OLD.destination_id IS NOT NEW.destination_id OR OLD.config_id IS NOT NEW.config_id
    OR OLD.agent_id IS NOT NEW.agent_id OR OLD.archive_size IS NOT NEW.archive_size
    OR OLD.manifest_size IS NOT NEW.manifest_size OR OLD.catalog_size IS NOT NEW.catalog_size OR OLD.duration IS NOT NEW.duration
BEGIN
    UPDATE run_days SET runs = runs - 1, stored = stored - (OLD.archive_size + OLD.manifest_size + OLD.catalog_size),
        duration_ms = duration_ms - COALESCE(OLD.duration, 0), timed = timed - (OLD.duration IS NOT NULL)
    WHERE user_id = OLD.user_id AND day = substr(OLD.start_time, 1, 10) AND status = OLD.status;
    UPDATE storage_totals SET runs = runs - 1, bytes = bytes - (OLD.archive_size + OLD.manifest_size + OLD.catalog_size),
        objects = objects - ((OLD.archive_size > 0) + (OLD.manifest_size > 0) + (OLD.catalog_size > 0))
    WHERE OLD.status = 'completed' AND user_id = OLD.user_id AND destination_id = COALESCE(OLD.destination_id, '')
        AND config_id = OLD.config_id AND agent_id = COALESCE(OLD.agent_id, '');
    INSERT INTO run_days (user_id, day, status, runs, stored, duration_ms, timed)
    VALUES (NEW.user_id, substr(NEW.start_time, 1, 10), NEW.status, 1, NEW.archive_size + NEW.manifest_size + NEW.catalog_size,
        COALESCE(NEW.duration, 0), NEW.duration IS NOT NULL)
    ON CONFLICT (user_id, day, status) DO UPDATE SET runs = runs + 1, stored = stored + excluded.stored,
        duration_ms = duration_ms + excluded.duration_ms, timed = timed + excluded.timed;
    INSERT INTO storage_totals (user_id, destination_id, config_id, agent_id, bytes, objects, runs)
    SELECT NEW.user_id, COALESCE(NEW.destination_id, ''), NEW.config_id, COALESCE(NEW.agent_id, ''),
        NEW.archive_size + NEW.manifest_size + NEW.catalog_size, (NEW.archive_size > 0) + (NEW.manifest_size > 0) + (NEW.catalog_size > 0), 1
    WHERE NEW.status = 'completed'
    ON CONFLICT (user_id, destination_id, config_id, agent_id) DO UPDATE SET runs = runs + 1,
        bytes = bytes + excluded.bytes, objects = objects + excluded.objects;
END;
-- +goose StatementEnd

-- config_run_state: refreshed from the runs (two index probes) for the
-- configuration of every run inserted, deleted or changed in a counted column.
-- +goose StatementBegin
CREATE TRIGGER backup_logs_config_state_insert AFTER INSERT ON backup_logs
BEGIN
    INSERT INTO config_run_state (config_id, latest_status, last_success)
    SELECT c.id,
        (SELECT l.status FROM backup_logs l WHERE l.config_id = c.id ORDER BY l.start_time DESC, l.id DESC LIMIT 1),
        (SELECT COALESCE(l.end_time, l.start_time) FROM backup_logs l WHERE l.config_id = c.id
            AND l.status IN ('completed', 'expired') ORDER BY COALESCE(l.end_time, l.start_time) DESC LIMIT 1)
    FROM backup_configs c WHERE c.id = NEW.config_id
    ON CONFLICT (config_id) DO UPDATE SET latest_status = excluded.latest_status, last_success = excluded.last_success;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER backup_logs_config_state_delete AFTER DELETE ON backup_logs
BEGIN
    INSERT INTO config_run_state (config_id, latest_status, last_success)
    SELECT c.id,
        (SELECT l.status FROM backup_logs l WHERE l.config_id = c.id ORDER BY l.start_time DESC, l.id DESC LIMIT 1),
        (SELECT COALESCE(l.end_time, l.start_time) FROM backup_logs l WHERE l.config_id = c.id
            AND l.status IN ('completed', 'expired') ORDER BY COALESCE(l.end_time, l.start_time) DESC LIMIT 1)
    FROM backup_configs c WHERE c.id = OLD.config_id
    ON CONFLICT (config_id) DO UPDATE SET latest_status = excluded.latest_status, last_success = excluded.last_success;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER backup_logs_config_state_update AFTER UPDATE OF config_id, start_time, end_time, status ON backup_logs
WHEN OLD.config_id IS NOT NEW.config_id OR OLD.start_time IS NOT NEW.start_time OR OLD.end_time IS NOT NEW.end_time
    OR OLD.status IS NOT NEW.status
BEGIN
    INSERT INTO config_run_state (config_id, latest_status, last_success)
    SELECT c.id,
        (SELECT l.status FROM backup_logs l WHERE l.config_id = c.id ORDER BY l.start_time DESC, l.id DESC LIMIT 1),
        (SELECT COALESCE(l.end_time, l.start_time) FROM backup_logs l WHERE l.config_id = c.id
            AND l.status IN ('completed', 'expired') ORDER BY COALESCE(l.end_time, l.start_time) DESC LIMIT 1)
    FROM backup_configs c WHERE c.id = OLD.config_id
    ON CONFLICT (config_id) DO UPDATE SET latest_status = excluded.latest_status, last_success = excluded.last_success;
    INSERT INTO config_run_state (config_id, latest_status, last_success)
    SELECT c.id,
        (SELECT l.status FROM backup_logs l WHERE l.config_id = c.id ORDER BY l.start_time DESC, l.id DESC LIMIT 1),
        (SELECT COALESCE(l.end_time, l.start_time) FROM backup_logs l WHERE l.config_id = c.id
            AND l.status IN ('completed', 'expired') ORDER BY COALESCE(l.end_time, l.start_time) DESC LIMIT 1)
    FROM backup_configs c WHERE c.id = NEW.config_id
    ON CONFLICT (config_id) DO UPDATE SET latest_status = excluded.latest_status, last_success = excluded.last_success;
END;
-- +goose StatementEnd

-- The runs stored before this migration.
INSERT INTO run_days (user_id, day, status, runs, stored, duration_ms, timed)
SELECT user_id, substr(start_time, 1, 10), status, COUNT(*), SUM(archive_size + manifest_size + catalog_size),
    COALESCE(SUM(duration), 0), COUNT(duration)
FROM backup_logs GROUP BY 1, 2, 3;
INSERT INTO storage_totals (user_id, destination_id, config_id, agent_id, bytes, objects, runs)
SELECT user_id, COALESCE(destination_id, ''), config_id, COALESCE(agent_id, ''), SUM(archive_size + manifest_size + catalog_size),
    SUM((archive_size > 0) + (manifest_size > 0) + (catalog_size > 0)), COUNT(*)
FROM backup_logs WHERE status = 'completed' GROUP BY 1, 2, 3, 4;

INSERT INTO config_run_state (config_id, latest_status, last_success)
SELECT c.id,
    (SELECT l.status FROM backup_logs l WHERE l.config_id = c.id ORDER BY l.start_time DESC, l.id DESC LIMIT 1),
    (SELECT COALESCE(l.end_time, l.start_time) FROM backup_logs l WHERE l.config_id = c.id
        AND l.status IN ('completed', 'expired') ORDER BY COALESCE(l.end_time, l.start_time) DESC LIMIT 1)
FROM backup_configs c;

-- +goose Down
DROP TRIGGER backup_logs_config_state_update;
DROP TRIGGER backup_logs_config_state_delete;
DROP TRIGGER backup_logs_config_state_insert;
DROP TRIGGER backup_logs_totals_update;
DROP TRIGGER backup_logs_totals_delete;
DROP TRIGGER backup_logs_totals_insert;
DROP INDEX idx_backup_logs_status_start;
DROP INDEX idx_backup_logs_user_status_start;
DROP INDEX idx_backup_logs_config_success;
DROP TABLE config_run_state;
DROP TABLE storage_totals;
DROP TABLE run_days;
