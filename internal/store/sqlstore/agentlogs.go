package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/backapp/backapp/internal/store"
)

// logBatch is how many log lines one INSERT writes: 6 values each stays far below
// both databases' limits on statement parameters.
const logBatch = 200

// AddAgentLogs inserts log lines in one transaction, a multi-row INSERT per batch.
// Empty IDs get UUID v7s.
func (s *Store) AddAgentLogs(ctx context.Context, logs []store.AgentLog) error {
	if len(logs) == 0 {
		return nil
	}
	op := fmt.Sprintf("add %d agent logs", len(logs))
	args := make([]any, 0, 6*min(len(logs), logBatch))
	tx, err := s.begin(ctx)
	if err != nil {
		return mapErr(op, err)
	}
	defer func() { _ = tx.Rollback() }()
	for i, l := range logs {
		if l.ID == "" {
			if l.ID, err = newUUID(op); err != nil {
				return err
			}
		}
		if !s.validID(l.ID) || !s.validID(l.AgentID) {
			return fmt.Errorf("%s: invalid id %q or agent id %q", op, l.ID, l.AgentID)
		}
		var meta any
		if len(l.Metadata) > 0 {
			b, err := json.Marshal(l.Metadata)
			if err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
			meta = string(b)
		}
		args = append(args, l.ID, l.AgentID, l.Level, l.Message, meta, s.t(l.Timestamp))
		if n := len(args) / 6; n == logBatch || i == len(logs)-1 {
			values := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?), ", n), ", ")
			if _, err := tx.exec(ctx, `INSERT INTO agent_logs (id, agent_id, level, message, metadata, timestamp)
				VALUES `+values, args...); err != nil {
				return mapErr(op, err)
			}
			args = args[:0]
		}
	}
	return mapErr(op, tx.Commit())
}

// ListAgentLogs lists an agent's log lines, newest first.
func (s *Store) ListAgentLogs(ctx context.Context, f store.AgentLogFilter) ([]store.AgentLog, error) {
	op := "list logs of agent " + f.AgentID
	if !s.validID(f.AgentID) {
		return nil, nil
	}
	q := `SELECT id, agent_id, level, message, metadata, timestamp FROM agent_logs WHERE agent_id = ?`
	args := []any{f.AgentID}
	if f.Level != "" {
		q += ` AND level = ?`
		args = append(args, f.Level)
	}
	if !f.Since.IsZero() {
		q += ` AND timestamp >= ?`
		args = append(args, s.t(f.Since))
	}
	if !f.Until.IsZero() {
		q += ` AND timestamp < ?`
		args = append(args, s.t(f.Until))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += ` ORDER BY timestamp DESC, id DESC LIMIT ?`
	args = append(args, limit)
	return queryAll(ctx, s, op, q, func(row scanner, l *store.AgentLog) error {
		var meta json.RawMessage
		if err := row.Scan(&l.ID, &l.AgentID, &l.Level, &l.Message, jsonCol{&meta}, timeCol{&l.Timestamp}); err != nil {
			return err
		}
		if len(meta) > 0 {
			if err := json.Unmarshal(meta, &l.Metadata); err != nil {
				return fmt.Errorf("metadata of %s: %w", l.ID, err)
			}
		}
		return nil
	}, args...)
}
