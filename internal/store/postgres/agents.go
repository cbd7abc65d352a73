package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/backapp/backapp/internal/store"
)

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

func normPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := norm(*t)
	return &v
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

func jsonOr(m json.RawMessage, def string) string {
	if len(m) == 0 {
		return def
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

func scanAgent(row pgx.Row, a *store.Agent) error {
	if err := row.Scan(&a.ID, &a.UserID, &a.Name, &a.KeyHash, &a.KeyPrefix, &a.Revoked,
		&a.LastSeen, &a.Status, &a.Platform, &a.Arch, &a.Version, &a.Hostname,
		&a.EnrolledAt, &a.CreatedAt, &a.UpdatedAt, &a.Builtin); err != nil {
		return err
	}
	a.LastSeen, a.EnrolledAt = utcPtr(a.LastSeen), utcPtr(a.EnrolledAt)
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return nil
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
	if !validID(v.ID) || !validID(v.UserID) {
		return fmt.Errorf("%s: invalid id %q or user id %q", op, v.ID, v.UserID)
	}
	if v.Status == "" {
		v.Status = store.AgentOffline
	}
	v.CreatedAt, v.UpdatedAt = norm(v.CreatedAt), norm(v.UpdatedAt)
	v.LastSeen, v.EnrolledAt = normPtr(v.LastSeen), normPtr(v.EnrolledAt)
	_, err := s.pool.Exec(ctx, `INSERT INTO agents (id, user_id, name, api_key_hash, key_prefix, revoked,
		last_seen, status, platform, arch, version, hostname, enrolled_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		v.ID, v.UserID, v.Name, v.KeyHash, v.KeyPrefix, v.Revoked, v.LastSeen, v.Status,
		nullStr(v.Platform), nullStr(v.Arch), nullStr(v.Version), nullStr(v.Hostname),
		v.EnrolledAt, v.CreatedAt, v.UpdatedAt)
	if err != nil {
		return mapErr(op, err)
	}
	*a = v
	return nil
}

// GetAgent returns the agent with the given id.
func (s *Store) GetAgent(ctx context.Context, id string) (store.Agent, error) {
	op := "get agent " + id
	if !validID(id) {
		return store.Agent{}, notFound(op)
	}
	var a store.Agent
	if err := scanAgent(s.pool.QueryRow(ctx, `SELECT `+agentColumns+` FROM agents WHERE id = $1`, id), &a); err != nil {
		return store.Agent{}, mapErr(op, err)
	}
	return a, nil
}

// GetAgentByKeyHash finds the agent whose key hashes to keyHash, revoked or not.
func (s *Store) GetAgentByKeyHash(ctx context.Context, keyHash string) (store.Agent, error) {
	var a store.Agent
	if err := scanAgent(s.pool.QueryRow(ctx, `SELECT `+agentColumns+` FROM agents WHERE api_key_hash = $1`, keyHash), &a); err != nil {
		return store.Agent{}, mapErr("get agent by key", err)
	}
	return a, nil
}

// ListAgents lists a user's agents (every agent for ""), oldest first.
func (s *Store) ListAgents(ctx context.Context, userID string) ([]store.Agent, error) {
	q := `SELECT ` + agentColumns + ` FROM agents`
	var args []any
	if userID != "" {
		if !validID(userID) {
			return nil, nil
		}
		q += ` WHERE user_id = $1`
		args = append(args, userID)
	}
	return queryAll(ctx, s, "list agents", q+` ORDER BY created_at, id`, scanAgent, args...)
}

// execID is execOne for a statement whose last argument is a row id.
func (s *Store) execID(ctx context.Context, op, id, query string, args ...any) error {
	if !validID(id) {
		return notFound(op)
	}
	return s.execOne(ctx, op, query, append(args, id)...)
}

// RenameAgent sets the agent's name.
func (s *Store) RenameAgent(ctx context.Context, id, name string, now time.Time) error {
	return s.execID(ctx, "rename agent "+id, id,
		`UPDATE agents SET name = $1, updated_at = $2 WHERE id = $3`, name, norm(now))
}

// SetAgentKey replaces the agent's key hash and prefix; ErrConflict if the hash is taken.
func (s *Store) SetAgentKey(ctx context.Context, id, keyHash, keyPrefix string, now time.Time) error {
	return s.execID(ctx, "set key of agent "+id, id,
		`UPDATE agents SET api_key_hash = $1, key_prefix = $2, updated_at = $3 WHERE id = $4`,
		keyHash, keyPrefix, norm(now))
}

// RevokeAgent marks the agent revoked: its key is refused from now on.
func (s *Store) RevokeAgent(ctx context.Context, id string, now time.Time) error {
	return s.execID(ctx, "revoke agent "+id, id,
		`UPDATE agents SET revoked = true, updated_at = $1 WHERE id = $2`, norm(now))
}

// DeleteAgent deletes the agent and its logs; its configs and runs stay, without agent.
func (s *Store) DeleteAgent(ctx context.Context, id string) error {
	return s.execID(ctx, "delete agent "+id, id, `DELETE FROM agents WHERE id = $1`)
}

// RecordHeartbeat sets last_seen and status online, and the host facts that are not empty.
func (s *Store) RecordHeartbeat(ctx context.Context, id string, hb store.AgentHeartbeat) error {
	return s.execID(ctx, "record heartbeat of agent "+id, id,
		`UPDATE agents SET last_seen = $1, status = COALESCE(NULLIF($6, ''), 'online'),
			platform = COALESCE(NULLIF($2, ''), platform), arch = COALESCE(NULLIF($3, ''), arch),
			version = COALESCE(NULLIF($4, ''), version), hostname = COALESCE(NULLIF($5, ''), hostname)
		WHERE id = $7`,
		norm(hb.Time), hb.Platform, hb.Arch, hb.Version, hb.Hostname, hb.Status)
}

// MarkAgentEnrolled records the first registration; later ones keep the first time.
func (s *Store) MarkAgentEnrolled(ctx context.Context, id string, at time.Time) error {
	return s.execID(ctx, "mark agent enrolled "+id, id,
		`UPDATE agents SET enrolled_at = COALESCE(enrolled_at, $1) WHERE id = $2`, norm(at))
}

// AddAgentLogs inserts log lines in one batch. Empty IDs get UUID v7s.
func (s *Store) AddAgentLogs(ctx context.Context, logs []store.AgentLog) error {
	if len(logs) == 0 {
		return nil
	}
	op := fmt.Sprintf("add %d agent logs", len(logs))
	rows := make([][]any, len(logs))
	for i, l := range logs {
		if l.ID == "" {
			id, err := newUUID(op)
			if err != nil {
				return err
			}
			l.ID = id
		}
		if !validID(l.ID) || !validID(l.AgentID) {
			return fmt.Errorf("%s: invalid id %q or agent id %q", op, l.ID, l.AgentID)
		}
		var meta any
		if len(l.Metadata) > 0 {
			meta = l.Metadata
		}
		rows[i] = []any{l.ID, l.AgentID, l.Level, l.Message, meta, norm(l.Timestamp)}
	}
	_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"agent_logs"},
		[]string{"id", "agent_id", "level", "message", "metadata", "timestamp"}, pgx.CopyFromRows(rows))
	return mapErr(op, err)
}

// ListAgentLogs lists an agent's log lines, newest first.
func (s *Store) ListAgentLogs(ctx context.Context, f store.AgentLogFilter) ([]store.AgentLog, error) {
	op := "list logs of agent " + f.AgentID
	if !validID(f.AgentID) {
		return nil, nil
	}
	var b queryBuilder
	b.add("agent_id = ?", f.AgentID)
	if f.Level != "" {
		b.add("level = ?", f.Level)
	}
	if !f.Since.IsZero() {
		b.add("timestamp >= ?", norm(f.Since))
	}
	if !f.Until.IsZero() {
		b.add("timestamp < ?", norm(f.Until))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.pool.Query(ctx, `SELECT id, agent_id, level, message, metadata, timestamp FROM agent_logs WHERE `+
		b.where()+` ORDER BY timestamp DESC, id DESC LIMIT `+b.arg(limit), b.args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []store.AgentLog
	for rows.Next() {
		var l store.AgentLog
		if err := rows.Scan(&l.ID, &l.AgentID, &l.Level, &l.Message, &l.Metadata, &l.Timestamp); err != nil {
			return nil, mapErr(op, err)
		}
		l.Timestamp = l.Timestamp.UTC()
		out = append(out, l)
	}
	return out, mapErr(op, rows.Err())
}

// queryBuilder collects WHERE conditions written with "?" and numbers them.
type queryBuilder struct {
	conds []string
	args  []any
}

func (b *queryBuilder) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

func (b *queryBuilder) add(cond string, v any) {
	b.conds = append(b.conds, strings.Replace(cond, "?", b.arg(v), 1))
}

func (b *queryBuilder) where() string {
	if len(b.conds) == 0 {
		return "true"
	}
	return strings.Join(b.conds, " AND ")
}

const configColumns = `id, user_id, name, enabled, execution_mode, COALESCE(agent_id::text, ''),
	sources, destination, schedule, options, created_at, updated_at`

func scanConfig(row pgx.Row, c *store.BackupConfig) error {
	var src, dst, sched, opts []byte
	if err := row.Scan(&c.ID, &c.UserID, &c.Name, &c.Enabled, &c.ExecutionMode, &c.AgentID,
		&src, &dst, &sched, &opts, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return err
	}
	c.Sources, c.Destination, c.Options = src, dst, opts
	c.Schedule = nil
	if sched != nil {
		c.Schedule = sched
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return nil
}

// CreateConfig inserts c. An empty ID gets a new UUID v7, an empty ExecutionMode
// "server". JSON documents are stored as JSONB: read back, they are equal as JSON but
// not byte for byte.
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
	if !validID(v.ID) || !validID(v.UserID) || v.AgentID != "" && !validID(v.AgentID) {
		return fmt.Errorf("%s: invalid id %q, user id %q or agent id %q", op, v.ID, v.UserID, v.AgentID)
	}
	if v.ExecutionMode == "" {
		v.ExecutionMode = "server"
	}
	v.CreatedAt, v.UpdatedAt = norm(v.CreatedAt), norm(v.UpdatedAt)
	_, err := s.pool.Exec(ctx, `INSERT INTO backup_configs (id, user_id, name, enabled, execution_mode,
		agent_id, sources, destination, schedule, options, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		v.ID, v.UserID, v.Name, v.Enabled, v.ExecutionMode, nullStr(v.AgentID),
		jsonOr(v.Sources, "[]"), jsonOr(v.Destination, "{}"), nullJSON(v.Schedule), jsonOr(v.Options, "{}"),
		v.CreatedAt, v.UpdatedAt)
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
	op := "get config " + id
	if !validID(id) {
		return store.BackupConfig{}, notFound(op)
	}
	var c store.BackupConfig
	if err := scanConfig(s.pool.QueryRow(ctx, `SELECT `+configColumns+` FROM backup_configs WHERE id = $1`, id), &c); err != nil {
		return store.BackupConfig{}, mapErr(op, err)
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
	if !validID(userID) {
		return nil, nil
	}
	return s.listConfigs(ctx, "list configs of user "+userID, ` WHERE user_id = $1`, userID)
}

// ListAgentConfigs lists the configs assigned to an agent, enabled or not, oldest first.
func (s *Store) ListAgentConfigs(ctx context.Context, agentID string) ([]store.BackupConfig, error) {
	if !validID(agentID) {
		return nil, nil
	}
	return s.listConfigs(ctx, "list configs of agent "+agentID, ` WHERE agent_id = $1`, agentID)
}

// UpdateConfig writes c's name, enabled, mode, agent, JSON documents and UpdatedAt.
func (s *Store) UpdateConfig(ctx context.Context, c *store.BackupConfig) error {
	op := "update config " + c.ID
	if c.AgentID != "" && !validID(c.AgentID) {
		return fmt.Errorf("%s: invalid agent id %q", op, c.AgentID)
	}
	if c.ExecutionMode == "" {
		c.ExecutionMode = "server"
	}
	c.UpdatedAt = norm(c.UpdatedAt)
	return s.execID(ctx, op, c.ID,
		`UPDATE backup_configs SET name = $1, enabled = $2, execution_mode = $3, agent_id = $4, sources = $5,
			destination = $6, schedule = $7, options = $8, updated_at = $9 WHERE id = $10`,
		c.Name, c.Enabled, c.ExecutionMode, nullStr(c.AgentID), jsonOr(c.Sources, "[]"),
		jsonOr(c.Destination, "{}"), nullJSON(c.Schedule), jsonOr(c.Options, "{}"), c.UpdatedAt)
}

// DeleteConfig deletes the config and, by cascade, its runs.
func (s *Store) DeleteConfig(ctx context.Context, id string) error {
	return s.execID(ctx, "delete config "+id, id, `DELETE FROM backup_configs WHERE id = $1`)
}

const runColumns = `id, config_id, user_id, COALESCE(agent_id::text, ''), start_time, end_time, status,
	cancel_requested, full_backup, COALESCE(previous_run_id::text, ''), COALESCE(destination_id, ''),
	COALESCE(s3_path, ''), COALESCE(manifest_key, ''), COALESCE(archive_upload_id, ''),
	COALESCE(manifest_upload_id, ''), COALESCE(archive_sha256, ''), archive_size,
	COALESCE(manifest_sha256, ''), manifest_size, encrypted, files_processed, files_skipped,
	total_bytes, bytes_transferred, errors, duration, progress_at, created_at`

func scanRun(row pgx.Row, r *store.Run) error {
	var errs []byte
	if err := row.Scan(&r.ID, &r.ConfigID, &r.UserID, &r.AgentID, &r.StartTime, &r.EndTime,
		&r.Status, &r.CancelRequested, &r.Full, &r.PreviousRunID, &r.DestinationID, &r.S3Path,
		&r.ManifestKey, &r.ArchiveUploadID, &r.ManifestUpload, &r.ArchiveSHA256, &r.ArchiveSize,
		&r.ManifestSHA256, &r.ManifestSize, &r.Encrypted, &r.FilesProcessed, &r.FilesSkipped,
		&r.TotalBytes, &r.BytesTransfer, &errs, &r.DurationMS, &r.ProgressAt, &r.CreatedAt); err != nil {
		return err
	}
	r.Errors = nil
	if errs != nil {
		r.Errors = errs
	}
	r.StartTime, r.CreatedAt = r.StartTime.UTC(), r.CreatedAt.UTC()
	r.EndTime, r.ProgressAt = utcPtr(r.EndTime), utcPtr(r.ProgressAt)
	return nil
}

var runStatuses = map[string]bool{"queued": true, "running": true, "completed": true, "failed": true, "cancelled": true}

var runSetColumns = []string{"config_id", "user_id", "agent_id", "start_time", "end_time", "status",
	"cancel_requested", "full_backup", "previous_run_id", "destination_id", "s3_path", "manifest_key",
	"archive_upload_id", "manifest_upload_id", "archive_sha256", "archive_size", "manifest_sha256",
	"manifest_size", "encrypted", "files_processed", "files_skipped", "total_bytes", "bytes_transferred",
	"errors", "duration", "progress_at"}

// runArgs are the values of runSetColumns.
func runArgs(r *store.Run) []any {
	return []any{r.ConfigID, r.UserID, nullStr(r.AgentID), r.StartTime, r.EndTime, r.Status,
		r.CancelRequested, r.Full, nullStr(r.PreviousRunID), nullStr(r.DestinationID), nullStr(r.S3Path),
		nullStr(r.ManifestKey), nullStr(r.ArchiveUploadID), nullStr(r.ManifestUpload), nullStr(r.ArchiveSHA256),
		r.ArchiveSize, nullStr(r.ManifestSHA256), r.ManifestSize, r.Encrypted, r.FilesProcessed, r.FilesSkipped,
		r.TotalBytes, r.BytesTransfer, nullJSON(r.Errors), r.DurationMS, r.ProgressAt}
}

func checkRun(op string, r *store.Run) error {
	if !runStatuses[r.Status] {
		return fmt.Errorf("%s: invalid status %q", op, r.Status)
	}
	for _, id := range []string{r.ConfigID, r.UserID} {
		if !validID(id) {
			return fmt.Errorf("%s: invalid id %q", op, id)
		}
	}
	for _, id := range []string{r.AgentID, r.PreviousRunID} {
		if id != "" && !validID(id) {
			return fmt.Errorf("%s: invalid id %q", op, id)
		}
	}
	r.StartTime, r.CreatedAt = norm(r.StartTime), norm(r.CreatedAt)
	r.EndTime, r.ProgressAt = normPtr(r.EndTime), normPtr(r.ProgressAt)
	if len(r.Errors) == 0 {
		r.Errors = nil
	}
	return nil
}

// CreateRun inserts r. An empty ID gets a new UUID v7, a zero CreatedAt StartTime.
// A second queued or running run of one config gives ErrConflict. Errors is JSONB:
// read back it is equal as JSON, not byte for byte.
func (s *Store) CreateRun(ctx context.Context, r *store.Run) error {
	v := *r
	op := "create run of config " + v.ConfigID
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
	if err := checkRun(op, &v); err != nil {
		return err
	}
	if !validID(v.ID) {
		return fmt.Errorf("%s: invalid id %q", op, v.ID)
	}
	args := append([]any{v.ID}, runArgs(&v)...)
	args = append(args, v.CreatedAt)
	ph := make([]string, len(args))
	for i := range ph {
		ph[i] = "$" + strconv.Itoa(i+1)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO backup_logs (id, `+strings.Join(runSetColumns, ", ")+`, created_at)
		VALUES (`+strings.Join(ph, ", ")+`)`, args...)
	if err != nil {
		return mapErr(op, err)
	}
	*r = v
	return nil
}

// GetRun returns the run with the given id.
func (s *Store) GetRun(ctx context.Context, id string) (store.Run, error) {
	op := "get run " + id
	if !validID(id) {
		return store.Run{}, notFound(op)
	}
	var r store.Run
	if err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM backup_logs WHERE id = $1`, id), &r); err != nil {
		return store.Run{}, mapErr(op, err)
	}
	return r, nil
}

func (s *Store) queryRuns(ctx context.Context, op, rest string, args ...any) ([]store.Run, error) {
	return queryAll(ctx, s, op, `SELECT `+runColumns+` FROM backup_logs `+rest, scanRun, args...)
}

// ListRuns lists runs matching f, newest first.
func (s *Store) ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error) {
	var b queryBuilder
	for _, c := range []struct{ col, id string }{{"user_id", f.UserID}, {"config_id", f.ConfigID}, {"agent_id", f.AgentID}} {
		if c.id == "" {
			continue
		}
		if !validID(c.id) {
			return nil, nil
		}
		b.add(c.col+" = ?", c.id)
	}
	if f.Status != "" {
		b.add("status = ?", f.Status)
	}
	if !f.Since.IsZero() {
		b.add("start_time >= ?", norm(f.Since))
	}
	if !f.Until.IsZero() {
		b.add("start_time < ?", norm(f.Until))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	q := `WHERE ` + b.where() + ` ORDER BY start_time DESC, id DESC`
	q += ` LIMIT ` + b.arg(limit) + ` OFFSET ` + b.arg(max(f.Offset, 0))
	return s.queryRuns(ctx, "list runs", q, b.args...)
}

// UpdateRun writes every field of r but ID and CreatedAt. Moving a second run of a
// config to queued or running gives ErrConflict.
func (s *Store) UpdateRun(ctx context.Context, r *store.Run) error {
	op := "update run " + r.ID
	if err := checkRun(op, r); err != nil {
		return err
	}
	set := make([]string, len(runSetColumns))
	for i, c := range runSetColumns {
		set[i] = c + " = $" + strconv.Itoa(i+1)
	}
	return s.execID(ctx, op, r.ID, `UPDATE backup_logs SET `+strings.Join(set, ", ")+
		` WHERE id = $`+strconv.Itoa(len(runSetColumns)+1), runArgs(r)...)
}

// RecordRunProgress stores a progress report of a running run. A run that is no
// longer running is left alone and gives ErrNotFound.
func (s *Store) RecordRunProgress(ctx context.Context, id string, p store.RunProgress) error {
	return s.execID(ctx, "record progress of run "+id, id,
		`UPDATE backup_logs SET files_processed = $1, files_skipped = $2, total_bytes = $3,
			bytes_transferred = $4, progress_at = $5 WHERE id = $6 AND status = 'running'`,
		p.FilesProcessed, p.FilesSkipped, p.TotalBytes, p.BytesTransfer, norm(p.Time))
}

// LastCompletedRun is the newest completed run of a config.
func (s *Store) LastCompletedRun(ctx context.Context, configID string) (store.Run, error) {
	op := "last completed run of config " + configID
	if !validID(configID) {
		return store.Run{}, notFound(op)
	}
	runs, err := s.queryRuns(ctx, op,
		`WHERE config_id = $1 AND status = 'completed' ORDER BY start_time DESC, id DESC LIMIT 1`, configID)
	if err != nil {
		return store.Run{}, err
	}
	if len(runs) == 0 {
		return store.Run{}, notFound(op)
	}
	return runs[0], nil
}

// StaleRuns lists running runs whose last progress (or start) is before cutoff.
func (s *Store) StaleRuns(ctx context.Context, cutoff time.Time) ([]store.Run, error) {
	return s.queryRuns(ctx, "list stale runs",
		`WHERE status = 'running' AND COALESCE(progress_at, start_time) < $1 ORDER BY start_time, id`, norm(cutoff))
}

// ActiveRuns lists an agent's queued and running runs, oldest first.
func (s *Store) ActiveRuns(ctx context.Context, agentID string) ([]store.Run, error) {
	if !validID(agentID) {
		return nil, nil
	}
	return s.queryRuns(ctx, "list active runs of agent "+agentID,
		`WHERE agent_id = $1 AND status IN ('queued', 'running') ORDER BY start_time, id`, agentID)
}
