-- The seed's tables (users, agents, agent_logs, backup_configs, backup_logs, alerts)
-- plus what accounts need (sessions, password_resets, audit_log, settings).
-- IDs are UUID v7 chosen by the application; every timestamp is timestamptz (UTC).

-- +goose Up
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    -- Stored lower-cased by the application, so UNIQUE is case-insensitive.
    email         text NOT NULL UNIQUE,
    name          text NOT NULL,
    password_hash text NOT NULL,
    role          text NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user')),
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agents (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    -- SHA-256 of the agent's 256-bit key, looked up on every request.
    api_key_hash text NOT NULL,
    last_seen    timestamptz,
    status       text NOT NULL DEFAULT 'offline',
    platform     text,
    version      text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_agents_user_id ON agents (user_id);
CREATE INDEX idx_agents_status ON agents (status);
CREATE UNIQUE INDEX idx_agents_api_key_hash ON agents (api_key_hash);

CREATE TABLE agent_logs (
    id        uuid PRIMARY KEY,
    agent_id  uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    level     text NOT NULL,
    message   text NOT NULL,
    metadata  jsonb,
    timestamp timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_agent_logs_agent_id ON agent_logs (agent_id);
CREATE INDEX idx_agent_logs_timestamp ON agent_logs (timestamp);

CREATE TABLE backup_configs (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name           text NOT NULL,
    enabled        boolean NOT NULL DEFAULT true,
    execution_mode text NOT NULL DEFAULT 'server' CHECK (execution_mode IN ('agent', 'server')),
    agent_id       uuid REFERENCES agents (id) ON DELETE SET NULL,
    sources        jsonb NOT NULL,
    destination    jsonb NOT NULL,
    schedule       jsonb,
    options        jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_backup_configs_user_id ON backup_configs (user_id);
CREATE INDEX idx_backup_configs_agent_id ON backup_configs (agent_id);

CREATE TABLE backup_logs (
    id                uuid PRIMARY KEY,
    config_id         uuid NOT NULL REFERENCES backup_configs (id) ON DELETE CASCADE,
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    start_time        timestamptz NOT NULL,
    end_time          timestamptz,
    status            text NOT NULL,
    -- Full object key of the archive.
    s3_path           text,
    files_processed   bigint NOT NULL DEFAULT 0,
    files_skipped     bigint NOT NULL DEFAULT 0,
    total_bytes       bigint NOT NULL DEFAULT 0,
    bytes_transferred bigint NOT NULL DEFAULT 0,
    errors            jsonb,
    -- Milliseconds, as in the seed's BackupLog.duration.
    duration          bigint,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_backup_logs_config_id ON backup_logs (config_id);
CREATE INDEX idx_backup_logs_user_id ON backup_logs (user_id);
CREATE INDEX idx_backup_logs_start_time ON backup_logs (start_time);

CREATE TABLE alerts (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    config_id    uuid REFERENCES backup_configs (id) ON DELETE CASCADE,
    type         text NOT NULL,
    message      text NOT NULL,
    acknowledged boolean NOT NULL DEFAULT false,
    timestamp    timestamptz NOT NULL DEFAULT now()
);
-- Not in the seed: they keep cascading deletes and per-user lists from scanning.
CREATE INDEX idx_alerts_user_id ON alerts (user_id);
CREATE INDEX idx_alerts_config_id ON alerts (config_id);

CREATE TABLE sessions (
    -- SHA-256 of the cookie's token; the token itself is never stored.
    token_hash   text PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    ip           text NOT NULL DEFAULT '',
    user_agent   text NOT NULL DEFAULT ''
);
CREATE INDEX idx_sessions_user_id ON sessions (user_id);
CREATE INDEX idx_sessions_expires_at ON sessions (expires_at);

CREATE TABLE password_resets (
    token_hash text PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX idx_password_resets_user_id ON password_resets (user_id);

-- No foreign key on actor_id: the trail must outlive the accounts it mentions.
CREATE TABLE audit_log (
    id       uuid PRIMARY KEY,
    time     timestamptz NOT NULL,
    actor_id uuid,
    action   text NOT NULL,
    target   text NOT NULL DEFAULT '',
    ip       text NOT NULL DEFAULT '',
    detail   text NOT NULL DEFAULT ''
);
CREATE INDEX idx_audit_log_time ON audit_log (time);
CREATE INDEX idx_audit_log_actor_id ON audit_log (actor_id);

CREATE TABLE settings (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE settings;
DROP TABLE audit_log;
DROP TABLE password_resets;
DROP TABLE sessions;
DROP TABLE alerts;
DROP TABLE backup_logs;
DROP TABLE backup_configs;
DROP TABLE agent_logs;
DROP TABLE agents;
DROP TABLE users;
