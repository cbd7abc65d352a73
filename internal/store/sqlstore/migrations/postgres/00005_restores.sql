-- Restores started from the UI or API (issue 5): a run's files (all or a subset)
-- written by one of the user's agents into a directory on its machine.

-- +goose Up
CREATE TABLE restores (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    run_id           uuid NOT NULL REFERENCES backup_logs (id) ON DELETE CASCADE,
    -- The target agent; the history stays when it is deleted.
    agent_id         uuid REFERENCES agents (id) ON DELETE SET NULL,
    target_dir       text NOT NULL,
    -- Archive names; [] restores everything.
    paths            jsonb NOT NULL DEFAULT '[]',
    overwrite        boolean NOT NULL DEFAULT false,
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    cancel_requested boolean NOT NULL DEFAULT false,
    error            text NOT NULL DEFAULT '',
    files_written    bigint NOT NULL DEFAULT 0,
    bytes_written    bigint NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz
);
CREATE INDEX idx_restores_user_created ON restores (user_id, created_at);
-- Every heartbeat looks for its agent's pending restores.
CREATE INDEX idx_restores_agent_active ON restores (agent_id, created_at)
    WHERE status IN ('queued', 'running');
CREATE INDEX idx_restores_run_id ON restores (run_id);

-- +goose Down
DROP TABLE restores;
