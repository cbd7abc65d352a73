-- The outbox is pruned (store.Notifications.PruneMessages): settled messages
-- (delivered, dead, dropped) finished more than the retention ago are deleted, their
-- attempts with them (ON DELETE CASCADE). The cascade looks attempts up by message:
-- without an index on message_id each deleted message scanned every attempt. The
-- prune finds the old settled messages by state and finished_at, which only settled
-- ones have (the due index, on state and next_attempt_at, would read every settled
-- message of the retention to find the few past it).

-- +goose Up
CREATE INDEX idx_notification_attempts_message ON notification_attempts (message_id);
CREATE INDEX idx_notification_outbox_finished ON notification_outbox (state, finished_at) WHERE finished_at IS NOT NULL;

-- +goose Down
DROP INDEX idx_notification_outbox_finished;
DROP INDEX idx_notification_attempts_message;
