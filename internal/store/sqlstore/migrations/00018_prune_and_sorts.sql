-- The outbox is pruned (store.Notifications.PruneMessages): settled messages
-- (delivered, dead, dropped) finished more than the retention ago are deleted, their
-- attempts with them (ON DELETE CASCADE). The cascade looks attempts up by message:
-- without an index on message_id each deleted message scanned every attempt. The
-- prune finds the old settled messages by state and finished_at, which only settled
-- ones have (the due index, on state and next_attempt_at, would read every settled
-- message of the retention to find the few past it).
--
-- The history sorted by size or duration (ListRunRecords, runOrder) read and
-- sorted every run the user sees: 69-250 ms at 100,000 runs. These indexes hold
-- those orders, so a page is a range read of the index. The duration is an
-- expression ({{run_duration}}: as reported, else end minus start), indexed as the
-- query writes it, on both databases; a stored column would need back-filling and
-- keeping up by every writer. Unfinished runs (NULL) sort last in both directions,
-- hence "IS NULL" first and one index per direction. The size index makes progress
-- reports, which set total_bytes, update the indexes (no HOT update on PostgreSQL):
-- a few writes a second per running backup. Indexes leading with user_id were left
-- out: a user's own runs are found by (user_id, ...) and sorted, or read from these
-- in order and filtered, whichever the planner finds cheaper.

-- +goose Up
CREATE INDEX idx_notification_attempts_message ON notification_attempts (message_id);
CREATE INDEX idx_notification_outbox_finished ON notification_outbox (state, finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX idx_backup_logs_size ON backup_logs (total_bytes, id);
CREATE INDEX idx_backup_logs_duration ON backup_logs (({{run_duration}} IS NULL), {{run_duration}}, id);
CREATE INDEX idx_backup_logs_duration_desc ON backup_logs (({{run_duration}} IS NULL), {{run_duration}} DESC, id DESC);

-- +goose Down
DROP INDEX idx_backup_logs_duration_desc;
DROP INDEX idx_backup_logs_duration;
DROP INDEX idx_backup_logs_size;
DROP INDEX idx_notification_outbox_finished;
DROP INDEX idx_notification_attempts_message;
