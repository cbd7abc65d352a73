package sqlstore

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
	if !s.validID(userID) {
		return store.Agent{}, notFound(op)
	}
	for attempt := 0; attempt < 2; attempt++ {
		var id string
		err := s.writeRow(ctx, `SELECT id FROM agents WHERE user_id = ? AND builtin`, userID).Scan(&id)
		switch err = mapErr(op, err); {
		case err == nil:
			if err := s.execOne(ctx, op, `UPDATE agents SET api_key_hash = ?, key_prefix = ?, revoked = false, updated_at = ? WHERE id = ?`,
				keyHash, keyPrefix, s.t(now), id); err != nil {
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
		_, err = s.exec(ctx, `INSERT INTO agents (id, user_id, name, api_key_hash, key_prefix, revoked,
			status, builtin, created_at, updated_at) VALUES (?, ?, ?, ?, ?, false, ?, true, ?, ?)`,
			id, userID, name, keyHash, keyPrefix, store.AgentOffline, s.t(now), s.t(now))
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
	return queryAll(ctx, s, "list built-in agents", `SELECT id, user_id FROM agents WHERE builtin ORDER BY id`,
		func(row scanner, b *store.BuiltinAgent) error { return row.Scan(&b.ID, &b.UserID) })
}

// ClaimServerRuns assigns unassigned queued server-mode runs to their owners' built-in
// agents in one statement, and returns those agents.
func (s *Store) ClaimServerRuns(ctx context.Context) ([]string, error) {
	rows, err := s.writeQuery(ctx, `UPDATE backup_logs
		SET agent_id = (SELECT a.id FROM agents a WHERE a.user_id = backup_logs.user_id AND a.builtin)
		WHERE status = 'queued' AND agent_id IS NULL
		  AND config_id IN (SELECT c.id FROM backup_configs c WHERE c.execution_mode = 'server')
		  AND EXISTS (SELECT 1 FROM agents a WHERE a.user_id = backup_logs.user_id AND a.builtin)
		RETURNING agent_id`)
	return scanIDs("claim server-mode runs", rows, err)
}

// UnclaimedServerRunOwners lists owners of queued server-mode runs without a built-in
// agent to take them.
func (s *Store) UnclaimedServerRunOwners(ctx context.Context) ([]string, error) {
	rows, err := s.query(ctx, `SELECT DISTINCT l.user_id FROM backup_logs l
		JOIN backup_configs c ON c.id = l.config_id AND c.execution_mode = 'server'
		WHERE l.status = 'queued' AND l.agent_id IS NULL
		  AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.user_id = l.user_id AND a.builtin)`)
	return scanIDs("list owners of unclaimed server-mode runs", rows, err)
}
