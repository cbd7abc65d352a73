package sqlstore

import (
	"context"
	"fmt"

	"github.com/backapp/backapp/internal/store"
)

const configColumns = `id, user_id, name, enabled, execution_mode, COALESCE(CAST(agent_id AS TEXT), ''),
	sources, destination, schedule, options, created_at, updated_at`

func scanConfig(row scanner, c *store.BackupConfig) error {
	return row.Scan(&c.ID, &c.UserID, &c.Name, &c.Enabled, &c.ExecutionMode, &c.AgentID,
		jsonCol{&c.Sources}, jsonCol{&c.Destination}, jsonCol{&c.Schedule}, jsonCol{&c.Options},
		timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt})
}

// CreateConfig inserts c. An empty ID gets a new UUID v7, an empty ExecutionMode
// "server". On success c holds what was stored: PostgreSQL keeps JSON documents as
// JSONB, equal as JSON to what was written but not byte for byte.
func (s *Store) CreateConfig(ctx context.Context, c *store.BackupConfig) error {
	v := *c
	op := "create config " + v.Name
	if err := newID(op, &v.ID); err != nil {
		return err
	}
	if !s.validID(v.ID) || !s.validID(v.UserID) || v.AgentID != "" && !s.validID(v.AgentID) {
		return fmt.Errorf("%s: invalid id %q, user id %q or agent id %q", op, v.ID, v.UserID, v.AgentID)
	}
	if v.ExecutionMode == "" {
		v.ExecutionMode = "server"
	}
	v.CreatedAt, v.UpdatedAt = norm(v.CreatedAt), norm(v.UpdatedAt)
	_, err := s.exec(ctx, `INSERT INTO backup_configs (id, user_id, name, enabled, execution_mode,
		agent_id, sources, destination, schedule, options, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.UserID, v.Name, v.Enabled, v.ExecutionMode, nullStr(v.AgentID),
		jsonOr(v.Sources, "[]"), jsonOr(v.Destination, "{}"), nullJSON(v.Schedule), jsonOr(v.Options, "{}"),
		s.t(v.CreatedAt), s.t(v.UpdatedAt))
	if err != nil {
		return mapErr(op, err)
	}
	stored, err := s.GetConfig(ctx, v.ID)
	if err != nil {
		return err
	}
	*c = stored
	return nil
}

// GetConfig returns the config with the given id.
func (s *Store) GetConfig(ctx context.Context, id string) (store.BackupConfig, error) {
	if !s.validID(id) {
		return store.BackupConfig{}, notFound("get config " + id)
	}
	var c store.BackupConfig
	row := s.queryRow(ctx, `SELECT `+configColumns+` FROM backup_configs WHERE id = ?`, id)
	if err := scanConfig(row, &c); err != nil {
		return store.BackupConfig{}, mapErr("get config "+id, err)
	}
	return c, nil
}

func (s *Store) listConfigs(ctx context.Context, op, where string, args ...any) ([]store.BackupConfig, error) {
	return queryAll(ctx, s, op, `SELECT `+configColumns+` FROM backup_configs`+where+` ORDER BY created_at, id`, scanConfig, args...)
}

// ListConfigs lists a user's configs (every config for ""), oldest first.
func (s *Store) ListConfigs(ctx context.Context, userID string) ([]store.BackupConfig, error) {
	if userID == "" {
		return s.listConfigs(ctx, "list configs", "")
	}
	if !s.validID(userID) {
		return nil, nil
	}
	return s.listConfigs(ctx, "list configs of user "+userID, ` WHERE user_id = ?`, userID)
}

// ListAgentConfigs lists the configs assigned to an agent, enabled or not, oldest first.
func (s *Store) ListAgentConfigs(ctx context.Context, agentID string) ([]store.BackupConfig, error) {
	if !s.validID(agentID) {
		return nil, nil
	}
	return s.listConfigs(ctx, "list configs of agent "+agentID, ` WHERE agent_id = ?`, agentID)
}

// UpdateConfig writes c's name, enabled, mode, agent, JSON documents and UpdatedAt.
func (s *Store) UpdateConfig(ctx context.Context, c *store.BackupConfig) error {
	op := "update config " + c.ID
	if c.AgentID != "" && !s.validID(c.AgentID) {
		return fmt.Errorf("%s: invalid agent id %q", op, c.AgentID)
	}
	if c.ExecutionMode == "" {
		c.ExecutionMode = "server"
	}
	c.UpdatedAt = norm(c.UpdatedAt)
	return s.execID(ctx, op, c.ID,
		`UPDATE backup_configs SET name = ?, enabled = ?, execution_mode = ?, agent_id = ?, sources = ?,
			destination = ?, schedule = ?, options = ?, updated_at = ? WHERE id = ?`,
		c.Name, c.Enabled, c.ExecutionMode, nullStr(c.AgentID), jsonOr(c.Sources, "[]"),
		jsonOr(c.Destination, "{}"), nullJSON(c.Schedule), jsonOr(c.Options, "{}"), s.t(c.UpdatedAt))
}

// DeleteConfig deletes the config and, by cascade, its runs.
func (s *Store) DeleteConfig(ctx context.Context, id string) error {
	return s.execID(ctx, "delete config "+id, id, `DELETE FROM backup_configs WHERE id = ?`)
}
