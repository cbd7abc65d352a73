-- An agent's newest log lines (its page, and the backup logs page, which merges the
-- agents a user sees) are read newest first per agent. With separate indexes on
-- agent_id and timestamp SQLite sorted every line of the agent (2 s at 200,000 lines);
-- one index in the query's order makes it a range read. It covers agent_id's own index.

-- +goose Up
CREATE INDEX idx_agent_logs_agent_time ON agent_logs (agent_id, timestamp, id);
DROP INDEX idx_agent_logs_agent_id;

-- +goose Down
CREATE INDEX idx_agent_logs_agent_id ON agent_logs (agent_id);
DROP INDEX idx_agent_logs_agent_time;
