package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
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

const runColumns = `id, config_id, user_id, COALESCE(CAST(agent_id AS TEXT), ''), start_time, end_time, status,
	cancel_requested, full_backup, COALESCE(CAST(previous_run_id AS TEXT), ''), COALESCE(destination_id, ''),
	COALESCE(s3_path, ''), COALESCE(manifest_key, ''), COALESCE(archive_upload_id, ''),
	COALESCE(manifest_upload_id, ''), COALESCE(archive_sha256, ''), archive_size,
	COALESCE(manifest_sha256, ''), manifest_size, catalog_size, encrypted, files_processed, files_skipped,
	total_bytes, bytes_transferred, errors, duration, progress_at, created_at`

func scanRun(row scanner, r *store.Run) error {
	var dur sql.NullInt64
	err := row.Scan(&r.ID, &r.ConfigID, &r.UserID, &r.AgentID, timeCol{&r.StartTime}, nullTimeCol{&r.EndTime},
		&r.Status, &r.CancelRequested, &r.Full, &r.PreviousRunID, &r.DestinationID, &r.S3Path,
		&r.ManifestKey, &r.ArchiveUploadID, &r.ManifestUpload, &r.ArchiveSHA256, &r.ArchiveSize,
		&r.ManifestSHA256, &r.ManifestSize, &r.CatalogSize, &r.Encrypted, &r.FilesProcessed, &r.FilesSkipped,
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

// runArgs are the values of every column but id and created_at, in runSetColumns order.
func (s *Store) runArgs(r *store.Run) []any {
	return []any{r.ConfigID, r.UserID, nullStr(r.AgentID), s.t(r.StartTime), s.tp(r.EndTime), r.Status,
		r.CancelRequested, r.Full, nullStr(r.PreviousRunID), nullStr(r.DestinationID), nullStr(r.S3Path),
		nullStr(r.ManifestKey), nullStr(r.ArchiveUploadID), nullStr(r.ManifestUpload), nullStr(r.ArchiveSHA256),
		r.ArchiveSize, nullStr(r.ManifestSHA256), r.ManifestSize, r.CatalogSize, r.Encrypted, r.FilesProcessed, r.FilesSkipped,
		r.TotalBytes, r.BytesTransfer, nullJSON(r.Errors), nullInt(r.DurationMS), s.tp(r.ProgressAt)}
}

var runSetColumns = []string{"config_id", "user_id", "agent_id", "start_time", "end_time", "status",
	"cancel_requested", "full_backup", "previous_run_id", "destination_id", "s3_path", "manifest_key",
	"archive_upload_id", "manifest_upload_id", "archive_sha256", "archive_size", "manifest_sha256",
	"manifest_size", "catalog_size", "encrypted", "files_processed", "files_skipped", "total_bytes", "bytes_transferred",
	"errors", "duration", "progress_at"}

// checkRun checks r's status and ids and normalises its times.
func (s *Store) checkRun(op string, r *store.Run) error {
	if !runStatuses[r.Status] {
		return fmt.Errorf("%s: invalid status %q", op, r.Status)
	}
	for _, id := range []string{r.ConfigID, r.UserID} {
		if !s.validID(id) {
			return fmt.Errorf("%s: invalid id %q", op, id)
		}
	}
	for _, id := range []string{r.AgentID, r.PreviousRunID} {
		if id != "" && !s.validID(id) {
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

// newRun gives a run to insert its ID (a new UUID v7 when empty) and CreatedAt
// (StartTime when zero), and checks it.
func (s *Store) newRun(op string, v *store.Run) error {
	if err := newID(op, &v.ID); err != nil {
		return err
	}
	if v.CreatedAt.IsZero() {
		v.CreatedAt = v.StartTime
	}
	if err := s.checkRun(op, v); err != nil {
		return err
	}
	if !s.validID(v.ID) {
		return fmt.Errorf("%s: invalid id %q", op, v.ID)
	}
	return nil
}

// insertRun inserts a run: runArgs, then created_at and id.
var insertRun = `INSERT INTO backup_logs (` + strings.Join(runSetColumns, ", ") + `, created_at, id)
	VALUES (?` + strings.Repeat(", ?", len(runSetColumns)+1) + `)`

// CreateRun inserts r. An empty ID gets a new UUID v7, a zero CreatedAt StartTime.
// A second queued or running run of one config gives ErrConflict.
func (s *Store) CreateRun(ctx context.Context, r *store.Run) error {
	v := *r
	op := "create run of config " + v.ConfigID
	if err := s.newRun(op, &v); err != nil {
		return err
	}
	_, err := s.exec(ctx, insertRun, append(s.runArgs(&v), s.t(v.CreatedAt), v.ID)...)
	if err != nil {
		return mapErr(op, err)
	}
	*r = v
	return nil
}

// GetRun returns the run with the given id.
func (s *Store) GetRun(ctx context.Context, id string) (store.Run, error) {
	if !s.validID(id) {
		return store.Run{}, notFound("get run " + id)
	}
	var r store.Run
	row := s.queryRow(ctx, `SELECT `+runColumns+` FROM backup_logs WHERE id = ?`, id)
	if err := scanRun(row, &r); err != nil {
		return store.Run{}, mapErr("get run "+id, err)
	}
	return r, nil
}

func (s *Store) queryRuns(ctx context.Context, op, rest string, args ...any) ([]store.Run, error) {
	return queryAll(ctx, s, op, `SELECT `+runColumns+` FROM backup_logs `+rest, scanRun, args...)
}

// LatestRuns returns the newest run of each configuration or agent of userID ("" for
// everyone's): one probe of idx_backup_logs_config_start or _agent_start each.
func (s *Store) LatestRuns(ctx context.Context, per store.RunsPer, userID string) ([]store.Run, error) {
	if userID != "" && !s.validID(userID) {
		return nil, nil
	}
	owners, col := "backup_configs", "config_id"
	if per == store.PerAgent {
		owners, col = "agents", "agent_id"
	}
	where, args := "", []any{}
	if userID != "" {
		where, args = " WHERE o.user_id = ?", []any{userID}
	}
	return s.queryRuns(ctx, "latest run per "+col, `WHERE id IN (SELECT (SELECT l.id FROM backup_logs l WHERE l.`+col+
		` = o.id ORDER BY l.start_time DESC, l.id DESC LIMIT 1) FROM `+owners+` o`+where+`)`, args...)
}

// ListRuns lists runs matching f, newest first.
func (s *Store) ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error) {
	var w where
	if !s.runFilter(&w, f.UserID, f.ConfigID, f.AgentID, f.Since, f.Until) {
		return nil, nil
	}
	if f.Status != "" {
		w.add("status = ?", f.Status)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	return s.queryRuns(ctx, "list runs", w.String()+` ORDER BY start_time DESC, id DESC LIMIT ? OFFSET ?`,
		append(w.args, limit, max(f.Offset, 0))...)
}

// UpdateRun writes every field of r but ID and CreatedAt. Moving a second run of a
// config to queued or running gives ErrConflict.
func (s *Store) UpdateRun(ctx context.Context, r *store.Run) error {
	op := "update run " + r.ID
	if err := s.checkRun(op, r); err != nil {
		return err
	}
	set := make([]string, len(runSetColumns))
	for i, c := range runSetColumns {
		set[i] = c + " = ?"
	}
	return s.execID(ctx, op, r.ID, `UPDATE backup_logs SET `+strings.Join(set, ", ")+` WHERE id = ?`, s.runArgs(r)...)
}

// RecordRunProgress stores a progress report of a running run. A run that is no
// longer running is left alone and gives ErrNotFound.
func (s *Store) RecordRunProgress(ctx context.Context, id string, p store.RunProgress) error {
	return s.execID(ctx, "record progress of run "+id, id,
		`UPDATE backup_logs SET files_processed = ?, files_skipped = ?, total_bytes = ?,
			bytes_transferred = ?, progress_at = ? WHERE id = ? AND status = 'running'`,
		p.FilesProcessed, p.FilesSkipped, p.TotalBytes, p.BytesTransfer, s.t(p.Time))
}

// LastCompletedRun is the newest completed run of a config.
func (s *Store) LastCompletedRun(ctx context.Context, configID string) (store.Run, error) {
	op := "last completed run of config " + configID
	if !s.validID(configID) {
		return store.Run{}, notFound(op)
	}
	runs, err := s.queryRuns(ctx, op,
		`WHERE config_id = ? AND status = 'completed' ORDER BY start_time DESC, id DESC LIMIT 1`, configID)
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
		`WHERE status = 'running' AND COALESCE(progress_at, start_time) < ? ORDER BY start_time, id`, s.t(cutoff))
}

// ActiveRuns lists an agent's queued and running runs, oldest first.
func (s *Store) ActiveRuns(ctx context.Context, agentID string) ([]store.Run, error) {
	if !s.validID(agentID) {
		return nil, nil
	}
	return s.queryRuns(ctx, "list active runs of agent "+agentID,
		`WHERE agent_id = ? AND status IN ('queued', 'running') ORDER BY start_time, id`, agentID)
}

// where collects the conditions of a WHERE clause and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return "WHERE " + strings.Join(w.conds, " AND ")
}

// runFilter adds the conditions runs are filtered by. It reports false when an id
// cannot name a row, so nothing matches.
func (s *Store) runFilter(w *where, userID, configID, agentID string, since, until time.Time) bool {
	for _, c := range []struct{ col, id string }{{"user_id", userID}, {"config_id", configID}, {"agent_id", agentID}} {
		if c.id == "" {
			continue
		}
		if !s.validID(c.id) {
			return false
		}
		w.add(c.col+" = ?", c.id)
	}
	if !since.IsZero() {
		w.add("start_time >= ?", s.t(since))
	}
	if !until.IsZero() {
		w.add("start_time < ?", s.t(until))
	}
	return true
}
