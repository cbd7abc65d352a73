package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/backapp/backapp/internal/store"
)

// nullTimeCol scans a nullable stored timestamp into *(*time.Time).
type nullTimeCol struct{ t **time.Time }

func (c nullTimeCol) Scan(v any) error {
	if v == nil {
		*c.t = nil
		return nil
	}
	var t time.Time
	if err := (timeCol{&t}).Scan(v); err != nil {
		return err
	}
	*c.t = &t
	return nil
}

// jsonCol scans a nullable JSON column into a json.RawMessage (nil for NULL).
type jsonCol struct{ m *json.RawMessage }

func (c jsonCol) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.m = nil
	case string:
		*c.m = json.RawMessage(v)
	case []byte:
		*c.m = append(json.RawMessage(nil), v...)
	default:
		return fmt.Errorf("scan json: unexpected %T", v)
	}
	return nil
}

func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return fmtTime(*t)
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullJSON(m json.RawMessage) any {
	if len(m) == 0 {
		return nil
	}
	return string(m)
}

func newUUID(op string) (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	return id.String(), nil
}

const agentColumns = `id, user_id, name, api_key_hash, key_prefix, revoked, last_seen, status,
	COALESCE(platform, ''), COALESCE(arch, ''), COALESCE(version, ''), COALESCE(hostname, ''),
	enrolled_at, created_at, updated_at, builtin`

func scanAgent(row scanner, a *store.Agent) error {
	return row.Scan(&a.ID, &a.UserID, &a.Name, &a.KeyHash, &a.KeyPrefix, &a.Revoked,
		nullTimeCol{&a.LastSeen}, &a.Status, &a.Platform, &a.Arch, &a.Version, &a.Hostname,
		nullTimeCol{&a.EnrolledAt}, timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt}, &a.Builtin)
}

func normPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := norm(*t)
	return &v
}

// CreateAgent inserts a. An empty ID gets a new UUID v7, an empty Status offline. On
// success a holds what was stored.
func (s *Store) CreateAgent(ctx context.Context, a *store.Agent) error {
	v := *a
	op := "create agent " + v.Name
	if v.ID == "" {
		id, err := newUUID(op)
		if err != nil {
			return err
		}
		v.ID = id
	}
	if v.Status == "" {
		v.Status = store.AgentOffline
	}
	v.CreatedAt, v.UpdatedAt = norm(v.CreatedAt), norm(v.UpdatedAt)
	v.LastSeen, v.EnrolledAt = normPtr(v.LastSeen), normPtr(v.EnrolledAt)
	_, err := s.w.ExecContext(ctx, `INSERT INTO agents (id, user_id, name, api_key_hash, key_prefix, revoked,
		last_seen, status, platform, arch, version, hostname, enrolled_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.UserID, v.Name, v.KeyHash, v.KeyPrefix, v.Revoked, nullTime(v.LastSeen), v.Status,
		nullStr(v.Platform), nullStr(v.Arch), nullStr(v.Version), nullStr(v.Hostname),
		nullTime(v.EnrolledAt), fmtTime(v.CreatedAt), fmtTime(v.UpdatedAt))
	if err != nil {
		return mapErr(op, err)
	}
	*a = v
	return nil
}

// GetAgent returns the agent with the given id.
func (s *Store) GetAgent(ctx context.Context, id string) (store.Agent, error) {
	var a store.Agent
	row := s.r.QueryRowContext(ctx, `SELECT `+agentColumns+` FROM agents WHERE id = ?`, id)
	if err := scanAgent(row, &a); err != nil {
		return store.Agent{}, mapErr("get agent "+id, err)
	}
	return a, nil
}

// GetAgentByKeyHash finds the agent whose key hashes to keyHash, revoked or not.
func (s *Store) GetAgentByKeyHash(ctx context.Context, keyHash string) (store.Agent, error) {
	var a store.Agent
	row := s.r.QueryRowContext(ctx, `SELECT `+agentColumns+` FROM agents WHERE api_key_hash = ?`, keyHash)
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
		q += ` WHERE user_id = ?`
		args = append(args, userID)
	}
	return queryAll(ctx, s, "list agents", q+` ORDER BY created_at, id`, scanAgent, args...)
}

// RenameAgent sets the agent's name.
func (s *Store) RenameAgent(ctx context.Context, id, name string, now time.Time) error {
	return s.execOne(ctx, "rename agent "+id,
		`UPDATE agents SET name = ?, updated_at = ? WHERE id = ?`, name, fmtTime(now), id)
}

// SetAgentKey replaces the agent's key hash and prefix; ErrConflict if the hash is taken.
func (s *Store) SetAgentKey(ctx context.Context, id, keyHash, keyPrefix string, now time.Time) error {
	return s.execOne(ctx, "set key of agent "+id,
		`UPDATE agents SET api_key_hash = ?, key_prefix = ?, updated_at = ? WHERE id = ?`,
		keyHash, keyPrefix, fmtTime(now), id)
}

// RevokeAgent marks the agent revoked: its key is refused from now on.
func (s *Store) RevokeAgent(ctx context.Context, id string, now time.Time) error {
	return s.execOne(ctx, "revoke agent "+id,
		`UPDATE agents SET revoked = 1, updated_at = ? WHERE id = ?`, fmtTime(now), id)
}

// DeleteAgent deletes the agent and its logs; its configs and runs stay, without agent.
func (s *Store) DeleteAgent(ctx context.Context, id string) error {
	return s.execOne(ctx, "delete agent "+id, `DELETE FROM agents WHERE id = ?`, id)
}

// RecordHeartbeat sets last_seen and status online, and the host facts that are not empty.
func (s *Store) RecordHeartbeat(ctx context.Context, id string, hb store.AgentHeartbeat) error {
	return s.execOne(ctx, "record heartbeat of agent "+id,
		`UPDATE agents SET last_seen = ?, status = COALESCE(NULLIF(?, ''), 'online'),
			platform = COALESCE(NULLIF(?, ''), platform), arch = COALESCE(NULLIF(?, ''), arch),
			version = COALESCE(NULLIF(?, ''), version), hostname = COALESCE(NULLIF(?, ''), hostname)
		WHERE id = ?`,
		fmtTime(hb.Time), hb.Status, hb.Platform, hb.Arch, hb.Version, hb.Hostname, id)
}

// MarkAgentEnrolled records the first registration; later ones keep the first time.
func (s *Store) MarkAgentEnrolled(ctx context.Context, id string, at time.Time) error {
	return s.execOne(ctx, "mark agent enrolled "+id,
		`UPDATE agents SET enrolled_at = COALESCE(enrolled_at, ?) WHERE id = ?`, fmtTime(at), id)
}

// AddAgentLogs inserts log lines in one transaction. Empty IDs get UUID v7s.
func (s *Store) AddAgentLogs(ctx context.Context, logs []store.AgentLog) error {
	if len(logs) == 0 {
		return nil
	}
	op := fmt.Sprintf("add %d agent logs", len(logs))
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(op, err)
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO agent_logs (id, agent_id, level, message, metadata, timestamp)
		VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return mapErr(op, err)
	}
	defer stmt.Close()
	for _, l := range logs {
		if l.ID == "" {
			if l.ID, err = newUUID(op); err != nil {
				return err
			}
		}
		var meta any
		if len(l.Metadata) > 0 {
			b, err := json.Marshal(l.Metadata)
			if err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
			meta = string(b)
		}
		if _, err := stmt.ExecContext(ctx, l.ID, l.AgentID, l.Level, l.Message, meta, fmtTime(l.Timestamp)); err != nil {
			return mapErr(op, err)
		}
	}
	return mapErr(op, tx.Commit())
}

// ListAgentLogs lists an agent's log lines, newest first.
func (s *Store) ListAgentLogs(ctx context.Context, f store.AgentLogFilter) ([]store.AgentLog, error) {
	op := "list logs of agent " + f.AgentID
	q := `SELECT id, agent_id, level, message, metadata, timestamp FROM agent_logs WHERE agent_id = ?`
	args := []any{f.AgentID}
	if f.Level != "" {
		q += ` AND level = ?`
		args = append(args, f.Level)
	}
	if !f.Since.IsZero() {
		q += ` AND timestamp >= ?`
		args = append(args, fmtTime(f.Since))
	}
	if !f.Until.IsZero() {
		q += ` AND timestamp < ?`
		args = append(args, fmtTime(f.Until))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += ` ORDER BY timestamp DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []store.AgentLog
	for rows.Next() {
		var l store.AgentLog
		var meta json.RawMessage
		if err := rows.Scan(&l.ID, &l.AgentID, &l.Level, &l.Message, jsonCol{&meta}, timeCol{&l.Timestamp}); err != nil {
			return nil, mapErr(op, err)
		}
		if len(meta) > 0 {
			if err := json.Unmarshal(meta, &l.Metadata); err != nil {
				return nil, fmt.Errorf("%s: metadata of %s: %w", op, l.ID, err)
			}
		}
		out = append(out, l)
	}
	return out, mapErr(op, rows.Err())
}

const configColumns = `id, user_id, name, enabled, execution_mode, COALESCE(agent_id, ''),
	sources, destination, schedule, options, created_at, updated_at`

func scanConfig(row scanner, c *store.BackupConfig) error {
	return row.Scan(&c.ID, &c.UserID, &c.Name, &c.Enabled, &c.ExecutionMode, &c.AgentID,
		jsonCol{&c.Sources}, jsonCol{&c.Destination}, jsonCol{&c.Schedule}, jsonCol{&c.Options},
		timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt})
}

// CreateConfig inserts c. An empty ID gets a new UUID v7, an empty ExecutionMode
// "server".
func (s *Store) CreateConfig(ctx context.Context, c *store.BackupConfig) error {
	v := *c
	op := "create config " + v.Name
	if v.ID == "" {
		id, err := newUUID(op)
		if err != nil {
			return err
		}
		v.ID = id
	}
	if v.ExecutionMode == "" {
		v.ExecutionMode = "server"
	}
	v.CreatedAt, v.UpdatedAt = norm(v.CreatedAt), norm(v.UpdatedAt)
	_, err := s.w.ExecContext(ctx, `INSERT INTO backup_configs (id, user_id, name, enabled, execution_mode,
		agent_id, sources, destination, schedule, options, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.UserID, v.Name, v.Enabled, v.ExecutionMode, nullStr(v.AgentID),
		jsonOr(v.Sources, "[]"), jsonOr(v.Destination, "{}"), nullJSON(v.Schedule), jsonOr(v.Options, "{}"),
		fmtTime(v.CreatedAt), fmtTime(v.UpdatedAt))
	if err != nil {
		return mapErr(op, err)
	}
	v.Sources, v.Destination, v.Options = rawOr(v.Sources, "[]"), rawOr(v.Destination, "{}"), rawOr(v.Options, "{}")
	if len(v.Schedule) == 0 {
		v.Schedule = nil
	}
	*c = v
	return nil
}

func jsonOr(m json.RawMessage, def string) string {
	if len(m) == 0 {
		return def
	}
	return string(m)
}

func rawOr(m json.RawMessage, def string) json.RawMessage {
	if len(m) == 0 {
		return json.RawMessage(def)
	}
	return m
}

// GetConfig returns the config with the given id.
func (s *Store) GetConfig(ctx context.Context, id string) (store.BackupConfig, error) {
	var c store.BackupConfig
	row := s.r.QueryRowContext(ctx, `SELECT `+configColumns+` FROM backup_configs WHERE id = ?`, id)
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
	return s.listConfigs(ctx, "list configs of user "+userID, ` WHERE user_id = ?`, userID)
}

// ListAgentConfigs lists the configs assigned to an agent, enabled or not, oldest first.
func (s *Store) ListAgentConfigs(ctx context.Context, agentID string) ([]store.BackupConfig, error) {
	return s.listConfigs(ctx, "list configs of agent "+agentID, ` WHERE agent_id = ?`, agentID)
}

// UpdateConfig writes c's name, enabled, mode, agent, JSON documents and UpdatedAt.
func (s *Store) UpdateConfig(ctx context.Context, c *store.BackupConfig) error {
	if c.ExecutionMode == "" {
		c.ExecutionMode = "server"
	}
	c.UpdatedAt = norm(c.UpdatedAt)
	return s.execOne(ctx, "update config "+c.ID,
		`UPDATE backup_configs SET name = ?, enabled = ?, execution_mode = ?, agent_id = ?, sources = ?,
			destination = ?, schedule = ?, options = ?, updated_at = ? WHERE id = ?`,
		c.Name, c.Enabled, c.ExecutionMode, nullStr(c.AgentID), jsonOr(c.Sources, "[]"),
		jsonOr(c.Destination, "{}"), nullJSON(c.Schedule), jsonOr(c.Options, "{}"), fmtTime(c.UpdatedAt), c.ID)
}

// DeleteConfig deletes the config and, by cascade, its runs.
func (s *Store) DeleteConfig(ctx context.Context, id string) error {
	return s.execOne(ctx, "delete config "+id, `DELETE FROM backup_configs WHERE id = ?`, id)
}

const runColumns = `id, config_id, user_id, COALESCE(agent_id, ''), start_time, end_time, status,
	cancel_requested, full_backup, COALESCE(previous_run_id, ''), COALESCE(destination_id, ''),
	COALESCE(s3_path, ''), COALESCE(manifest_key, ''), COALESCE(archive_upload_id, ''),
	COALESCE(manifest_upload_id, ''), COALESCE(archive_sha256, ''), archive_size,
	COALESCE(manifest_sha256, ''), manifest_size, encrypted, files_processed, files_skipped,
	total_bytes, bytes_transferred, errors, duration, progress_at, created_at`

func scanRun(row scanner, r *store.Run) error {
	var dur sql.NullInt64
	err := row.Scan(&r.ID, &r.ConfigID, &r.UserID, &r.AgentID, timeCol{&r.StartTime}, nullTimeCol{&r.EndTime},
		&r.Status, &r.CancelRequested, &r.Full, &r.PreviousRunID, &r.DestinationID, &r.S3Path,
		&r.ManifestKey, &r.ArchiveUploadID, &r.ManifestUpload, &r.ArchiveSHA256, &r.ArchiveSize,
		&r.ManifestSHA256, &r.ManifestSize, &r.Encrypted, &r.FilesProcessed, &r.FilesSkipped,
		&r.TotalBytes, &r.BytesTransfer, jsonCol{&r.Errors}, &dur, nullTimeCol{&r.ProgressAt},
		timeCol{&r.CreatedAt})
	if err != nil {
		return err
	}
	r.DurationMS = nil
	if dur.Valid {
		d := dur.Int64
		r.DurationMS = &d
	}
	return nil
}

var runStatuses = map[string]bool{"queued": true, "running": true, "completed": true, "failed": true, "cancelled": true}

func nullInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// runArgs are the values of every column but id and created_at, in runSetColumns order.
func runArgs(r *store.Run) []any {
	return []any{r.ConfigID, r.UserID, nullStr(r.AgentID), fmtTime(r.StartTime), nullTime(r.EndTime), r.Status,
		r.CancelRequested, r.Full, nullStr(r.PreviousRunID), nullStr(r.DestinationID), nullStr(r.S3Path),
		nullStr(r.ManifestKey), nullStr(r.ArchiveUploadID), nullStr(r.ManifestUpload), nullStr(r.ArchiveSHA256),
		r.ArchiveSize, nullStr(r.ManifestSHA256), r.ManifestSize, r.Encrypted, r.FilesProcessed, r.FilesSkipped,
		r.TotalBytes, r.BytesTransfer, nullJSON(r.Errors), nullInt(r.DurationMS), nullTime(r.ProgressAt)}
}

var runSetColumns = []string{"config_id", "user_id", "agent_id", "start_time", "end_time", "status",
	"cancel_requested", "full_backup", "previous_run_id", "destination_id", "s3_path", "manifest_key",
	"archive_upload_id", "manifest_upload_id", "archive_sha256", "archive_size", "manifest_sha256",
	"manifest_size", "encrypted", "files_processed", "files_skipped", "total_bytes", "bytes_transferred",
	"errors", "duration", "progress_at"}

func normRun(r *store.Run) {
	r.StartTime, r.CreatedAt = norm(r.StartTime), norm(r.CreatedAt)
	r.EndTime, r.ProgressAt = normPtr(r.EndTime), normPtr(r.ProgressAt)
	if len(r.Errors) == 0 {
		r.Errors = nil
	}
}

// CreateRun inserts r. An empty ID gets a new UUID v7, a zero CreatedAt StartTime.
// A second queued or running run of one config gives ErrConflict.
func (s *Store) CreateRun(ctx context.Context, r *store.Run) error {
	v := *r
	op := "create run of config " + v.ConfigID
	if !runStatuses[v.Status] {
		return fmt.Errorf("%s: invalid status %q", op, v.Status)
	}
	if v.ID == "" {
		id, err := newUUID(op)
		if err != nil {
			return err
		}
		v.ID = id
	}
	if v.CreatedAt.IsZero() {
		v.CreatedAt = v.StartTime
	}
	normRun(&v)
	args := append([]any{v.ID}, runArgs(&v)...)
	args = append(args, fmtTime(v.CreatedAt))
	_, err := s.w.ExecContext(ctx, `INSERT INTO backup_logs (id, `+strings.Join(runSetColumns, ", ")+`, created_at)
		VALUES (?`+strings.Repeat(", ?", len(runSetColumns)+1)+`)`, args...)
	if err != nil {
		return mapErr(op, err)
	}
	*r = v
	return nil
}

// GetRun returns the run with the given id.
func (s *Store) GetRun(ctx context.Context, id string) (store.Run, error) {
	var r store.Run
	row := s.r.QueryRowContext(ctx, `SELECT `+runColumns+` FROM backup_logs WHERE id = ?`, id)
	if err := scanRun(row, &r); err != nil {
		return store.Run{}, mapErr("get run "+id, err)
	}
	return r, nil
}

func (s *Store) queryRuns(ctx context.Context, op, rest string, args ...any) ([]store.Run, error) {
	return queryAll(ctx, s, op, `SELECT `+runColumns+` FROM backup_logs `+rest, scanRun, args...)
}

// ListRuns lists runs matching f, newest first.
func (s *Store) ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error) {
	where := []string{"1 = 1"}
	var args []any
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if f.UserID != "" {
		add("user_id = ?", f.UserID)
	}
	if f.ConfigID != "" {
		add("config_id = ?", f.ConfigID)
	}
	if f.AgentID != "" {
		add("agent_id = ?", f.AgentID)
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if !f.Since.IsZero() {
		add("start_time >= ?", fmtTime(f.Since))
	}
	if !f.Until.IsZero() {
		add("start_time < ?", fmtTime(f.Until))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	args = append(args, limit, max(f.Offset, 0))
	return s.queryRuns(ctx, "list runs", `WHERE `+strings.Join(where, " AND ")+
		` ORDER BY start_time DESC, id DESC LIMIT ? OFFSET ?`, args...)
}

// UpdateRun writes every field of r but ID and CreatedAt. Moving a second run of a
// config to queued or running gives ErrConflict.
func (s *Store) UpdateRun(ctx context.Context, r *store.Run) error {
	op := "update run " + r.ID
	if !runStatuses[r.Status] {
		return fmt.Errorf("%s: invalid status %q", op, r.Status)
	}
	normRun(r)
	set := make([]string, len(runSetColumns))
	for i, c := range runSetColumns {
		set[i] = c + " = ?"
	}
	args := append(runArgs(r), r.ID)
	return s.execOne(ctx, op, `UPDATE backup_logs SET `+strings.Join(set, ", ")+` WHERE id = ?`, args...)
}

// RecordRunProgress stores a progress report of a running run. A run that is no
// longer running is left alone and gives ErrNotFound.
func (s *Store) RecordRunProgress(ctx context.Context, id string, p store.RunProgress) error {
	return s.execOne(ctx, "record progress of run "+id,
		`UPDATE backup_logs SET files_processed = ?, files_skipped = ?, total_bytes = ?,
			bytes_transferred = ?, progress_at = ? WHERE id = ? AND status = 'running'`,
		p.FilesProcessed, p.FilesSkipped, p.TotalBytes, p.BytesTransfer, fmtTime(p.Time), id)
}

// LastCompletedRun is the newest completed run of a config.
func (s *Store) LastCompletedRun(ctx context.Context, configID string) (store.Run, error) {
	runs, err := s.queryRuns(ctx, "last completed run of config "+configID,
		`WHERE config_id = ? AND status = 'completed' ORDER BY start_time DESC, id DESC LIMIT 1`, configID)
	if err != nil {
		return store.Run{}, err
	}
	if len(runs) == 0 {
		return store.Run{}, fmt.Errorf("last completed run of config %s: %w", configID, store.ErrNotFound)
	}
	return runs[0], nil
}

// StaleRuns lists running runs whose last progress (or start) is before cutoff.
func (s *Store) StaleRuns(ctx context.Context, cutoff time.Time) ([]store.Run, error) {
	return s.queryRuns(ctx, "list stale runs",
		`WHERE status = 'running' AND COALESCE(progress_at, start_time) < ? ORDER BY start_time, id`, fmtTime(cutoff))
}

// ActiveRuns lists an agent's queued and running runs, oldest first.
func (s *Store) ActiveRuns(ctx context.Context, agentID string) ([]store.Run, error) {
	return s.queryRuns(ctx, "list active runs of agent "+agentID,
		`WHERE agent_id = ? AND status IN ('queued', 'running') ORDER BY start_time, id`, agentID)
}
