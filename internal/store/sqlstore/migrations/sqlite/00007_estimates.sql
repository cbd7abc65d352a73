-- Backup size estimates (issue 5): the latest scan of a configuration's sources by
-- the agent that runs it, and restores reaped like runs when their agent goes silent.
-- Conventions as in 00001 (TEXT times in fixed-width UTC, INTEGER 0/1 booleans).

-- +goose Up
-- The last time the agent listed a running restore in its heartbeat (or was handed
-- it). NULL for agents too old to list restores: those are never reaped.
ALTER TABLE restores ADD COLUMN reported_at TEXT;
CREATE INDEX idx_restores_running_reported ON restores (reported_at) WHERE status = 'running';

-- One row per configuration: its latest estimate. Asking again replaces it.
CREATE TABLE config_estimates (
    id           TEXT PRIMARY KEY,
    config_id    TEXT NOT NULL UNIQUE REFERENCES backup_configs (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    agent_id     TEXT REFERENCES agents (id) ON DELETE SET NULL,
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'running', 'done', 'failed')),
    files        INTEGER NOT NULL DEFAULT 0,
    dirs         INTEGER NOT NULL DEFAULT 0,
    bytes        INTEGER NOT NULL DEFAULT 0,
    issues       INTEGER NOT NULL DEFAULT 0,
    -- JSON array of {"path","message"}: the first issues.
    samples      TEXT NOT NULL DEFAULT '[]',
    error        TEXT NOT NULL DEFAULT '',
    requested_at TEXT NOT NULL,
    started_at   TEXT,
    finished_at  TEXT,
    reported_at  TEXT
) STRICT;
-- Every heartbeat looks for its agent's pending estimates.
CREATE INDEX idx_config_estimates_agent_pending ON config_estimates (agent_id) WHERE status = 'pending';
CREATE INDEX idx_config_estimates_running_reported ON config_estimates (reported_at) WHERE status = 'running';

-- +goose Down
DROP TABLE config_estimates;
DROP INDEX idx_restores_running_reported;
ALTER TABLE restores DROP COLUMN reported_at;
