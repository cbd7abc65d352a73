package sqlstore

import (
	"context"
	"errors"
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
	if !f.NoTotal {
		if err := s.queryRow(ctx, `SELECT COUNT(*) FROM backup_logs `+w.String(), w.args...).Scan(&total); err != nil {
			return nil, 0, mapErr(op, err)
		}
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
