-- What agents and agent-run backups need beyond the seed's columns (issue 4).

-- +goose Up
-- Identifying prefix of the current key ("bak_3f9a…"), shown in lists; never the key.
ALTER TABLE agents ADD COLUMN key_prefix text NOT NULL DEFAULT '';
-- A revoked agent's key is refused; the row stays so its runs keep their history.
ALTER TABLE agents ADD COLUMN revoked boolean NOT NULL DEFAULT false;
ALTER TABLE agents ADD COLUMN arch text;
ALTER TABLE agents ADD COLUMN hostname text;
-- First /api/agent/register.
ALTER TABLE agents ADD COLUMN enrolled_at timestamptz;

ALTER TABLE backup_logs
    -- The agent that executes the run (NULL in server mode, or once the agent is deleted).
    ADD COLUMN agent_id uuid REFERENCES agents (id) ON DELETE SET NULL,
    -- Set when a user cancels a running run; the agent learns it from its next report.
    ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false,
    ADD COLUMN full_backup boolean NOT NULL DEFAULT false,
    -- The run an incremental builds on. No foreign key: retention decides what may go.
    ADD COLUMN previous_run_id uuid,
    -- NULL: the built-in local destination.
    ADD COLUMN destination_id text,
    ADD COLUMN manifest_key text,
    -- Open multipart uploads while the run is running, so a reaper can abort them.
    ADD COLUMN archive_upload_id text,
    ADD COLUMN manifest_upload_id text,
    ADD COLUMN archive_sha256 text,
    ADD COLUMN archive_size bigint NOT NULL DEFAULT 0,
    ADD COLUMN manifest_sha256 text,
    ADD COLUMN manifest_size bigint NOT NULL DEFAULT 0,
    ADD COLUMN encrypted boolean NOT NULL DEFAULT false,
    -- Last progress report; a running run silent for too long is failed by the reaper.
    ADD COLUMN progress_at timestamptz;

-- One config never has two runs at once, even across server replicas.
CREATE UNIQUE INDEX idx_backup_logs_one_active ON backup_logs (config_id) WHERE status IN ('queued', 'running');
-- Heartbeats look up an agent's queued and running runs.
CREATE INDEX idx_backup_logs_agent_active ON backup_logs (agent_id) WHERE status IN ('queued', 'running');
CREATE INDEX idx_backup_logs_agent_id ON backup_logs (agent_id);

-- +goose Down
DROP INDEX idx_backup_logs_agent_id;
DROP INDEX idx_backup_logs_agent_active;
DROP INDEX idx_backup_logs_one_active;
ALTER TABLE backup_logs
    DROP COLUMN progress_at,
    DROP COLUMN encrypted,
    DROP COLUMN manifest_size,
    DROP COLUMN manifest_sha256,
    DROP COLUMN archive_size,
    DROP COLUMN archive_sha256,
    DROP COLUMN manifest_upload_id,
    DROP COLUMN archive_upload_id,
    DROP COLUMN manifest_key,
    DROP COLUMN destination_id,
    DROP COLUMN previous_run_id,
    DROP COLUMN full_backup,
    DROP COLUMN cancel_requested,
    DROP COLUMN agent_id;
ALTER TABLE agents
    DROP COLUMN enrolled_at,
    DROP COLUMN hostname,
    DROP COLUMN arch,
    DROP COLUMN revoked,
    DROP COLUMN key_prefix;
