-- Restores started from the UI or API (issue 5): a run's files (all or a subset)
-- written by one of the user's agents into a directory on its machine.
-- Conventions as in 00001 (TEXT times in fixed-width UTC, INTEGER 0/1 booleans).

-- +goose Up
CREATE TABLE restores (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    run_id           TEXT NOT NULL REFERENCES backup_logs (id) ON DELETE CASCADE,
    -- The target agent; the history stays when it is deleted.
    agent_id         TEXT REFERENCES agents (id) ON DELETE SET NULL,
    target_dir       TEXT NOT NULL,
    -- JSON array of archive names; [] restores everything.
    paths            TEXT NOT NULL DEFAULT '[]',
    overwrite        INTEGER NOT NULL DEFAULT 0 CHECK (overwrite IN (0, 1)),
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    error            TEXT NOT NULL DEFAULT '',
    files_written    INTEGER NOT NULL DEFAULT 0,
    bytes_written    INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT
) STRICT;
CREATE INDEX idx_restores_user_created ON restores (user_id, created_at);
-- Every heartbeat looks for its agent's pending restores.
CREATE INDEX idx_restores_agent_active ON restores (agent_id, created_at)
    WHERE status IN ('queued', 'running');
CREATE INDEX idx_restores_run_id ON restores (run_id);

-- +goose Down
DROP TABLE restores;
