package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/backapp/backapp/internal/store"
)

// extraScanner scans a row's leading columns with the wrapped scan and the rest into extra.
type extraScanner struct {
	row   pgx.Row
	extra []any
}

func (e extraScanner) Scan(dest ...any) error { return e.row.Scan(append(dest, e.extra...)...) }

const runRecordColumns = runColumns + `, late, due_at, expired_at,
	COALESCE((SELECT c.name FROM backup_configs c WHERE c.id = backup_logs.config_id), ''),
	COALESCE((SELECT a.name FROM agents a WHERE a.id = backup_logs.agent_id), '')`

func scanRunRecord(row pgx.Row, r *store.RunRecord) error {
	if err := scanRun(extraScanner{row, []any{&r.Late, &r.DueAt, &r.ExpiredAt, &r.ConfigName, &r.AgentName}}, &r.Run); err != nil {
		return err
	}
	r.DueAt, r.ExpiredAt = utcPtr(r.DueAt), utcPtr(r.ExpiredAt)
	return nil
}

// ScheduledConfigs lists the enabled configs that have a schedule document.
func (s *Store) ScheduledConfigs(ctx context.Context) ([]store.ScheduledConfig, error) {
	const op = "list scheduled configs"
	rows, err := s.pool.Query(ctx, `SELECT id, user_id, CASE WHEN execution_mode = 'agent' THEN COALESCE(agent_id::text, '') ELSE '' END, name, schedule, last_scheduled,
		COALESCE(schedule_since, created_at) FROM backup_configs
		WHERE enabled AND schedule IS NOT NULL AND schedule <> 'null'::jsonb ORDER BY id`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []store.ScheduledConfig
	for rows.Next() {
		var c store.ScheduledConfig
		var sched []byte
		if err := rows.Scan(&c.ID, &c.UserID, &c.AgentID, &c.Name, &sched, &c.LastScheduled, &c.Since); err != nil {
			return nil, mapErr(op, err)
		}
		c.Schedule = sched
		c.LastScheduled, c.Since = utcPtr(c.LastScheduled), c.Since.UTC()
		out = append(out, c)
	}
	return out, mapErr(op, rows.Err())
}

func insertAlert(ctx context.Context, tx pgx.Tx, a *store.Alert) error {
	op := "add alert " + a.Type
	if a.ID == "" {
		id, err := newUUID(op)
		if err != nil {
			return err
		}
		a.ID = id
	}
	if !validID(a.UserID) || a.ConfigID != "" && !validID(a.ConfigID) {
		return fmt.Errorf("%s: invalid user or config id", op)
	}
	a.Timestamp = norm(a.Timestamp)
	_, err := tx.Exec(ctx, `INSERT INTO alerts (id, user_id, config_id, type, message, acknowledged, timestamp)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, a.ID, a.UserID, nullStr(a.ConfigID), a.Type, a.Message, a.Acknowledged, a.Timestamp)
	return mapErr(op, err)
}

// QueueScheduledRun inserts q.Run and records q.Slot, or gives ErrConflict.
func (s *Store) QueueScheduledRun(ctx context.Context, q store.ScheduledRun) error {
	v := *q.Run
	op := "queue scheduled run of config " + v.ConfigID
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
	if !validID(v.ID) || !validID(v.ConfigID) {
		return fmt.Errorf("%s: invalid id", op)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return mapErr(op, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	tag, err := tx.Exec(ctx, `UPDATE backup_configs SET last_scheduled = $1
		WHERE id = $2 AND (last_scheduled IS NULL OR last_scheduled < $1)`, norm(q.Slot), v.ConfigID)
	if err != nil {
		return mapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: slot %s already scheduled: %w", op, q.Slot.UTC().Format(time.RFC3339), store.ErrConflict)
	}
	args := append([]any{v.ID}, runArgs(&v)...)
	args = append(args, v.CreatedAt, q.Late, norm(q.DueAt))
	ph := make([]string, len(args))
	for i := range ph {
		ph[i] = "$" + strconv.Itoa(i+1)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO backup_logs (id, `+strings.Join(runSetColumns, ", ")+`, created_at, late, due_at)
		VALUES (`+strings.Join(ph, ", ")+`)`, args...); err != nil {
		return mapErr(op, err)
	}
	if q.Alert != nil {
		if err := insertAlert(ctx, tx, q.Alert); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return mapErr(op, err)
	}
	*q.Run = v
	return nil
}

// SkipSlot records slot without a run and flags a waiting queued run late.
func (s *Store) SkipSlot(ctx context.Context, configID string, slot, dueAt time.Time, alert store.Alert) (bool, error) {
	op := "skip slot of config " + configID
	if !validID(configID) {
		return false, notFound(op)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, mapErr(op, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	tag, err := tx.Exec(ctx, `UPDATE backup_configs SET last_scheduled = $1
		WHERE id = $2 AND (last_scheduled IS NULL OR last_scheduled < $1)`, norm(slot), configID)
	if err != nil {
		return false, mapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	tag, err = tx.Exec(ctx, `UPDATE backup_logs SET late = true, due_at = COALESCE(due_at, $1)
		WHERE config_id = $2 AND status = 'queued' AND NOT late`, norm(dueAt), configID)
	if err != nil {
		return false, mapErr(op, err)
	}
	flagged := tag.RowsAffected() > 0
	if flagged {
		if err := insertAlert(ctx, tx, &alert); err != nil {
			return false, err
		}
	}
	return flagged, mapErr(op, tx.Commit(ctx))
}

// FlagLateQueued flags scheduled runs queued since before cutoff, with an alert each.
func (s *Store) FlagLateQueued(ctx context.Context, cutoff time.Time, alert func(store.RunRecord) store.Alert) ([]store.RunRecord, error) {
	const op = "flag late queued runs"
	rows, err := s.pool.Query(ctx, `SELECT `+runRecordColumns+` FROM backup_logs
		WHERE status = 'queued' AND NOT late AND due_at IS NOT NULL AND due_at < $1 ORDER BY due_at, id`, norm(cutoff))
	if err != nil {
		return nil, mapErr(op, err)
	}
	var cands []store.RunRecord
	for rows.Next() {
		var r store.RunRecord
		if err := scanRunRecord(rows, &r); err != nil {
			rows.Close()
			return nil, mapErr(op, err)
		}
		cands = append(cands, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
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
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	tag, err := tx.Exec(ctx, `UPDATE backup_logs SET late = true WHERE id = $1 AND status = 'queued' AND NOT late`, r.ID)
	if err != nil {
		return false, err
	}
	if tag.RowsAffected() == 0 {
		return false, nil // picked up or flagged meanwhile
	}
	a := alert(r)
	if err := insertAlert(ctx, tx, &a); err != nil {
		return false, err
	}
	return true, tx.Commit(ctx)
}

// CancelRun cancels a queued run or asks a running one to stop.
func (s *Store) CancelRun(ctx context.Context, id string, at time.Time) (store.Run, error) {
	op := "cancel run " + id
	if !validID(id) {
		return store.Run{}, notFound(op)
	}
	_, err := s.pool.Exec(ctx, `UPDATE backup_logs SET
		status = CASE status WHEN 'queued' THEN 'cancelled' ELSE status END,
		end_time = CASE status WHEN 'queued' THEN $1 ELSE end_time END,
		cancel_requested = CASE status WHEN 'running' THEN true ELSE cancel_requested END
		WHERE id = $2 AND status IN ('queued', 'running')`, norm(at), id)
	if err != nil {
		return store.Run{}, mapErr(op, err)
	}
	return s.GetRun(ctx, id)
}

// GetRunRecord returns the run with its late flag and names.
func (s *Store) GetRunRecord(ctx context.Context, id string) (store.RunRecord, error) {
	op := "get run " + id
	if !validID(id) {
		return store.RunRecord{}, notFound(op)
	}
	var r store.RunRecord
	if err := scanRunRecord(s.pool.QueryRow(ctx, `SELECT `+runRecordColumns+` FROM backup_logs WHERE id = $1`, id), &r); err != nil {
		return store.RunRecord{}, mapErr(op, err)
	}
	return r, nil
}

// LatestRuns returns the newest run of each configuration or agent of userID ("" for
// everyone's): one probe of idx_backup_logs_config_start or _agent_start each.
func (s *Store) LatestRuns(ctx context.Context, per store.RunsPer, userID string) ([]store.Run, error) {
	if userID != "" && !validID(userID) {
		return nil, nil
	}
	owners, col := "backup_configs", "config_id"
	if per == store.PerAgent {
		owners, col = "agents", "agent_id"
	}
	where, args := "", []any{}
	if userID != "" {
		where, args = " WHERE o.user_id = $1", []any{userID}
	}
	return s.queryRuns(ctx, "latest run per "+col, `WHERE id IN (SELECT (SELECT l.id FROM backup_logs l WHERE l.`+col+
		` = o.id ORDER BY l.start_time DESC, l.id DESC LIMIT 1) FROM `+owners+` o`+where+`)`, args...)
}

// ListRunRecords lists runs matching f, newest first, with the count of all matches.
func (s *Store) ListRunRecords(ctx context.Context, f store.RunFilter) ([]store.RunRecord, int, error) {
	const op = "list runs"
	var b queryBuilder
	for _, c := range []struct{ col, id string }{{"user_id", f.UserID}, {"config_id", f.ConfigID}, {"agent_id", f.AgentID}} {
		if c.id == "" {
			continue
		}
		if !validID(c.id) {
			return nil, 0, nil
		}
		b.add(c.col+" = ?", c.id)
	}
	switch f.Status {
	case "":
	case "late":
		b.conds = append(b.conds, "late")
	default:
		b.add("status = ?", f.Status)
	}
	if !f.Since.IsZero() {
		b.add("start_time >= ?", norm(f.Since))
	}
	if !f.Until.IsZero() {
		b.add("start_time < ?", norm(f.Until))
	}
	w := ` WHERE ` + b.where()
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM backup_logs`+w, b.args...).Scan(&total); err != nil {
		return nil, 0, mapErr(op, err)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	q := `SELECT ` + runRecordColumns + ` FROM backup_logs` + w + ` ORDER BY start_time DESC, id DESC`
	q += ` LIMIT ` + b.arg(limit) + ` OFFSET ` + b.arg(max(f.Offset, 0))
	rows, err := s.pool.Query(ctx, q, b.args...)
	if err != nil {
		return nil, 0, mapErr(op, err)
	}
	defer rows.Close()
	var out []store.RunRecord
	for rows.Next() {
		var r store.RunRecord
		if err := scanRunRecord(rows, &r); err != nil {
			return nil, 0, mapErr(op, err)
		}
		out = append(out, r)
	}
	return out, total, mapErr(op, rows.Err())
}

// ExpireRun marks a finished run expired.
func (s *Store) ExpireRun(ctx context.Context, id string, at time.Time) error {
	op := "expire run " + id
	if !validID(id) {
		return notFound(op)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE backup_logs SET status = 'expired', expired_at = COALESCE(expired_at, $1)
		WHERE id = $2 AND status NOT IN ('queued', 'running')`, norm(at), id)
	if err != nil {
		return mapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		if _, err := s.GetRun(ctx, id); err != nil {
			return err
		}
		return fmt.Errorf("%s: it is queued or running: %w", op, store.ErrConflict)
	}
	return nil
}

// AddAlert stores a. An empty ID gets a new UUID v7.
func (s *Store) AddAlert(ctx context.Context, a *store.Alert) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return mapErr("add alert", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := insertAlert(ctx, tx, a); err != nil {
		return err
	}
	return mapErr("add alert", tx.Commit(ctx))
}

// ListAlerts lists alerts newest first.
func (s *Store) ListAlerts(ctx context.Context, userID string, limit int) ([]store.Alert, error) {
	const op = "list alerts"
	if userID != "" && !validID(userID) {
		return nil, nil
	}
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.pool.Query(ctx, `SELECT id, user_id, COALESCE(config_id::text, ''), type, message, acknowledged, timestamp
		FROM alerts WHERE $1 = '' OR user_id::text = $1 ORDER BY timestamp DESC, id DESC LIMIT $2`, userID, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []store.Alert
	for rows.Next() {
		var a store.Alert
		if err := rows.Scan(&a.ID, &a.UserID, &a.ConfigID, &a.Type, &a.Message, &a.Acknowledged, &a.Timestamp); err != nil {
			return nil, mapErr(op, err)
		}
		a.Timestamp = a.Timestamp.UTC()
		out = append(out, a)
	}
	return out, mapErr(op, rows.Err())
}
