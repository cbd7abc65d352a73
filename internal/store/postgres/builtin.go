package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// EnsureBuiltinAgent returns userID's built-in agent with the new key, creating it when
// missing; the partial unique index on (user_id) WHERE builtin makes racing replicas
// agree on one row.
func (s *Store) EnsureBuiltinAgent(ctx context.Context, userID, name, keyHash, keyPrefix string, now time.Time) (store.Agent, error) {
	op := "ensure built-in agent of user " + userID
	if !validID(userID) {
		return store.Agent{}, notFound(op)
	}
	for attempt := 0; attempt < 2; attempt++ {
		var id string
		err := s.pool.QueryRow(ctx, `SELECT id::text FROM agents WHERE user_id = $1 AND builtin`, userID).Scan(&id)
		switch err = mapErr(op, err); {
		case err == nil:
			if err := s.execOne(ctx, op, `UPDATE agents SET api_key_hash = $1, key_prefix = $2, revoked = false, updated_at = $3 WHERE id = $4`,
				keyHash, keyPrefix, norm(now), id); err != nil {
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
		_, err = s.pool.Exec(ctx, `INSERT INTO agents (id, user_id, name, api_key_hash, key_prefix, revoked,
			status, builtin, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, false, $6, true, $7, $7)`,
			id, userID, name, keyHash, keyPrefix, store.AgentOffline, norm(now))
		err = mapErr(op, err)
		if errors.Is(err, store.ErrConflict) {
			continue // created meanwhile by another replica: take it over
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
	rows, err := s.pool.Query(ctx, `SELECT id::text, user_id::text FROM agents WHERE builtin ORDER BY id`)
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

// UnclaimedServerRunOwners lists owners of queued server-mode runs without a built-in
// agent to take them.
func (s *Store) UnclaimedServerRunOwners(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT l.user_id::text FROM backup_logs l
		JOIN backup_configs c ON c.id = l.config_id AND c.execution_mode = 'server'
		WHERE l.status = 'queued' AND l.agent_id IS NULL
		  AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.user_id = l.user_id AND a.builtin)`)
	if err != nil {
		return nil, mapErr("list owners of unclaimed server-mode runs", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapErr("list owners of unclaimed server-mode runs", err)
		}
		ids = append(ids, id)
	}
	return ids, mapErr("list owners of unclaimed server-mode runs", rows.Err())
}

// ClaimServerRuns assigns unassigned queued server-mode runs to their owners' built-in
// agents in one statement.
func (s *Store) ClaimServerRuns(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `UPDATE backup_logs l SET agent_id = a.id
		FROM agents a, backup_configs c
		WHERE l.status = 'queued' AND l.agent_id IS NULL
		  AND c.id = l.config_id AND c.execution_mode = 'server'
		  AND a.user_id = l.user_id AND a.builtin
		RETURNING a.id::text`)
	if err != nil {
		return nil, mapErr("claim server-mode runs", err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapErr("claim server-mode runs", err)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, mapErr("claim server-mode runs", rows.Err())
}
