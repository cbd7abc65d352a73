-- Storage used over time (issue 14): what each user's completed, unexpired runs held
-- per destination, configuration and agent, recorded each day (the last record of a
-- day wins), so the history is what was, not reconstructed from what is.
-- No foreign keys but the user's: the history outlives deleted configurations,
-- agents and destinations.

-- +goose Up
CREATE TABLE storage_usage_daily (
    day            {{text}} NOT NULL, -- YYYY-MM-DD, UTC
    user_id        {{uuid}} NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    destination_id {{text}} NOT NULL,
    config_id      {{text}} NOT NULL,
    agent_id       {{text}} NOT NULL,
    bytes          {{int}} NOT NULL,
    objects        {{int}} NOT NULL,
    PRIMARY KEY (day, user_id, destination_id, config_id, agent_id)
) {{strict}};
CREATE INDEX idx_storage_usage_daily_user_day ON storage_usage_daily (user_id, day);

-- +goose Down
DROP TABLE storage_usage_daily;
