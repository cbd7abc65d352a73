-- The newest run of each configuration and of each agent (issue 13): the
-- configuration and agent pages show it, and with these indexes it is one index probe
-- per configuration or agent however long the history is. They cover the
-- single-column indexes they replace.

-- +goose Up
CREATE INDEX idx_backup_logs_config_start ON backup_logs (config_id, start_time, id);
CREATE INDEX idx_backup_logs_agent_start ON backup_logs (agent_id, start_time, id);
DROP INDEX idx_backup_logs_config_id;
DROP INDEX idx_backup_logs_agent_id;

-- +goose Down
CREATE INDEX idx_backup_logs_agent_id ON backup_logs (agent_id);
CREATE INDEX idx_backup_logs_config_id ON backup_logs (config_id);
DROP INDEX idx_backup_logs_agent_start;
DROP INDEX idx_backup_logs_config_start;
