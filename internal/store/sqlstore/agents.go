package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/backapp/backapp/internal/store"
)

const agentColumns = `id, user_id, name, api_key_hash, key_prefix, revoked, last_seen, status,
	COALESCE(platform, ''), COALESCE(arch, ''), COALESCE(version, ''), COALESCE(hostname, ''),
	enrolled_at, created_at, updated_at, builtin`

func scanAgent(row scanner, a *store.Agent) error {
	return row.Scan(&a.ID, &a.UserID, &a.Name, &a.KeyHash, &a.KeyPrefix, &a.Revoked,
		nullTimeCol{&a.LastSeen}, &a.Status, &a.Platform, &a.Arch, &a.Version, &a.Hostname,
		nullTimeCol{&a.EnrolledAt}, timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt}, &a.Builtin)
}

// CreateAgent inserts a. An empty ID gets a new UUID v7, an empty Status offline. On
// success a holds what was stored.
func (s *Store) CreateAgent(ctx context.Context, a *store.Agent) error {
	v := *a
	op := "create agent " + v.Name
	if err := newID(op, &v.ID); err != nil {
		return err
	}
	if !s.validID(v.ID) || !s.validID(v.UserID) {
		return fmt.Errorf("%s: invalid id %q or user id %q", op, v.ID, v.UserID)
	}
	if v.Status == "" {
		v.Status = store.AgentOffline
	}
	v.CreatedAt, v.UpdatedAt = norm(v.CreatedAt), norm(v.UpdatedAt)
	v.LastSeen, v.EnrolledAt = normPtr(v.LastSeen), normPtr(v.EnrolledAt)
	_, err := s.exec(ctx, `INSERT INTO agents (id, user_id, name, api_key_hash, key_prefix, revoked,
		last_seen, status, platform, arch, version, hostname, enrolled_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.UserID, v.Name, v.KeyHash, v.KeyPrefix, v.Revoked, s.tp(v.LastSeen), v.Status,
		nullStr(v.Platform), nullStr(v.Arch), nullStr(v.Version), nullStr(v.Hostname),
		s.tp(v.EnrolledAt), s.t(v.CreatedAt), s.t(v.UpdatedAt))
	if err != nil {
		return mapErr(op, err)
	}
	*a = v
	return nil
}

// GetAgent returns the agent with the given id.
func (s *Store) GetAgent(ctx context.Context, id string) (store.Agent, error) {
	if !s.validID(id) {
		return store.Agent{}, notFound("get agent " + id)
	}
	var a store.Agent
	row := s.queryRow(ctx, `SELECT `+agentColumns+` FROM agents WHERE id = ?`, id)
	if err := scanAgent(row, &a); err != nil {
		return store.Agent{}, mapErr("get agent "+id, err)
	}
	return a, nil
}

// GetAgentByKeyHash finds the agent whose key hashes to keyHash, revoked or not.
func (s *Store) GetAgentByKeyHash(ctx context.Context, keyHash string) (store.Agent, error) {
	var a store.Agent
	row := s.queryRow(ctx, `SELECT `+agentColumns+` FROM agents WHERE api_key_hash = ?`, keyHash)
	if err := scanAgent(row, &a); err != nil {
		return store.Agent{}, mapErr("get agent by key", err)
	}
	return a, nil
}

// ListAgents lists a user's agents (every agent for ""), oldest first.
func (s *Store) ListAgents(ctx context.Context, userID string) ([]store.Agent, error) {
	q := `SELECT ` + agentColumns + ` FROM agents`
	var args []any
	if userID != "" {
		if !s.validID(userID) {
			return nil, nil
		}
		q += ` WHERE user_id = ?`
		args = append(args, userID)
	}
	return queryAll(ctx, s, "list agents", q+` ORDER BY created_at, id`, scanAgent, args...)
}

// RenameAgent sets the agent's name.
func (s *Store) RenameAgent(ctx context.Context, id, name string, now time.Time) error {
	return s.execID(ctx, "rename agent "+id, id,
		`UPDATE agents SET name = ?, updated_at = ? WHERE id = ?`, name, s.t(now))
}

// SetAgentKey replaces the agent's key hash and prefix; ErrConflict if the hash is taken.
func (s *Store) SetAgentKey(ctx context.Context, id, keyHash, keyPrefix string, now time.Time) error {
	return s.execID(ctx, "set key of agent "+id, id,
		`UPDATE agents SET api_key_hash = ?, key_prefix = ?, updated_at = ? WHERE id = ?`,
		keyHash, keyPrefix, s.t(now))
}

// RevokeAgent marks the agent revoked: its key is refused from now on.
func (s *Store) RevokeAgent(ctx context.Context, id string, now time.Time) error {
	return s.execID(ctx, "revoke agent "+id, id,
		`UPDATE agents SET revoked = true, updated_at = ? WHERE id = ?`, s.t(now))
}

// DeleteAgent deletes the agent and its logs; its configs and runs stay, without agent.
func (s *Store) DeleteAgent(ctx context.Context, id string) error {
	return s.execID(ctx, "delete agent "+id, id, `DELETE FROM agents WHERE id = ?`)
}

// RecordHeartbeat sets last_seen and status online, and the host facts that are not empty.
func (s *Store) RecordHeartbeat(ctx context.Context, id string, hb store.AgentHeartbeat) error {
	return s.execID(ctx, "record heartbeat of agent "+id, id,
		`UPDATE agents SET last_seen = ?, status = COALESCE(NULLIF(?, ''), 'online'),
			platform = COALESCE(NULLIF(?, ''), platform), arch = COALESCE(NULLIF(?, ''), arch),
			version = COALESCE(NULLIF(?, ''), version), hostname = COALESCE(NULLIF(?, ''), hostname)
		WHERE id = ?`,
		s.t(hb.Time), hb.Status, hb.Platform, hb.Arch, hb.Version, hb.Hostname)
}

// MarkAgentEnrolled records the first registration; later ones keep the first time.
func (s *Store) MarkAgentEnrolled(ctx context.Context, id string, at time.Time) error {
	return s.execID(ctx, "mark agent enrolled "+id, id,
		`UPDATE agents SET enrolled_at = COALESCE(enrolled_at, ?) WHERE id = ?`, s.t(at))
}
