-- Built-in agents: the server itself, running server-mode configurations in-process
-- (internal/builtin). One per owner; users never see, rotate or delete them.

-- +goose Up
ALTER TABLE agents ADD COLUMN builtin boolean NOT NULL DEFAULT false;
CREATE UNIQUE INDEX idx_agents_builtin_user ON agents (user_id) WHERE builtin;
-- Queued server-mode runs wait here, without an agent, until the built-in agent of
-- their owner is given them (ClaimServerRuns, every few seconds).
CREATE INDEX idx_backup_logs_unassigned ON backup_logs (user_id) WHERE status = 'queued' AND agent_id IS NULL;

-- +goose Down
DROP INDEX idx_backup_logs_unassigned;
DROP INDEX idx_agents_builtin_user;
ALTER TABLE agents DROP COLUMN builtin;
