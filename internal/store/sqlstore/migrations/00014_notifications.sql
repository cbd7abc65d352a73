-- Notifications (issue 15): each user's channels (e-mail or a webhook with a preset
-- body), the durable outbox written in the same transaction as the alert that causes
-- a message, and every delivery attempt.
-- A channel's events and config_ids are comma-separated lists (",failure,late,"; ""
-- for config_ids means every configuration). An outbox row outlives its channel
-- (channel_id set NULL, state dropped with the reason) so a deleted channel's
-- messages are accounted for, never sent. dedupe makes enqueueing the same thing for
-- the same channel twice (two replicas, a retried summary) a no-op.

-- +goose Up
CREATE TABLE notification_channels (
    id         {{uuid}} PRIMARY KEY,
    user_id    {{uuid}} NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       {{text}} NOT NULL,
    kind       {{text}} NOT NULL,            -- email | webhook
    preset     {{text}} NOT NULL DEFAULT '', -- generic | slack | discord | teams | ntfy | gotify
    target     {{text}} NOT NULL,            -- an e-mail address or a URL
    secret     {{text}} NOT NULL DEFAULT '', -- HMAC-SHA256 key of generic webhooks
    events     {{text}} NOT NULL DEFAULT '',
    config_ids {{text}} NOT NULL DEFAULT '',
    enabled    {{bool}} NOT NULL DEFAULT true,
    created_at {{time}} NOT NULL,
    updated_at {{time}} NOT NULL
) {{strict}};
CREATE INDEX idx_notification_channels_user ON notification_channels (user_id);

CREATE TABLE notification_outbox (
    id              {{uuid}} PRIMARY KEY,
    channel_id      {{uuid}} REFERENCES notification_channels (id) ON DELETE SET NULL,
    user_id         {{uuid}} NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    alert_id        {{uuid}} REFERENCES alerts (id) ON DELETE SET NULL,
    event           {{text}} NOT NULL,
    dedupe          {{text}} NOT NULL,
    payload         {{text}} NOT NULL,            -- the generic JSON document, version 1
    state           {{text}} NOT NULL,            -- queued | sending | delivered | failed | dead | dropped
    attempts        {{int}} NOT NULL DEFAULT 0,
    next_attempt_at {{time}} NOT NULL,
    locked_by       {{text}} NOT NULL DEFAULT '',
    locked_until    {{time}},
    last_error      {{text}} NOT NULL DEFAULT '',
    created_at      {{time}} NOT NULL,
    finished_at     {{time}},
    UNIQUE (channel_id, dedupe)
) {{strict}};
CREATE INDEX idx_notification_outbox_due ON notification_outbox (state, next_attempt_at);

CREATE TABLE notification_attempts (
    id          {{uuid}} PRIMARY KEY,
    message_id  {{uuid}} REFERENCES notification_outbox (id) ON DELETE CASCADE, -- NULL: a test
    channel_id  {{uuid}} NOT NULL REFERENCES notification_channels (id) ON DELETE CASCADE,
    event       {{text}} NOT NULL,
    at          {{time}} NOT NULL,
    status      {{int}} NOT NULL DEFAULT 0, -- the HTTP status; 0: none (an error, or e-mail)
    error       {{text}} NOT NULL DEFAULT '',
    response    {{text}} NOT NULL DEFAULT '', -- the start of the remote's answer
    duration_ms {{int}} NOT NULL
) {{strict}};
CREATE INDEX idx_notification_attempts_channel ON notification_attempts (channel_id, at);

-- +goose Down
DROP TABLE notification_attempts;
DROP TABLE notification_outbox;
DROP TABLE notification_channels;
