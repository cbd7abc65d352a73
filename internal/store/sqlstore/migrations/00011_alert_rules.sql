-- Alert rules (issue 15): one open alert per rule and subject, whose count and last
-- occurrence grow instead of a storm of duplicates, resolved when its cause is gone.
-- rule names the rule (run_failed, run_warning, late, no_backup, agent_offline, …),
-- subject what it is about (a config's or an agent's id), ref the occurrence last
-- counted (a run id, a due time), so raising twice for the same occurrence counts once
-- on every replica. type stays the seed's failure | warning | info.

-- +goose Up
ALTER TABLE alerts ADD COLUMN rule {{text}} NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN subject {{text}} NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN agent_id {{uuid}} REFERENCES agents (id) ON DELETE SET NULL;
ALTER TABLE alerts ADD COLUMN ref {{text}} NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN occurrences {{int}} NOT NULL DEFAULT 1;
ALTER TABLE alerts ADD COLUMN last_at {{time}};
ALTER TABLE alerts ADD COLUMN acknowledged_at {{time}};
ALTER TABLE alerts ADD COLUMN resolved_at {{time}};
ALTER TABLE alerts ADD COLUMN resolution {{text}} NOT NULL DEFAULT '';

-- Late alerts from before: rule late about their config, the newest of each config
-- kept open, the older ones resolved (they would break the one-open-alert index).
UPDATE alerts SET rule = type, type = 'warning', subject = COALESCE(CAST(config_id AS TEXT), CAST(id AS TEXT)) WHERE type = 'late';
UPDATE alerts SET rule = type, subject = CAST(id AS TEXT) WHERE rule = '';
UPDATE alerts SET resolved_at = timestamp, resolution = 'superseded by a later late alert'
WHERE rule = 'late' AND EXISTS (SELECT 1 FROM alerts b WHERE b.rule = 'late' AND b.subject = alerts.subject
    AND (b.timestamp > alerts.timestamp OR (b.timestamp = alerts.timestamp AND CAST(b.id AS TEXT) > CAST(alerts.id AS TEXT))));

CREATE UNIQUE INDEX idx_alerts_open ON alerts (rule, subject) WHERE resolved_at IS NULL AND subject <> '';
CREATE INDEX idx_alerts_user_time ON alerts (user_id, timestamp);

-- +goose Down
DROP INDEX idx_alerts_user_time;
DROP INDEX idx_alerts_open;
ALTER TABLE alerts DROP COLUMN resolution;
ALTER TABLE alerts DROP COLUMN resolved_at;
ALTER TABLE alerts DROP COLUMN acknowledged_at;
ALTER TABLE alerts DROP COLUMN last_at;
ALTER TABLE alerts DROP COLUMN occurrences;
ALTER TABLE alerts DROP COLUMN ref;
ALTER TABLE alerts DROP COLUMN agent_id;
ALTER TABLE alerts DROP COLUMN subject;
ALTER TABLE alerts DROP COLUMN rule;
