package sqlstore

import (
	"context"
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
	return queryAll(ctx, s, op, `SELECT id, user_id, CASE WHEN execution_mode = 'agent' THEN COALESCE(CAST(agent_id AS TEXT), '') ELSE '' END,
		name, schedule, last_scheduled, COALESCE(schedule_since, created_at) FROM backup_configs
		WHERE enabled AND schedule IS NOT NULL AND schedule <> 'null' ORDER BY id`,
		func(row scanner, c *store.ScheduledConfig) error {
			return row.Scan(&c.ID, &c.UserID, &c.AgentID, &c.Name, jsonCol{&c.Schedule},
				nullTimeCol{&c.LastScheduled}, timeCol{&c.Since})
		})
}

func (s *Store) insertAlert(ctx context.Context, tx *tx, a *store.Alert) error {
	op := "add alert " + a.Type
	if err := newID(op, &a.ID); err != nil {
		return err
	}
	if !s.validID(a.UserID) || a.ConfigID != "" && !s.validID(a.ConfigID) {
		return fmt.Errorf("%s: invalid user or config id", op)
	}
	a.Timestamp = norm(a.Timestamp)
	_, err := tx.exec(ctx, `INSERT INTO alerts (id, user_id, config_id, type, message, acknowledged, timestamp)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, a.ID, a.UserID, nullStr(a.ConfigID), a.Type, a.Message, a.Acknowledged, s.t(a.Timestamp))
	return mapErr(op, err)
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
	res, err = tx.exec(ctx, `UPDATE backup_logs SET late = true, due_at = COALESCE(due_at, ?)
		WHERE config_id = ? AND status = 'queued' AND NOT late`, s.t(dueAt), configID)
	n, err := affected(op, res, err)
	if err != nil {
		return false, err
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
	if err := s.insertAlert(ctx, tx, &a); err != nil {
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

// ListRunRecords lists runs matching f, newest first, with the count of all matches.
func (s *Store) ListRunRecords(ctx context.Context, f store.RunFilter) ([]store.RunRecord, int, error) {
	const op = "list runs"
	var w where
	if !s.runFilter(&w, f.UserID, f.ConfigID, f.AgentID, f.Since, f.Until) {
		return nil, 0, nil
	}
	switch f.Status {
	case "":
	case "late":
		w.add("late")
	default:
		w.add("status = ?", f.Status)
	}
	var total int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM backup_logs `+w.String(), w.args...).Scan(&total); err != nil {
		return nil, 0, mapErr(op, err)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	out, err := queryAll(ctx, s, op, `SELECT `+runRecordColumns+` FROM backup_logs `+w.String()+
		` ORDER BY start_time DESC, id DESC LIMIT ? OFFSET ?`, scanRunRecord, append(w.args, limit, max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
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

// AddAlert stores a. An empty ID gets a new UUID v7.
func (s *Store) AddAlert(ctx context.Context, a *store.Alert) error {
	tx, err := s.begin(ctx)
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
	scan := func(row scanner, a *store.Alert) error {
		return row.Scan(&a.ID, &a.UserID, &a.ConfigID, &a.Type, &a.Message, &a.Acknowledged, timeCol{&a.Timestamp})
	}
	const q = `SELECT id, user_id, COALESCE(CAST(config_id AS TEXT), ''), type, message, acknowledged, timestamp FROM alerts `
	if userID == "" {
		return queryAll(ctx, s, op, q+`ORDER BY timestamp DESC, id DESC LIMIT ?`, scan, limit)
	}
	if !s.validID(userID) {
		return nil, nil
	}
	return queryAll(ctx, s, op, q+`WHERE user_id = ? ORDER BY timestamp DESC, id DESC LIMIT ?`, scan, userID, limit)
}
