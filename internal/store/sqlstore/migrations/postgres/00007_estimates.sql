-- Backup size estimates (issue 5): the latest scan of a configuration's sources by
-- the agent that runs it, and restores reaped like runs when their agent goes silent.

-- +goose Up
-- The last time the agent listed a running restore in its heartbeat (or was handed
-- it). NULL for agents too old to list restores: those are never reaped.
ALTER TABLE restores ADD COLUMN reported_at timestamptz;
CREATE INDEX idx_restores_running_reported ON restores (reported_at) WHERE status = 'running';

-- One row per configuration: its latest estimate. Asking again replaces it.
CREATE TABLE config_estimates (
    id           uuid PRIMARY KEY,
    config_id    uuid NOT NULL UNIQUE REFERENCES backup_configs (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    agent_id     uuid REFERENCES agents (id) ON DELETE SET NULL,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'running', 'done', 'failed')),
    files        bigint NOT NULL DEFAULT 0,
    dirs         bigint NOT NULL DEFAULT 0,
    bytes        bigint NOT NULL DEFAULT 0,
    issues       bigint NOT NULL DEFAULT 0,
    -- The first issues: [{"path","message"}].
    samples      jsonb NOT NULL DEFAULT '[]',
    error        text NOT NULL DEFAULT '',
    requested_at timestamptz NOT NULL,
    started_at   timestamptz,
    finished_at  timestamptz,
    reported_at  timestamptz
);
-- Every heartbeat looks for its agent's pending estimates.
CREATE INDEX idx_config_estimates_agent_pending ON config_estimates (agent_id) WHERE status = 'pending';
CREATE INDEX idx_config_estimates_running_reported ON config_estimates (reported_at) WHERE status = 'running';

-- +goose Down
DROP TABLE config_estimates;
DROP INDEX idx_restores_running_reported;
ALTER TABLE restores DROP COLUMN reported_at;
