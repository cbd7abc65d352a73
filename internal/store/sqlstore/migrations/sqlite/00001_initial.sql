-- The seed's tables (users, agents, agent_logs, backup_configs, backup_logs, alerts)
-- plus what accounts need (sessions, password_resets, audit_log, settings).
--
-- Conventions for SQLite (STRICT tables):
--   ids         TEXT, UUID v7 in canonical lower-case form, chosen by the application
--   timestamps  TEXT, UTC, fixed width "2006-01-02T15:04:05.000000Z" (microseconds),
--               so they sort and compare as text; the defaults below produce the same
--               shape (at millisecond resolution)
--   booleans    INTEGER 0/1
--   JSON        TEXT checked with json_valid (JSONB in PostgreSQL)

-- +goose Up
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    -- Stored lower-cased by the application, so UNIQUE is case-insensitive.
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user')),
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
) STRICT;

CREATE TABLE agents (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    -- SHA-256 of the agent's 256-bit key, looked up on every request.
    api_key_hash TEXT NOT NULL,
    last_seen    TEXT,
    status       TEXT NOT NULL DEFAULT 'offline',
    platform     TEXT,
    version      TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
) STRICT;
CREATE INDEX idx_agents_user_id ON agents (user_id);
CREATE INDEX idx_agents_status ON agents (status);
CREATE UNIQUE INDEX idx_agents_api_key_hash ON agents (api_key_hash);

CREATE TABLE agent_logs (
    id        TEXT PRIMARY KEY,
    agent_id  TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    level     TEXT NOT NULL,
    message   TEXT NOT NULL,
    metadata  TEXT CHECK (json_valid(metadata)),
    timestamp TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
) STRICT;
CREATE INDEX idx_agent_logs_agent_id ON agent_logs (agent_id);
CREATE INDEX idx_agent_logs_timestamp ON agent_logs (timestamp);

CREATE TABLE backup_configs (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    enabled        INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    execution_mode TEXT NOT NULL DEFAULT 'server' CHECK (execution_mode IN ('agent', 'server')),
    agent_id       TEXT REFERENCES agents (id) ON DELETE SET NULL,
    sources        TEXT NOT NULL CHECK (json_valid(sources)),
    destination    TEXT NOT NULL CHECK (json_valid(destination)),
    schedule       TEXT CHECK (json_valid(schedule)),
    options        TEXT NOT NULL CHECK (json_valid(options)),
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
) STRICT;
CREATE INDEX idx_backup_configs_user_id ON backup_configs (user_id);
CREATE INDEX idx_backup_configs_agent_id ON backup_configs (agent_id);

CREATE TABLE backup_logs (
    id                TEXT PRIMARY KEY,
    config_id         TEXT NOT NULL REFERENCES backup_configs (id) ON DELETE CASCADE,
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    start_time        TEXT NOT NULL,
    end_time          TEXT,
    status            TEXT NOT NULL,
    -- Full object key of the archive.
    s3_path           TEXT,
    files_processed   INTEGER NOT NULL DEFAULT 0,
    files_skipped     INTEGER NOT NULL DEFAULT 0,
    total_bytes       INTEGER NOT NULL DEFAULT 0,
    bytes_transferred INTEGER NOT NULL DEFAULT 0,
    errors            TEXT CHECK (json_valid(errors)),
    -- Milliseconds, as in the seed's BackupLog.duration.
    duration          INTEGER,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
) STRICT;
CREATE INDEX idx_backup_logs_config_id ON backup_logs (config_id);
CREATE INDEX idx_backup_logs_user_id ON backup_logs (user_id);
CREATE INDEX idx_backup_logs_start_time ON backup_logs (start_time);

CREATE TABLE alerts (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    config_id    TEXT REFERENCES backup_configs (id) ON DELETE CASCADE,
    type         TEXT NOT NULL,
    message      TEXT NOT NULL,
    acknowledged INTEGER NOT NULL DEFAULT 0 CHECK (acknowledged IN (0, 1)),
    timestamp    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
) STRICT;
-- Not in the seed: they keep cascading deletes and per-user lists from scanning.
CREATE INDEX idx_alerts_user_id ON alerts (user_id);
CREATE INDEX idx_alerts_config_id ON alerts (config_id);

CREATE TABLE sessions (
    -- SHA-256 of the cookie's token; the token itself is never stored.
    token_hash   TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX idx_sessions_user_id ON sessions (user_id);
CREATE INDEX idx_sessions_expires_at ON sessions (expires_at);

CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
) STRICT;
CREATE INDEX idx_password_resets_user_id ON password_resets (user_id);

-- No foreign key on actor_id: the trail must outlive the accounts it mentions.
CREATE TABLE audit_log (
    id       TEXT PRIMARY KEY,
    time     TEXT NOT NULL,
    actor_id TEXT,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL DEFAULT '',
    ip       TEXT NOT NULL DEFAULT '',
    detail   TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX idx_audit_log_time ON audit_log (time);
CREATE INDEX idx_audit_log_actor_id ON audit_log (actor_id);

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
) STRICT;

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
