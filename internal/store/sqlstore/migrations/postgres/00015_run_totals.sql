-- Running totals for the dashboard and GET /api/metrics (issue 14): with 100,000 runs
-- a request must read O(days + configurations) rows, not the history.
--   run_days:       per user, UTC day of start and status: runs, bytes stored,
--                   duration sum and how many runs had one (RunDays).
--   storage_totals: per user, destination, configuration and agent: what the
--                   completed runs hold (StorageUsage, RecordStorageDay).
-- Both are kept by the triggers below, in the statement (and so the
-- transaction) that inserts, settles, expires or deletes runs: no writer can forget
-- them, cascades included. Progress reports (which set none of the columns counted)
-- do not fire them. A row whose run count falls to 0 stays (readers skip it).
--   config_run_state: per configuration, the newest run's status and the newest
--                   success's end (ConfigStates: the protection table), refreshed
--                   from the runs (two index probes, the partial index below) for
--                   each configuration whose runs a statement changed.
-- SQLite has the same in migrations/sqlite/00015_run_totals.sql (row triggers).

-- +goose Up
CREATE TABLE run_days (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day         text NOT NULL, -- YYYY-MM-DD of start_time, UTC
    status      text NOT NULL,
    runs        bigint NOT NULL,
    stored      bigint NOT NULL, -- archive + manifest bytes
    duration_ms bigint NOT NULL, -- sum over the runs with a duration
    timed       bigint NOT NULL, -- runs with a duration
    PRIMARY KEY (user_id, day, status)
);
CREATE INDEX idx_run_days_day ON run_days (day);

CREATE TABLE storage_totals (
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    destination_id text NOT NULL, -- '' for runs without one
    config_id      text NOT NULL,
    agent_id       text NOT NULL, -- '' in server mode
    bytes          bigint NOT NULL,
    objects        bigint NOT NULL,
    runs           bigint NOT NULL,
    PRIMARY KEY (user_id, destination_id, config_id, agent_id)
);

CREATE INDEX idx_backup_logs_config_success ON backup_logs (config_id, (COALESCE(end_time, start_time)))
    WHERE status IN ('completed', 'expired');

-- The dashboard's running backups (and the history filtered by status) read the
-- newest runs of one status: without these, a user's few running runs are found by
-- walking all their history.
CREATE INDEX idx_backup_logs_user_status_start ON backup_logs (user_id, status, start_time);
CREATE INDEX idx_backup_logs_status_start ON backup_logs (status, start_time);

CREATE TABLE config_run_state (
    config_id     uuid PRIMARY KEY REFERENCES backup_configs (id) ON DELETE CASCADE,
    latest_status text,        -- the newest run's (by start, then id); NULL: no run
    last_success  timestamptz  -- end of the newest completed or expired run
);

-- +goose StatementBegin
CREATE FUNCTION backup_logs_totals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    -- Each run's contribution: +1 for the rows inserted, -1 for those deleted.
    r text := CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT 1 AS sign, * FROM new_runs'
        ELSE 'SELECT -1 AS sign, * FROM old_runs' END;
BEGIN
    -- Existing rows are updated, new keys inserted (ON CONFLICT: another transaction
    -- inserted the key meanwhile). A negative change never inserts: its key is gone
    -- only when its user is being deleted.
    EXECUTE 'WITH r AS (' || r || '), d AS (
        SELECT user_id, to_char(start_time AT TIME ZONE ''UTC'', ''YYYY-MM-DD'') AS day, status,
            SUM(sign) AS runs, SUM(sign * (archive_size + manifest_size + catalog_size)) AS stored,
            SUM(sign * COALESCE(duration, 0)) AS duration_ms,
            SUM(CASE WHEN duration IS NULL THEN 0 ELSE sign END) AS timed
        FROM r GROUP BY 1, 2, 3
    ), up AS (
        UPDATE run_days t SET runs = t.runs + d.runs, stored = t.stored + d.stored,
            duration_ms = t.duration_ms + d.duration_ms, timed = t.timed + d.timed
        FROM d WHERE t.user_id = d.user_id AND t.day = d.day AND t.status = d.status
            AND (d.runs, d.stored, d.duration_ms, d.timed) <> (0, 0, 0, 0)
        RETURNING t.user_id, t.day, t.status
    )
    INSERT INTO run_days (user_id, day, status, runs, stored, duration_ms, timed)
    SELECT d.user_id, d.day, d.status, d.runs, d.stored, d.duration_ms, d.timed FROM d
    WHERE d.runs > 0 AND NOT EXISTS (SELECT 1 FROM up WHERE up.user_id = d.user_id AND up.day = d.day AND up.status = d.status)
    ON CONFLICT (user_id, day, status) DO UPDATE SET runs = run_days.runs + excluded.runs,
        stored = run_days.stored + excluded.stored, duration_ms = run_days.duration_ms + excluded.duration_ms,
        timed = run_days.timed + excluded.timed';
    EXECUTE 'WITH r AS (' || r || '), d AS (
        SELECT user_id, COALESCE(destination_id, '''') AS destination_id, config_id::text AS config_id,
            COALESCE(agent_id::text, '''') AS agent_id, SUM(sign) AS runs,
            SUM(sign * (archive_size + manifest_size + catalog_size)) AS bytes,
            SUM(sign * ((archive_size > 0)::int + (manifest_size > 0)::int + (catalog_size > 0)::int)) AS objects
        FROM r WHERE status = ''completed'' GROUP BY 1, 2, 3, 4
    ), up AS (
        UPDATE storage_totals t SET runs = t.runs + d.runs, bytes = t.bytes + d.bytes, objects = t.objects + d.objects
        FROM d WHERE t.user_id = d.user_id AND t.destination_id = d.destination_id AND t.config_id = d.config_id
            AND t.agent_id = d.agent_id AND (d.runs, d.bytes, d.objects) <> (0, 0, 0)
        RETURNING t.user_id, t.destination_id, t.config_id, t.agent_id
    )
    INSERT INTO storage_totals (user_id, destination_id, config_id, agent_id, bytes, objects, runs)
    SELECT d.user_id, d.destination_id, d.config_id, d.agent_id, d.bytes, d.objects, d.runs FROM d
    WHERE d.runs > 0 AND NOT EXISTS (SELECT 1 FROM up WHERE up.user_id = d.user_id AND up.destination_id = d.destination_id
        AND up.config_id = d.config_id AND up.agent_id = d.agent_id)
    ON CONFLICT (user_id, destination_id, config_id, agent_id) DO UPDATE SET runs = storage_totals.runs + excluded.runs,
        bytes = storage_totals.bytes + excluded.bytes, objects = storage_totals.objects + excluded.objects';
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION backup_logs_totals_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE run_days SET runs = runs - 1, stored = stored - (OLD.archive_size + OLD.manifest_size + OLD.catalog_size),
        duration_ms = duration_ms - COALESCE(OLD.duration, 0),
        timed = timed - (CASE WHEN OLD.duration IS NULL THEN 0 ELSE 1 END)
    WHERE user_id = OLD.user_id AND day = to_char(OLD.start_time AT TIME ZONE 'UTC', 'YYYY-MM-DD') AND status = OLD.status;
    INSERT INTO run_days (user_id, day, status, runs, stored, duration_ms, timed)
    VALUES (NEW.user_id, to_char(NEW.start_time AT TIME ZONE 'UTC', 'YYYY-MM-DD'), NEW.status, 1,
        NEW.archive_size + NEW.manifest_size + NEW.catalog_size, COALESCE(NEW.duration, 0), CASE WHEN NEW.duration IS NULL THEN 0 ELSE 1 END)
    ON CONFLICT (user_id, day, status) DO UPDATE SET runs = run_days.runs + 1, stored = run_days.stored + excluded.stored,
        duration_ms = run_days.duration_ms + excluded.duration_ms, timed = run_days.timed + excluded.timed;
    IF OLD.status = 'completed' THEN
        UPDATE storage_totals SET runs = runs - 1, bytes = bytes - (OLD.archive_size + OLD.manifest_size + OLD.catalog_size),
            objects = objects - ((OLD.archive_size > 0)::int + (OLD.manifest_size > 0)::int + (OLD.catalog_size > 0)::int)
        WHERE user_id = OLD.user_id AND destination_id = COALESCE(OLD.destination_id, '')
            AND config_id = OLD.config_id::text AND agent_id = COALESCE(OLD.agent_id::text, '');
    END IF;
    IF NEW.status = 'completed' THEN
        INSERT INTO storage_totals (user_id, destination_id, config_id, agent_id, bytes, objects, runs)
        VALUES (NEW.user_id, COALESCE(NEW.destination_id, ''), NEW.config_id::text, COALESCE(NEW.agent_id::text, ''),
            NEW.archive_size + NEW.manifest_size + NEW.catalog_size, (NEW.archive_size > 0)::int + (NEW.manifest_size > 0)::int + (NEW.catalog_size > 0)::int, 1)
        ON CONFLICT (user_id, destination_id, config_id, agent_id) DO UPDATE SET runs = storage_totals.runs + 1,
            bytes = storage_totals.bytes + excluded.bytes, objects = storage_totals.objects + excluded.objects;
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION backup_logs_config_state() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[];
BEGIN
    IF TG_LEVEL = 'ROW' THEN
        ids := ARRAY[OLD.config_id, NEW.config_id];
    ELSIF TG_OP = 'INSERT' THEN
        ids := ARRAY(SELECT DISTINCT config_id FROM new_runs);
    ELSE
        ids := ARRAY(SELECT DISTINCT config_id FROM old_runs);
    END IF;
    -- Lock the rows (made if missing), in order, before reading the runs: the
    -- refresh, a statement with a snapshot of its own, then sees every run
    -- committed by a transaction that held them before.
    INSERT INTO config_run_state (config_id) SELECT c.id FROM backup_configs c WHERE c.id = ANY (ids)
    ORDER BY c.id ON CONFLICT (config_id) DO NOTHING;
    PERFORM 1 FROM config_run_state WHERE config_id = ANY (ids) ORDER BY config_id FOR UPDATE;
    UPDATE config_run_state t SET
        latest_status = (SELECT l.status FROM backup_logs l WHERE l.config_id = t.config_id
            ORDER BY l.start_time DESC, l.id DESC LIMIT 1),
        last_success = (SELECT COALESCE(l.end_time, l.start_time) FROM backup_logs l
            WHERE l.config_id = t.config_id AND l.status IN ('completed', 'expired')
            ORDER BY COALESCE(l.end_time, l.start_time) DESC LIMIT 1)
    WHERE t.config_id = ANY (ids);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER backup_logs_totals_insert AFTER INSERT ON backup_logs
    REFERENCING NEW TABLE AS new_runs FOR EACH STATEMENT EXECUTE FUNCTION backup_logs_totals();
-- Updates, one row at a time (transition tables cannot be had with a column list),
-- only when a counted column changed: a progress report costs nothing more.
CREATE TRIGGER backup_logs_totals_update AFTER UPDATE OF user_id, start_time, status, destination_id, config_id,
    agent_id, archive_size, manifest_size, catalog_size, duration ON backup_logs FOR EACH ROW
    WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id OR OLD.start_time IS DISTINCT FROM NEW.start_time
        OR OLD.status IS DISTINCT FROM NEW.status OR OLD.destination_id IS DISTINCT FROM NEW.destination_id
        OR OLD.config_id IS DISTINCT FROM NEW.config_id OR OLD.agent_id IS DISTINCT FROM NEW.agent_id
        OR OLD.archive_size IS DISTINCT FROM NEW.archive_size OR OLD.manifest_size IS DISTINCT FROM NEW.manifest_size OR OLD.catalog_size IS DISTINCT FROM NEW.catalog_size
        OR OLD.duration IS DISTINCT FROM NEW.duration)
    EXECUTE FUNCTION backup_logs_totals_row();
CREATE TRIGGER backup_logs_totals_delete AFTER DELETE ON backup_logs
    REFERENCING OLD TABLE AS old_runs FOR EACH STATEMENT EXECUTE FUNCTION backup_logs_totals();

CREATE TRIGGER backup_logs_config_state_insert AFTER INSERT ON backup_logs
    REFERENCING NEW TABLE AS new_runs FOR EACH STATEMENT EXECUTE FUNCTION backup_logs_config_state();
CREATE TRIGGER backup_logs_config_state_update AFTER UPDATE OF config_id, start_time, end_time, status ON backup_logs
    FOR EACH ROW WHEN (OLD.config_id IS DISTINCT FROM NEW.config_id OR OLD.start_time IS DISTINCT FROM NEW.start_time
        OR OLD.end_time IS DISTINCT FROM NEW.end_time OR OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION backup_logs_config_state();
CREATE TRIGGER backup_logs_config_state_delete AFTER DELETE ON backup_logs
    REFERENCING OLD TABLE AS old_runs FOR EACH STATEMENT EXECUTE FUNCTION backup_logs_config_state();

-- The runs stored before this migration.
INSERT INTO run_days (user_id, day, status, runs, stored, duration_ms, timed)
SELECT user_id, to_char(start_time AT TIME ZONE 'UTC', 'YYYY-MM-DD'), status, COUNT(*),
    SUM(archive_size + manifest_size + catalog_size), COALESCE(SUM(duration), 0), COUNT(duration)
FROM backup_logs GROUP BY 1, 2, 3;
INSERT INTO storage_totals (user_id, destination_id, config_id, agent_id, bytes, objects, runs)
SELECT user_id, COALESCE(destination_id, ''), config_id::text, COALESCE(agent_id::text, ''),
    SUM(archive_size + manifest_size + catalog_size), SUM((archive_size > 0)::int + (manifest_size > 0)::int + (catalog_size > 0)::int), COUNT(*)
FROM backup_logs WHERE status = 'completed' GROUP BY 1, 2, 3, 4;

INSERT INTO config_run_state (config_id, latest_status, last_success)
SELECT c.id,
    (SELECT l.status FROM backup_logs l WHERE l.config_id = c.id ORDER BY l.start_time DESC, l.id DESC LIMIT 1),
    (SELECT COALESCE(l.end_time, l.start_time) FROM backup_logs l WHERE l.config_id = c.id
        AND l.status IN ('completed', 'expired') ORDER BY COALESCE(l.end_time, l.start_time) DESC LIMIT 1)
FROM backup_configs c;

-- +goose Down
DROP TRIGGER backup_logs_config_state_delete ON backup_logs;
DROP TRIGGER backup_logs_config_state_update ON backup_logs;
DROP TRIGGER backup_logs_config_state_insert ON backup_logs;
DROP FUNCTION backup_logs_config_state();
DROP TRIGGER backup_logs_totals_delete ON backup_logs;
DROP TRIGGER backup_logs_totals_update ON backup_logs;
DROP TRIGGER backup_logs_totals_insert ON backup_logs;
DROP FUNCTION backup_logs_totals_row();
DROP FUNCTION backup_logs_totals();
DROP INDEX idx_backup_logs_status_start;
DROP INDEX idx_backup_logs_user_status_start;
DROP INDEX idx_backup_logs_config_success;
DROP TABLE config_run_state;
DROP TABLE storage_totals;
DROP TABLE run_days;
