package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/store"
)

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

// extraScanner scans a row's leading columns with the wrapped scan and the rest into extra.
type extraScanner struct {
	row   scanner
	extra []any
}

func (e extraScanner) Scan(dest ...any) error { return e.row.Scan(append(dest, e.extra...)...) }

const runRecordColumns = runColumns + `, late, due_at, expired_at,
	COALESCE((SELECT c.name FROM backup_configs c WHERE c.id = backup_logs.config_id), ''),
	COALESCE((SELECT a.name FROM agents a WHERE a.id = backup_logs.agent_id), '')`

func scanRunRecord(row scanner, r *store.RunRecord) error {
	return scanRun(extraScanner{row, []any{&r.Late, nullTimeCol{&r.DueAt}, nullTimeCol{&r.ExpiredAt},
		&r.ConfigName, &r.AgentName}}, &r.Run)
}

// ScheduledConfigs lists the enabled configs that have a schedule document.
func (s *Store) ScheduledConfigs(ctx context.Context) ([]store.ScheduledConfig, error) {
	const op = "list scheduled configs"
	return queryAll(ctx, s, op, `SELECT id, user_id, CASE WHEN execution_mode = 'agent' THEN COALESCE(CAST(agent_id AS TEXT), '') ELSE '' END,
		name, schedule, last_scheduled, COALESCE(schedule_since, created_at) FROM backup_configs
		WHERE enabled AND schedule IS NOT NULL AND schedule <> 'null' ORDER BY id`,
		func(row scanner, c *store.ScheduledConfig) error {
			return row.Scan(&c.ID, &c.UserID, &c.AgentID, &c.Name, jsonCol{&c.Schedule},
				nullTimeCol{&c.LastScheduled}, timeCol{&c.Since})
		})
}

// QueueScheduledRun inserts q.Run and records q.Slot, or gives ErrConflict.
func (s *Store) QueueScheduledRun(ctx context.Context, q store.ScheduledRun) error {
	v := *q.Run
	op := "queue scheduled run of config " + v.ConfigID
	if err := s.newRun(op, &v); err != nil {
		return err
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return mapErr(op, err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.exec(ctx, `UPDATE backup_configs SET last_scheduled = ?
		WHERE id = ? AND (last_scheduled IS NULL OR last_scheduled < ?)`, s.t(q.Slot), v.ConfigID, s.t(q.Slot))
	if n, err := affected(op, res, err); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("%s: slot %s already scheduled: %w", op, q.Slot.UTC().Format(time.RFC3339), store.ErrConflict)
	}
	args := append([]any{v.ID}, s.runArgs(&v)...)
	args = append(args, s.t(v.CreatedAt), q.Late, s.t(q.DueAt))
	if _, err := tx.exec(ctx, `INSERT INTO backup_logs (id, `+strings.Join(runSetColumns, ", ")+`, created_at, late, due_at)
		VALUES (?`+strings.Repeat(", ?", len(runSetColumns)+3)+`)`, args...); err != nil {
		return mapErr(op, err)
	}
	if q.Alert != nil {
		if _, err := s.raiseAlert(ctx, tx, q.Alert); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return mapErr(op, err)
	}
	*q.Run = v
	return nil
}

// SkipSlot records slot without a run and flags a waiting queued run late.
func (s *Store) SkipSlot(ctx context.Context, configID string, slot, dueAt time.Time, alert func(time.Time) store.Alert) (bool, error) {
	op := "skip slot of config " + configID
	if !s.validID(configID) {
		return false, notFound(op)
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return false, mapErr(op, err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.exec(ctx, `UPDATE backup_configs SET last_scheduled = ?
		WHERE id = ? AND (last_scheduled IS NULL OR last_scheduled < ?)`, s.t(slot), configID, s.t(slot))
	if n, err := affected(op, res, err); err != nil || n == 0 {
		return false, err
	}
	// The alert names the waiting run's own due time, not the slot skipped now.
	var due *time.Time
	err = tx.queryRow(ctx, `UPDATE backup_logs SET late = true, due_at = COALESCE(due_at, ?)
		WHERE config_id = ? AND status = 'queued' AND NOT late RETURNING due_at`, s.t(dueAt), configID).Scan(nullTimeCol{&due})
	if err != nil {
		if err = mapErr(op, err); errors.Is(err, store.ErrNotFound) {
			return false, mapErr(op, tx.Commit())
		}
		return false, err
	}
	a := alert(*due)
	if _, err := s.raiseAlert(ctx, tx, &a); err != nil {
		return false, err
	}
	return true, mapErr(op, tx.Commit())
}

// FlagLateQueued flags scheduled runs queued since before cutoff, with an alert each.
func (s *Store) FlagLateQueued(ctx context.Context, cutoff time.Time, alert func(store.RunRecord) store.Alert) ([]store.RunRecord, error) {
	const op = "flag late queued runs"
	cands, err := queryAll(ctx, s, op, `SELECT `+runRecordColumns+` FROM backup_logs
		WHERE status = 'queued' AND NOT late AND due_at IS NOT NULL AND due_at < ? ORDER BY due_at, id`,
		scanRunRecord, s.t(cutoff))
	if err != nil {
		return nil, err
	}
	var out []store.RunRecord
	for _, r := range cands {
		flagged, err := s.flagLate(ctx, r, alert)
		if err != nil {
			return out, mapErr(op, err)
		}
		if flagged {
			r.Late = true
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *Store) flagLate(ctx context.Context, r store.RunRecord, alert func(store.RunRecord) store.Alert) (bool, error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.exec(ctx, `UPDATE backup_logs SET late = true WHERE id = ? AND status = 'queued' AND NOT late`, r.ID)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err // n == 0: picked up or flagged meanwhile
	}
	a := alert(r)
	if _, err := s.raiseAlert(ctx, tx, &a); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// CancelRun cancels a queued run or asks a running one to stop.
func (s *Store) CancelRun(ctx context.Context, id string, at time.Time) (store.Run, error) {
	op := "cancel run " + id
	if !s.validID(id) {
		return store.Run{}, notFound(op)
	}
	_, err := s.exec(ctx, `UPDATE backup_logs SET
		status = CASE status WHEN 'queued' THEN 'cancelled' ELSE status END,
		end_time = CASE status WHEN 'queued' THEN ? ELSE end_time END,
		cancel_requested = CASE status WHEN 'running' THEN true ELSE cancel_requested END
		WHERE id = ? AND status IN ('queued', 'running')`, s.t(at), id)
	if err != nil {
		return store.Run{}, mapErr(op, err)
	}
	return s.GetRun(ctx, id)
}

// GetRunRecord returns the run with its late flag and names.
func (s *Store) GetRunRecord(ctx context.Context, id string) (store.RunRecord, error) {
	if !s.validID(id) {
		return store.RunRecord{}, notFound("get run " + id)
	}
	var r store.RunRecord
	row := s.queryRow(ctx, `SELECT `+runRecordColumns+` FROM backup_logs WHERE id = ?`, id)
	if err := scanRunRecord(row, &r); err != nil {
		return store.RunRecord{}, mapErr("get run "+id, err)
	}
	return r, nil
}

// ListRunRecords lists runs matching f, newest first, with the count of all matches
// (of at most f.CountUpTo when it is set). A page that is not full ends the matches,
// so it is counted without asking the database again.
func (s *Store) ListRunRecords(ctx context.Context, f store.RunFilter) ([]store.RunRecord, int, error) {
	const op = "list runs"
	query, w, ok := s.runRecordsQuery(f)
	if !ok {
		return nil, 0, nil
	}
	limit, offset := f.Limit, max(f.Offset, 0)
	if limit <= 0 {
		limit = 50
	}
	out, err := queryAll(ctx, s, op, query, scanRunRecord, append(slices.Clip(w.args), limit, offset)...)
	if err != nil {
		return nil, 0, err
	}
	if f.NoTotal {
		return out, 0, nil
	}
	if len(out) < limit && (len(out) > 0 || offset == 0) {
		total := offset + len(out)
		if f.CountUpTo > 0 {
			total = min(total, f.CountUpTo)
		}
		return out, total, nil
	}
	count, args := `SELECT COUNT(*) FROM backup_logs `+w.String(), w.args
	if f.CountUpTo > 0 {
		count, args = `SELECT COUNT(*) FROM (SELECT 1 FROM backup_logs `+w.String()+` LIMIT ?) AS matches`,
			append(slices.Clip(args), f.CountUpTo)
	}
	var total int
	if err := s.queryRow(ctx, count, args...).Scan(&total); err != nil {
		return nil, 0, mapErr(op, err)
	}
	return out, total, nil
}

// runRecordsQuery is ListRunRecords' query of a page of f's runs, ending with
// LIMIT ? OFFSET ? after w's arguments, and its filter w; not ok when f matches no
// run.
func (s *Store) runRecordsQuery(f store.RunFilter) (query string, w where, ok bool) {
	if !s.runFilter(&w, f.UserID, f.ConfigID, f.AgentID, f.Since, f.Until) {
		return "", w, false
	}
	switch f.Status {
	case "":
	case "late":
		w.add("late")
	default:
		w.add("status = ?", f.Status)
	}
	order := s.runOrder(f.Sort, f.Asc)
	query = `SELECT ` + runRecordColumns + ` FROM backup_logs ` + w.String() + ` ORDER BY ` + order + ` LIMIT ? OFFSET ?`
	if f.Sort != "" && f.Sort != store.RunsByStart {
		// The database finds the page's ids alone (on the sort's index, migration
		// 00018, when no filter narrows the runs further), and the page's names are
		// looked up for the page's rows only.
		query = `SELECT ` + runRecordColumns + ` FROM backup_logs WHERE id IN (SELECT id FROM backup_logs ` + w.String() +
			` ORDER BY ` + order + ` LIMIT ? OFFSET ?) ORDER BY ` + order
	}
	return query, w, true
}

// runOrder is the ORDER BY list of a history order (store.RunSorts), with id as the
// last tie-breaker so pages never overlap. Each is an index's order (docs/benchmarks.md):
// the start time's, (status, start_time), and migration 00018's (total_bytes, id) and
// the duration's two.
func (s *Store) runOrder(by string, asc bool) string {
	dir := " DESC"
	if asc {
		dir = " ASC"
	}
	switch by {
	case store.RunsByDuration:
		// Unfinished runs (no duration) last either way: "IS NULL" first, so that
		// NULLs need no NULLS LAST, which the two databases place differently and
		// whose one index could not serve both directions. Each direction has its
		// index: (d IS NULL, d, id) and (d IS NULL, d DESC, id DESC).
		d := "(" + s.d.runDuration + ")"
		return d + " IS NULL, " + d + dir + ", id" + dir
	case store.RunsBySize:
		return "total_bytes" + dir + ", id" + dir
	case store.RunsByStatus:
		return "status" + dir + ", start_time" + dir + ", id" + dir
	}
	return "start_time" + dir + ", id" + dir
}

// ExpireRun marks a finished run expired.
func (s *Store) ExpireRun(ctx context.Context, id string, at time.Time) error {
	op := "expire run " + id
	if !s.validID(id) {
		return notFound(op)
	}
	return s.execState(ctx, op, "it is queued or running", func() error { _, err := s.GetRun(ctx, id); return err },
		`UPDATE backup_logs SET status = 'expired', expired_at = COALESCE(expired_at, ?)
		WHERE id = ? AND status NOT IN ('queued', 'running')`, s.t(at), id)
}
