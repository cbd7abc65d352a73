package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// EnsureBuiltinAgent returns userID's built-in agent with the new key, creating it when
// missing; the partial unique index on (user_id) WHERE builtin makes racing callers
// agree on one row.
func (s *Store) EnsureBuiltinAgent(ctx context.Context, userID, name, keyHash, keyPrefix string, now time.Time) (store.Agent, error) {
	op := "ensure built-in agent of user " + userID
	for attempt := 0; attempt < 2; attempt++ {
		var id string
		err := s.w.QueryRowContext(ctx, `SELECT id FROM agents WHERE user_id = ? AND builtin = 1`, userID).Scan(&id)
		switch err = mapErr(op, err); {
		case err == nil:
			if err := s.execOne(ctx, op, `UPDATE agents SET api_key_hash = ?, key_prefix = ?, revoked = 0, updated_at = ? WHERE id = ?`,
				keyHash, keyPrefix, fmtTime(now), id); err != nil {
				return store.Agent{}, err
			}
			return s.GetAgent(ctx, id)
		case !errors.Is(err, store.ErrNotFound):
			return store.Agent{}, err
		}
		id, err = newUUID(op)
		if err != nil {
			return store.Agent{}, err
		}
		_, err = s.w.ExecContext(ctx, `INSERT INTO agents (id, user_id, name, api_key_hash, key_prefix, revoked,
			status, builtin, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, 1, ?, ?)`,
			id, userID, name, keyHash, keyPrefix, store.AgentOffline, fmtTime(now), fmtTime(now))
		err = mapErr(op, err)
		if errors.Is(err, store.ErrConflict) {
			continue // created meanwhile by another caller: take it over
		}
		if err != nil {
			return store.Agent{}, err
		}
		return s.GetAgent(ctx, id)
	}
	return store.Agent{}, fmt.Errorf("%s: %w", op, store.ErrConflict)
}

// BuiltinAgents lists every built-in agent.
func (s *Store) BuiltinAgents(ctx context.Context) ([]store.BuiltinAgent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, user_id FROM agents WHERE builtin = 1 ORDER BY id`)
	if err != nil {
		return nil, mapErr("list built-in agents", err)
	}
	defer rows.Close()
	var out []store.BuiltinAgent
	for rows.Next() {
		var b store.BuiltinAgent
		if err := rows.Scan(&b.ID, &b.UserID); err != nil {
			return nil, mapErr("list built-in agents", err)
		}
		out = append(out, b)
	}
	return out, mapErr("list built-in agents", rows.Err())
}

// ClaimServerRuns assigns unassigned queued server-mode runs to their owners' built-in
// agents in one statement.
func (s *Store) ClaimServerRuns(ctx context.Context) ([]string, error) {
	rows, err := s.w.QueryContext(ctx, `UPDATE backup_logs
		SET agent_id = (SELECT a.id FROM agents a WHERE a.user_id = backup_logs.user_id AND a.builtin = 1)
		WHERE status = 'queued' AND agent_id IS NULL
		  AND config_id IN (SELECT c.id FROM backup_configs c WHERE c.execution_mode = 'server')
		  AND EXISTS (SELECT 1 FROM agents a WHERE a.user_id = backup_logs.user_id AND a.builtin = 1)
		RETURNING agent_id`)
	if err != nil {
		return nil, mapErr("claim server-mode runs", err)
	}
	defer rows.Close()
	return scanIDs("list owners of unclaimed server-mode runs", rows)
}

// UnclaimedServerRunOwners lists owners of queued server-mode runs without a built-in
// agent to take them.
func (s *Store) UnclaimedServerRunOwners(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT l.user_id FROM backup_logs l
		JOIN backup_configs c ON c.id = l.config_id AND c.execution_mode = 'server'
		WHERE l.status = 'queued' AND l.agent_id IS NULL
		  AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.user_id = l.user_id AND a.builtin = 1)`)
	if err != nil {
		return nil, mapErr("list owners of unclaimed server-mode runs", err)
	}
	defer rows.Close()
	return scanIDs("claim server-mode runs", rows)
}

func scanIDs(op string, rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}) ([]string, error) {
	seen := map[string]bool{}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapErr(op, err)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, mapErr(op, rows.Err())
}
