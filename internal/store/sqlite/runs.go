package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/store"
)

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
	rows, err := s.r.QueryContext(ctx, `SELECT id, user_id, CASE WHEN execution_mode = 'agent' THEN COALESCE(agent_id, '') ELSE '' END, name, schedule, last_scheduled,
		COALESCE(schedule_since, created_at) FROM backup_configs
		WHERE enabled = 1 AND schedule IS NOT NULL AND schedule <> 'null' ORDER BY id`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []store.ScheduledConfig
	for rows.Next() {
		var c store.ScheduledConfig
		if err := rows.Scan(&c.ID, &c.UserID, &c.AgentID, &c.Name, jsonCol{&c.Schedule},
			nullTimeCol{&c.LastScheduled}, timeCol{&c.Since}); err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, c)
	}
	return out, mapErr(op, rows.Err())
}

func (s *Store) insertAlert(ctx context.Context, tx *sql.Tx, a *store.Alert) error {
	op := "add alert " + a.Type
	if a.ID == "" {
		id, err := newUUID(op)
		if err != nil {
			return err
		}
		a.ID = id
	}
	a.Timestamp = norm(a.Timestamp)
	_, err := tx.ExecContext(ctx, `INSERT INTO alerts (id, user_id, config_id, type, message, acknowledged, timestamp)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, a.ID, a.UserID, nullStr(a.ConfigID), a.Type, a.Message, a.Acknowledged, fmtTime(a.Timestamp))
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
	normRun(&v)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(op, err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, `UPDATE backup_configs SET last_scheduled = ?
		WHERE id = ? AND (last_scheduled IS NULL OR last_scheduled < ?)`, fmtTime(q.Slot), v.ConfigID, fmtTime(q.Slot))
	if err != nil {
		return mapErr(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapErr(op, err)
	} else if n == 0 {
		return fmt.Errorf("%s: slot %s already scheduled: %w", op, fmtTime(q.Slot), store.ErrConflict)
	}
	args := append([]any{v.ID}, runArgs(&v)...)
	args = append(args, fmtTime(v.CreatedAt), q.Late, fmtTime(q.DueAt))
	if _, err := tx.ExecContext(ctx, `INSERT INTO backup_logs (id, `+strings.Join(runSetColumns, ", ")+`, created_at, late, due_at)
		VALUES (?`+strings.Repeat(", ?", len(runSetColumns)+3)+`)`, args...); err != nil {
		return mapErr(op, err)
	}
	if q.Alert != nil {
		if err := s.insertAlert(ctx, tx, q.Alert); err != nil {
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
func (s *Store) SkipSlot(ctx context.Context, configID string, slot, dueAt time.Time, alert store.Alert) (bool, error) {
	op := "skip slot of config " + configID
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, mapErr(op, err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, `UPDATE backup_configs SET last_scheduled = ?
		WHERE id = ? AND (last_scheduled IS NULL OR last_scheduled < ?)`, fmtTime(slot), configID, fmtTime(slot))
	if err != nil {
		return false, mapErr(op, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, mapErr(op, err)
	}
	res, err = tx.ExecContext(ctx, `UPDATE backup_logs SET late = 1, due_at = COALESCE(due_at, ?)
		WHERE config_id = ? AND status = 'queued' AND late = 0`, fmtTime(dueAt), configID)
	if err != nil {
		return false, mapErr(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, mapErr(op, err)
	}
	if n > 0 {
		if err := s.insertAlert(ctx, tx, &alert); err != nil {
			return false, err
		}
	}
	return n > 0, mapErr(op, tx.Commit())
}

// FlagLateQueued flags scheduled runs queued since before cutoff, with an alert each.
func (s *Store) FlagLateQueued(ctx context.Context, cutoff time.Time, alert func(store.RunRecord) store.Alert) ([]store.RunRecord, error) {
	const op = "flag late queued runs"
	rows, err := s.r.QueryContext(ctx, `SELECT `+runRecordColumns+` FROM backup_logs
		WHERE status = 'queued' AND late = 0 AND due_at IS NOT NULL AND due_at < ? ORDER BY due_at, id`, fmtTime(cutoff))
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
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return out, mapErr(op, err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE backup_logs SET late = 1 WHERE id = ? AND status = 'queued' AND late = 0`, r.ID)
		n := int64(0)
		if err == nil {
			n, err = res.RowsAffected()
		}
		if err == nil && n > 0 {
			a := alert(r)
			err = s.insertAlert(ctx, tx, &a)
		}
		if err == nil {
			err = tx.Commit()
		}
		if err != nil {
			_ = tx.Rollback()
			return out, mapErr(op, err)
		}
		if n > 0 {
			r.Late = true
			out = append(out, r)
		}
	}
	return out, nil
}

// CancelRun cancels a queued run or asks a running one to stop.
func (s *Store) CancelRun(ctx context.Context, id string, at time.Time) (store.Run, error) {
	op := "cancel run " + id
	_, err := s.w.ExecContext(ctx, `UPDATE backup_logs SET
		status = CASE status WHEN 'queued' THEN 'cancelled' ELSE status END,
		end_time = CASE status WHEN 'queued' THEN ? ELSE end_time END,
		cancel_requested = CASE status WHEN 'running' THEN 1 ELSE cancel_requested END
		WHERE id = ? AND status IN ('queued', 'running')`, fmtTime(at), id)
	if err != nil {
		return store.Run{}, mapErr(op, err)
	}
	return s.GetRun(ctx, id)
}

// GetRunRecord returns the run with its late flag and names.
func (s *Store) GetRunRecord(ctx context.Context, id string) (store.RunRecord, error) {
	var r store.RunRecord
	row := s.r.QueryRowContext(ctx, `SELECT `+runRecordColumns+` FROM backup_logs WHERE id = ?`, id)
	if err := scanRunRecord(row, &r); err != nil {
		return store.RunRecord{}, mapErr("get run "+id, err)
	}
	return r, nil
}

// LatestRuns returns the newest run of each configuration or agent of userID ("" for
// everyone's): one probe of idx_backup_logs_config_start or _agent_start each.
func (s *Store) LatestRuns(ctx context.Context, per store.RunsPer, userID string) ([]store.Run, error) {
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

// ListRunRecords lists runs matching f, newest first, with the count of all matches.
func (s *Store) ListRunRecords(ctx context.Context, f store.RunFilter) ([]store.RunRecord, int, error) {
	const op = "list runs"
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
	if f.Status == "late" {
		where = append(where, "late = 1")
	} else if f.Status != "" {
		add("status = ?", f.Status)
	}
	if !f.Since.IsZero() {
		add("start_time >= ?", fmtTime(f.Since))
	}
	if !f.Until.IsZero() {
		add("start_time < ?", fmtTime(f.Until))
	}
	w := ` WHERE ` + strings.Join(where, " AND ")
	var total int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM backup_logs`+w, args...).Scan(&total); err != nil {
		return nil, 0, mapErr(op, err)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+runRecordColumns+` FROM backup_logs`+w+
		` ORDER BY start_time DESC, id DESC LIMIT ? OFFSET ?`, append(args, limit, max(f.Offset, 0))...)
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
	res, err := s.w.ExecContext(ctx, `UPDATE backup_logs SET status = 'expired', expired_at = COALESCE(expired_at, ?)
		WHERE id = ? AND status NOT IN ('queued', 'running')`, fmtTime(at), id)
	if err != nil {
		return mapErr(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapErr(op, err)
	} else if n == 0 {
		if _, err := s.GetRun(ctx, id); err != nil {
			return err
		}
		return fmt.Errorf("%s: it is queued or running: %w", op, store.ErrConflict)
	}
	return nil
}

// AddAlert stores a. An empty ID gets a new UUID v7.
func (s *Store) AddAlert(ctx context.Context, a *store.Alert) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return mapErr("add alert", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := s.insertAlert(ctx, tx, a); err != nil {
		return err
	}
	return mapErr("add alert", tx.Commit())
}

// ListAlerts lists alerts newest first.
func (s *Store) ListAlerts(ctx context.Context, userID string, limit int) ([]store.Alert, error) {
	const op = "list alerts"
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, user_id, COALESCE(config_id, ''), type, message, acknowledged, timestamp
		FROM alerts WHERE ? = '' OR user_id = ? ORDER BY timestamp DESC, id DESC LIMIT ?`, userID, userID, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []store.Alert
	for rows.Next() {
		var a store.Alert
		if err := rows.Scan(&a.ID, &a.UserID, &a.ConfigID, &a.Type, &a.Message, &a.Acknowledged, timeCol{&a.Timestamp}); err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, a)
	}
	return out, mapErr(op, rows.Err())
}
