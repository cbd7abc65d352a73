-- What agents and agent-run backups need beyond the seed's columns (issue 4).
-- Conventions as in 00001 (TEXT times in fixed-width UTC, INTEGER 0/1 booleans).

-- +goose Up
-- Identifying prefix of the current key ("bak_3f9a…"), shown in lists; never the key.
ALTER TABLE agents ADD COLUMN key_prefix TEXT NOT NULL DEFAULT '';
-- A revoked agent's key is refused; the row stays so its runs keep their history.
ALTER TABLE agents ADD COLUMN revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1));
ALTER TABLE agents ADD COLUMN arch TEXT;
ALTER TABLE agents ADD COLUMN hostname TEXT;
-- First /api/agent/register.
ALTER TABLE agents ADD COLUMN enrolled_at TEXT;

-- The agent that executes the run (NULL in server mode, or once the agent is deleted).
ALTER TABLE backup_logs ADD COLUMN agent_id TEXT REFERENCES agents (id) ON DELETE SET NULL;
-- Set when a user cancels a running run; the agent learns it from its next report.
ALTER TABLE backup_logs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1));
ALTER TABLE backup_logs ADD COLUMN full_backup INTEGER NOT NULL DEFAULT 0 CHECK (full_backup IN (0, 1));
-- The run an incremental builds on. No foreign key: retention decides what may go.
ALTER TABLE backup_logs ADD COLUMN previous_run_id TEXT;
-- NULL: the built-in local destination.
ALTER TABLE backup_logs ADD COLUMN destination_id TEXT;
ALTER TABLE backup_logs ADD COLUMN manifest_key TEXT;
-- Open multipart uploads while the run is running, so a reaper can abort them.
ALTER TABLE backup_logs ADD COLUMN archive_upload_id TEXT;
ALTER TABLE backup_logs ADD COLUMN manifest_upload_id TEXT;
ALTER TABLE backup_logs ADD COLUMN archive_sha256 TEXT;
ALTER TABLE backup_logs ADD COLUMN archive_size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE backup_logs ADD COLUMN manifest_sha256 TEXT;
ALTER TABLE backup_logs ADD COLUMN manifest_size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE backup_logs ADD COLUMN encrypted INTEGER NOT NULL DEFAULT 0 CHECK (encrypted IN (0, 1));
-- Last progress report; a running run silent for too long is failed by the reaper.
ALTER TABLE backup_logs ADD COLUMN progress_at TEXT;

-- One config never has two runs at once, even across server replicas.
CREATE UNIQUE INDEX idx_backup_logs_one_active ON backup_logs (config_id) WHERE status IN ('queued', 'running');
-- Heartbeats look up an agent's queued and running runs.
CREATE INDEX idx_backup_logs_agent_active ON backup_logs (agent_id) WHERE status IN ('queued', 'running');
CREATE INDEX idx_backup_logs_agent_id ON backup_logs (agent_id);

-- +goose Down
DROP INDEX idx_backup_logs_agent_id;
DROP INDEX idx_backup_logs_agent_active;
DROP INDEX idx_backup_logs_one_active;
ALTER TABLE backup_logs DROP COLUMN progress_at;
ALTER TABLE backup_logs DROP COLUMN encrypted;
ALTER TABLE backup_logs DROP COLUMN manifest_size;
ALTER TABLE backup_logs DROP COLUMN manifest_sha256;
ALTER TABLE backup_logs DROP COLUMN archive_size;
ALTER TABLE backup_logs DROP COLUMN archive_sha256;
ALTER TABLE backup_logs DROP COLUMN manifest_upload_id;
ALTER TABLE backup_logs DROP COLUMN archive_upload_id;
ALTER TABLE backup_logs DROP COLUMN manifest_key;
ALTER TABLE backup_logs DROP COLUMN destination_id;
ALTER TABLE backup_logs DROP COLUMN previous_run_id;
ALTER TABLE backup_logs DROP COLUMN full_backup;
ALTER TABLE backup_logs DROP COLUMN cancel_requested;
ALTER TABLE backup_logs DROP COLUMN agent_id;
ALTER TABLE agents DROP COLUMN enrolled_at;
ALTER TABLE agents DROP COLUMN hostname;
ALTER TABLE agents DROP COLUMN arch;
ALTER TABLE agents DROP COLUMN revoked;
ALTER TABLE agents DROP COLUMN key_prefix;
