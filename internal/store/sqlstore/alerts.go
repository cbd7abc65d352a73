package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/store"
)

const alertColumns = `id, user_id, COALESCE(CAST(config_id AS TEXT), ''), COALESCE(CAST(agent_id AS TEXT), ''),
	type, rule, subject, ref, message, acknowledged, timestamp, occurrences, last_at, acknowledged_at, resolved_at, resolution,
	COALESCE((SELECT c.name FROM backup_configs c WHERE c.id = alerts.config_id), ''),
	COALESCE((SELECT g.name FROM agents g WHERE g.id = alerts.agent_id), '')`

func scanAlert(row scanner, a *store.Alert) error {
	return row.Scan(&a.ID, &a.UserID, &a.ConfigID, &a.AgentID, &a.Type, &a.Rule, &a.Subject, &a.Ref, &a.Message,
		&a.Acknowledged, timeCol{&a.Timestamp}, &a.Occurrences, nullTimeCol{&a.LastAt}, nullTimeCol{&a.AckedAt},
		nullTimeCol{&a.ResolvedAt}, &a.Resolution, &a.ConfigName, &a.AgentName)
}

func (s *Store) checkAlert(op string, a *store.Alert) error {
	if err := newID(op, &a.ID); err != nil {
		return err
	}
	if !s.validID(a.UserID) || a.ConfigID != "" && !s.validID(a.ConfigID) || a.AgentID != "" && !s.validID(a.AgentID) {
		return fmt.Errorf("%s: invalid user, config or agent id", op)
	}
	if a.Rule == "" {
		a.Rule = a.Type
	}
	if a.Subject == "" {
		a.Subject = a.ID
	}
	a.Timestamp = norm(a.Timestamp)
	if a.Occurrences <= 0 {
		a.Occurrences = 1
	}
	return nil
}

// raiseAlert opens or counts a in tx; see store.Alerts.RaiseAlert.
func (s *Store) raiseAlert(ctx context.Context, tx *tx, a *store.Alert) (bool, error) {
	op := "raise alert " + a.Rule
	if err := s.checkAlert(op, a); err != nil {
		return false, err
	}
	// The partial unique index keeps one open alert per rule and subject; a replica
	// racing this one waits on it and then counts only a ref it has not seen.
	err := tx.queryRow(ctx, `INSERT INTO alerts (id, user_id, config_id, agent_id, type, rule, subject, ref, message,
		acknowledged, timestamp, occurrences)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
		ON CONFLICT (rule, subject) WHERE resolved_at IS NULL AND subject <> '' DO UPDATE SET
			occurrences = alerts.occurrences + 1, last_at = excluded.timestamp, ref = excluded.ref,
			message = excluded.message, type = excluded.type, acknowledged = false, acknowledged_at = NULL
		WHERE alerts.ref <> excluded.ref
		RETURNING id, occurrences, timestamp`,
		a.ID, a.UserID, nullStr(a.ConfigID), nullStr(a.AgentID), a.Type, a.Rule, a.Subject, a.Ref, a.Message,
		a.Acknowledged, s.t(a.Timestamp)).Scan(&a.ID, &a.Occurrences, timeCol{&a.Timestamp})
	if err == nil {
		return true, nil
	}
	if err = mapErr(op, err); !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	// Same occurrence: nothing changed; give the caller the stored row.
	err = scanAlert(tx.queryRow(ctx, `SELECT `+alertColumns+` FROM alerts WHERE rule = ? AND subject = ? AND resolved_at IS NULL`,
		a.Rule, a.Subject), a)
	return false, mapErr(op, err)
}

// AddAlert stores a as a new row.
func (s *Store) AddAlert(ctx context.Context, a *store.Alert) error {
	const op = "add alert"
	if err := s.checkAlert(op, a); err != nil {
		return err
	}
	_, err := s.exec(ctx, `INSERT INTO alerts (id, user_id, config_id, agent_id, type, rule, subject, ref, message, acknowledged, timestamp)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.ID, a.UserID, nullStr(a.ConfigID), nullStr(a.AgentID), a.Type, a.Rule,
		a.Subject, a.Ref, a.Message, a.Acknowledged, s.t(a.Timestamp))
	return mapErr(op, err)
}

// RaiseAlert opens or counts a.
func (s *Store) RaiseAlert(ctx context.Context, a *store.Alert) (bool, error) {
	op := "raise alert " + a.Rule
	tx, err := s.begin(ctx)
	if err != nil {
		return false, mapErr(op, err)
	}
	defer func() { _ = tx.Rollback() }()
	raised, err := s.raiseAlert(ctx, tx, a)
	if err != nil {
		return false, err
	}
	return raised, mapErr(op, tx.Commit())
}

// ResolveAlert resolves the open alert of rule about subject.
func (s *Store) ResolveAlert(ctx context.Context, rule, subject string, at time.Time, resolution string) (store.Alert, error) {
	op := "resolve alert " + rule + " of " + subject
	var id string
	err := s.writeRow(ctx, `UPDATE alerts SET resolved_at = ?, resolution = ?
		WHERE rule = ? AND subject = ? AND resolved_at IS NULL RETURNING id`, s.t(at), resolution, rule, subject).Scan(&id)
	if err != nil {
		return store.Alert{}, mapErr(op, err)
	}
	return s.GetAlert(ctx, id)
}

// GetAlert returns one alert.
func (s *Store) GetAlert(ctx context.Context, id string) (store.Alert, error) {
	op := "get alert " + id
	if !s.validID(id) {
		return store.Alert{}, notFound(op)
	}
	var a store.Alert
	if err := scanAlert(s.queryRow(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = ?`, id), &a); err != nil {
		return store.Alert{}, mapErr(op, err)
	}
	return a, nil
}

// OpenAlerts lists the unresolved alerts of rule.
func (s *Store) OpenAlerts(ctx context.Context, rule string) ([]store.Alert, error) {
	var w where
	w.add("resolved_at IS NULL")
	if rule != "" {
		w.add("rule = ?", rule)
	}
	return queryAll(ctx, s, "list open alerts", `SELECT `+alertColumns+` FROM alerts `+w.String()+` ORDER BY timestamp, id`, scanAlert, w.args...)
}

// ListAlerts lists alerts matching f in f's order (newest last occurrence first by
// default).
func (s *Store) ListAlerts(ctx context.Context, f store.AlertFilter) ([]store.Alert, int, error) {
	const op = "list alerts"
	var w where
	for _, c := range []struct{ col, id string }{{"user_id", f.UserID}, {"config_id", f.ConfigID}, {"agent_id", f.AgentID}} {
		if c.id == "" {
			continue
		}
		if !s.validID(c.id) {
			return nil, 0, nil
		}
		w.add(c.col+" = ?", c.id)
	}
	switch f.State {
	case "":
	case store.AlertOpen:
		w.add("resolved_at IS NULL AND NOT acknowledged")
	case store.AlertAcknowledged:
		w.add("resolved_at IS NULL AND acknowledged")
	case store.AlertResolved:
		w.add("resolved_at IS NOT NULL")
	default:
		return nil, 0, fmt.Errorf("%s: unknown state %q (open, acknowledged or resolved)", op, f.State)
	}
	if f.Type != "" {
		w.add("type = ?", f.Type)
	}
	if f.Rule != "" {
		w.add("rule = ?", f.Rule)
	}
	var total int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM alerts `+w.String(), w.args...).Scan(&total); err != nil {
		return nil, 0, mapErr(op, err)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	out, err := queryAll(ctx, s, op, `SELECT `+alertColumns+` FROM alerts `+w.String()+
		` ORDER BY `+alertOrder(f.Sort, f.Asc)+` LIMIT ? OFFSET ?`, scanAlert, append(w.args, limit, max(f.Offset, 0))...)
	return out, total, err
}

// alertOrder is the ORDER BY list of an alerts order (store.AlertSorts), with id as
// the last tie-breaker so pages never overlap.
func alertOrder(by string, asc bool) string {
	dir := " DESC"
	if asc {
		dir = " ASC"
	}
	last := "COALESCE(last_at, timestamp)" + dir + ", id" + dir
	switch by {
	case store.AlertsByType:
		return "type" + dir + ", " + last
	case store.AlertsByCount:
		return "occurrences" + dir + ", " + last
	case store.AlertsByState:
		// open, acknowledged, resolved: the order the states come in.
		return "CASE WHEN resolved_at IS NOT NULL THEN 2 WHEN acknowledged THEN 1 ELSE 0 END" + dir + ", " + last
	}
	return last
}

// AcknowledgeAlerts acknowledges userID's unresolved alerts among ids.
func (s *Store) AcknowledgeAlerts(ctx context.Context, userID string, ids []string, at time.Time) (int, error) {
	const op = "acknowledge alerts"
	var valid []any
	for _, id := range ids {
		if s.validID(id) {
			valid = append(valid, id)
		}
	}
	if len(valid) == 0 || !s.validID(userID) {
		return 0, nil
	}
	res, err := s.exec(ctx, `UPDATE alerts SET acknowledged = true, acknowledged_at = ?
		WHERE user_id = ? AND NOT acknowledged AND resolved_at IS NULL AND id IN (?`+strings.Repeat(", ?", len(valid)-1)+`)`,
		append([]any{s.t(at), userID}, valid...)...)
	n, err := affected(op, res, err)
	return int(n), err
}

// CountOpenAlerts counts userID's open alerts.
func (s *Store) CountOpenAlerts(ctx context.Context, userID string) (int, error) {
	if !s.validID(userID) {
		return 0, nil
	}
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM alerts WHERE user_id = ? AND resolved_at IS NULL AND NOT acknowledged`, userID).Scan(&n)
	return n, mapErr("count open alerts", err)
}

// ConfigAges lists every enabled config with its last successful run's end.
func (s *Store) ConfigAges(ctx context.Context) ([]store.ConfigAge, error) {
	return queryAll(ctx, s, "list config ages", `SELECT c.id, c.user_id,
		CASE WHEN c.execution_mode = 'agent' THEN COALESCE(CAST(c.agent_id AS TEXT), '') ELSE '' END, c.name, c.schedule,
		c.options, COALESCE(c.schedule_since, c.created_at),
		(SELECT MAX(b.end_time) FROM backup_logs b WHERE b.config_id = c.id AND b.status = 'completed')
		FROM backup_configs c WHERE c.enabled ORDER BY c.id`,
		func(row scanner, c *store.ConfigAge) error {
			return row.Scan(&c.ID, &c.UserID, &c.AgentID, &c.Name, jsonCol{&c.Schedule}, jsonCol{&c.Options}, timeCol{&c.Since},
				nullTimeCol{&c.LastSuccess})
		})
}

// CountRunsByStatus counts every run by status.
func (s *Store) CountRunsByStatus(ctx context.Context) (map[string]int, error) {
	return s.countBy(ctx, "count runs by status", `SELECT status, COUNT(*) FROM backup_logs GROUP BY status`)
}

// CountOpenAlertsByType counts every unresolved alert by type.
func (s *Store) CountOpenAlertsByType(ctx context.Context) (map[string]int, error) {
	return s.countBy(ctx, "count open alerts by type", `SELECT type, COUNT(*) FROM alerts WHERE resolved_at IS NULL GROUP BY type`)
}

func (s *Store) countBy(ctx context.Context, op, query string) (map[string]int, error) {
	type kv struct {
		k string
		n int
	}
	rows, err := queryAll(ctx, s, op, query, func(row scanner, v *kv) error { return row.Scan(&v.k, &v.n) })
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.k] = r.n
	}
	return out, nil
}
