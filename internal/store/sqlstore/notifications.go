package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/store"
)

const channelColumns = `id, user_id, name, kind, preset, target, secret, events, config_ids, enabled, created_at, updated_at`

func scanChannel(row scanner, c *store.Channel) error {
	var events, configs string
	err := row.Scan(&c.ID, &c.UserID, &c.Name, &c.Kind, &c.Preset, &c.Target, &c.Secret, &events, &configs, &c.Enabled,
		timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt})
	c.Events, c.ConfigIDs = splitList(events), splitList(configs)
	return err
}

// joinList stores a list as ",a,b," (so "LIKE '%,a,%'" finds a); splitList reads it.
func joinList(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return "," + strings.Join(l, ",") + ","
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

func (s *Store) checkChannel(op string, c *store.Channel) error {
	if !s.validID(c.UserID) {
		return fmt.Errorf("%s: invalid user id", op)
	}
	for _, l := range [][]string{c.Events, c.ConfigIDs} {
		for _, v := range l {
			if v == "" || strings.Contains(v, ",") {
				return fmt.Errorf("%s: list item %q is empty or has a comma", op, v)
			}
		}
	}
	c.CreatedAt, c.UpdatedAt = norm(c.CreatedAt), norm(c.UpdatedAt)
	return nil
}

// CreateChannel stores c.
func (s *Store) CreateChannel(ctx context.Context, c *store.Channel) error {
	const op = "create notification channel"
	if err := newID(op, &c.ID); err != nil {
		return err
	}
	if err := s.checkChannel(op, c); err != nil {
		return err
	}
	_, err := s.exec(ctx, `INSERT INTO notification_channels (`+channelColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.UserID, c.Name, c.Kind, c.Preset, c.Target, c.Secret, joinList(c.Events), joinList(c.ConfigIDs), c.Enabled,
		s.t(c.CreatedAt), s.t(c.UpdatedAt))
	return mapErr(op, err)
}

// UpdateChannel replaces c's fields.
func (s *Store) UpdateChannel(ctx context.Context, c *store.Channel) error {
	op := "update notification channel " + c.ID
	if err := s.checkChannel(op, c); err != nil {
		return err
	}
	return s.execID(ctx, op, c.ID, `UPDATE notification_channels SET name = ?, kind = ?, preset = ?, target = ?, secret = ?,
		events = ?, config_ids = ?, enabled = ?, updated_at = ? WHERE id = ?`,
		c.Name, c.Kind, c.Preset, c.Target, c.Secret, joinList(c.Events), joinList(c.ConfigIDs), c.Enabled, s.t(c.UpdatedAt))
}

// GetChannel returns one channel.
func (s *Store) GetChannel(ctx context.Context, id string) (store.Channel, error) {
	op := "get notification channel " + id
	if !s.validID(id) {
		return store.Channel{}, notFound(op)
	}
	var c store.Channel
	err := scanChannel(s.queryRow(ctx, `SELECT `+channelColumns+` FROM notification_channels WHERE id = ?`, id), &c)
	return c, mapErr(op, err)
}

// ListChannels lists userID's channels by name.
func (s *Store) ListChannels(ctx context.Context, userID string) ([]store.Channel, error) {
	if !s.validID(userID) {
		return nil, nil
	}
	return queryAll(ctx, s, "list notification channels", `SELECT `+channelColumns+` FROM notification_channels
		WHERE user_id = ? ORDER BY name, id`, scanChannel, userID)
}

// DeleteChannel deletes a channel and drops its undelivered messages.
func (s *Store) DeleteChannel(ctx context.Context, id string, at time.Time, reason string) (int, error) {
	op := "delete notification channel " + id
	if !s.validID(id) {
		return 0, notFound(op)
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return 0, mapErr(op, err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.exec(ctx, `UPDATE notification_outbox SET state = ?, last_error = ?, finished_at = ?, locked_by = '', locked_until = NULL
		WHERE channel_id = ? AND state IN (?, ?, ?)`, store.MessageDropped, reason, s.t(at), id,
		store.MessageQueued, store.MessageSending, store.MessageFailed)
	dropped, err := affected(op, res, err)
	if err != nil {
		return 0, err
	}
	res, err = tx.exec(ctx, `DELETE FROM notification_channels WHERE id = ?`, id)
	n, err := affected(op, res, err)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, notFound(op)
	}
	return int(dropped), mapErr(op, tx.Commit())
}

// enqueueFor adds notice about a for each of its user's channels that want it, in tx.
func (s *Store) enqueueFor(ctx context.Context, tx *tx, a store.Alert, notice store.Notice, now time.Time) error {
	const op = "enqueue notifications"
	rows, err := tx.query(ctx, `SELECT id, events, config_ids FROM notification_channels WHERE user_id = ? AND enabled`, a.UserID)
	if err != nil {
		return mapErr(op, err)
	}
	var targets []string
	for rows.Next() {
		var id, events, configs string
		if err := rows.Scan(&id, &events, &configs); err != nil {
			rows.Close()
			return mapErr(op, err)
		}
		if id == notice.ExceptChannel || !slices.Contains(splitList(events), notice.Event) {
			continue
		}
		if cs := splitList(configs); len(cs) > 0 && !slices.Contains(cs, a.ConfigID) {
			continue
		}
		targets = append(targets, id)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return mapErr(op, err)
	}
	for _, ch := range targets {
		m := store.Message{ChannelID: ch, UserID: a.UserID, AlertID: a.ID, Event: notice.Event, Dedupe: notice.Dedupe,
			Payload: notice.Payload, NextAttemptAt: now, CreatedAt: now}
		if _, err := s.enqueue(ctx, tx, &m); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) enqueue(ctx context.Context, tx *tx, m *store.Message) (bool, error) {
	const op = "enqueue notification"
	if err := newID(op, &m.ID); err != nil {
		return false, err
	}
	if !s.validID(m.ChannelID) || !s.validID(m.UserID) || m.AlertID != "" && !s.validID(m.AlertID) {
		return false, fmt.Errorf("%s: invalid channel, user or alert id", op)
	}
	if m.Dedupe == "" {
		m.Dedupe = m.ID
	}
	m.State, m.Attempts = store.MessageQueued, 0
	m.CreatedAt, m.NextAttemptAt = norm(m.CreatedAt), norm(m.NextAttemptAt)
	res, err := tx.exec(ctx, `INSERT INTO notification_outbox (id, channel_id, user_id, alert_id, event, dedupe, payload, state,
		next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (channel_id, dedupe) DO NOTHING`,
		m.ID, m.ChannelID, m.UserID, nullStr(m.AlertID), m.Event, m.Dedupe, string(m.Payload), m.State,
		s.t(m.NextAttemptAt), s.t(m.CreatedAt))
	n, err := affected(op, res, err)
	return n > 0, err
}

// Enqueue adds m unless its channel already has its Dedupe.
func (s *Store) Enqueue(ctx context.Context, m *store.Message) (bool, error) {
	const op = "enqueue notification"
	tx, err := s.begin(ctx)
	if err != nil {
		return false, mapErr(op, err)
	}
	defer func() { _ = tx.Rollback() }()
	added, err := s.enqueue(ctx, tx, m)
	if err != nil {
		return false, err
	}
	return added, mapErr(op, tx.Commit())
}

// RaiseAlertNotify raises a and enqueues its notice in one transaction.
func (s *Store) RaiseAlertNotify(ctx context.Context, a *store.Alert, notice func(store.Alert) store.Notice) (bool, error) {
	op := "raise alert " + a.Rule
	tx, err := s.begin(ctx)
	if err != nil {
		return false, mapErr(op, err)
	}
	defer func() { _ = tx.Rollback() }()
	raised, err := s.raiseAlert(ctx, tx, a)
	if err != nil || !raised {
		return raised, err
	}
	// The notice names the configuration and the agent, which RETURNING does not give.
	if err := scanAlert(tx.queryRow(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = ?`, a.ID), a); err != nil {
		return false, mapErr(op, err)
	}
	if err := s.enqueueFor(ctx, tx, *a, notice(*a), a.Last()); err != nil {
		return false, err
	}
	return raised, mapErr(op, tx.Commit())
}

// ResolveAlertNotify resolves an alert and enqueues its notice in one transaction.
func (s *Store) ResolveAlertNotify(ctx context.Context, rule, subject string, at time.Time, resolution string,
	notice func(store.Alert) store.Notice) (store.Alert, error) {
	op := "resolve alert " + rule + " of " + subject
	tx, err := s.begin(ctx)
	if err != nil {
		return store.Alert{}, mapErr(op, err)
	}
	defer func() { _ = tx.Rollback() }()
	var id string
	err = tx.queryRow(ctx, `UPDATE alerts SET resolved_at = ?, resolution = ?
		WHERE rule = ? AND subject = ? AND resolved_at IS NULL RETURNING id`, s.t(at), resolution, rule, subject).Scan(&id)
	if err != nil {
		return store.Alert{}, mapErr(op, err)
	}
	var a store.Alert
	if err := scanAlert(tx.queryRow(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = ?`, id), &a); err != nil {
		return store.Alert{}, mapErr(op, err)
	}
	if err := s.enqueueFor(ctx, tx, a, notice(a), at); err != nil {
		return store.Alert{}, err
	}
	return a, mapErr(op, tx.Commit())
}

const messageColumns = `id, COALESCE(CAST(channel_id AS TEXT), ''), user_id, COALESCE(CAST(alert_id AS TEXT), ''), event, dedupe,
	payload, state, attempts, next_attempt_at, locked_by, locked_until, last_error, created_at, finished_at`

func scanMessage(row scanner, m *store.Message) error {
	var payload string
	err := row.Scan(&m.ID, &m.ChannelID, &m.UserID, &m.AlertID, &m.Event, &m.Dedupe, &payload, &m.State, &m.Attempts,
		timeCol{&m.NextAttemptAt}, &m.LockedBy, nullTimeCol{&m.LockedUntil}, &m.LastError, timeCol{&m.CreatedAt},
		nullTimeCol{&m.FinishedAt})
	m.Payload = []byte(payload)
	return err
}

// ClaimMessages leases due messages to worker. On PostgreSQL, SKIP LOCKED lets
// replicas claim at once without waiting on each other's rows; on SQLite the one
// writer connection serialises claims.
func (s *Store) ClaimMessages(ctx context.Context, worker string, now time.Time, lease time.Duration, limit int) ([]store.Message, error) {
	const op = "claim notifications"
	if limit <= 0 {
		limit = 1
	}
	rows, err := s.writeQuery(ctx, `UPDATE notification_outbox SET state = ?, locked_by = ?, locked_until = ?, attempts = attempts + 1
		WHERE id IN (SELECT id FROM notification_outbox
			WHERE (state IN (?, ?) AND next_attempt_at <= ?) OR (state = ? AND locked_until < ?)
			ORDER BY next_attempt_at, id LIMIT ?`+s.d.skipLocked+`)
		RETURNING `+messageColumns,
		store.MessageSending, worker, s.t(now.Add(lease)),
		store.MessageQueued, store.MessageFailed, s.t(now), store.MessageSending, s.t(now), limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []store.Message
	for rows.Next() {
		var m store.Message
		if err := scanMessage(rows, &m); err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	slices.SortFunc(out, func(a, b store.Message) int { return a.NextAttemptAt.Compare(b.NextAttemptAt) })
	return out, nil
}

// FinishMessage ends worker's attempt at message id.
func (s *Store) FinishMessage(ctx context.Context, id, worker string, at time.Time, o store.Outcome) error {
	op := "finish notification " + id
	if !s.validID(id) {
		return notFound(op)
	}
	var finished, next any
	switch o.State {
	case store.MessageDelivered, store.MessageDead, store.MessageDropped:
		finished, next = s.t(at), s.t(at)
	case store.MessageFailed:
		next = s.t(o.Next)
	default:
		return fmt.Errorf("%s: cannot finish in state %q", op, o.State)
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return mapErr(op, err)
	}
	defer func() { _ = tx.Rollback() }()
	var channel string
	err = tx.queryRow(ctx, `UPDATE notification_outbox SET state = ?, next_attempt_at = ?, finished_at = ?, last_error = ?,
		locked_by = '', locked_until = NULL
		WHERE id = ? AND state = ? AND locked_by = ? RETURNING COALESCE(CAST(channel_id AS TEXT), '')`,
		o.State, next, finished, o.LastError, id, store.MessageSending, worker).Scan(&channel)
	if err != nil {
		if err = mapErr(op, err); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%s: %w: worker %s no longer holds it", op, store.ErrConflict, worker)
		}
		return err
	}
	if !o.Attempt.At.IsZero() && channel != "" {
		a := o.Attempt
		a.MessageID, a.ChannelID = id, channel
		if err := s.addAttempt(ctx, tx, &a); err != nil {
			return err
		}
	}
	return mapErr(op, tx.Commit())
}

// GetMessage returns one outbox message.
func (s *Store) GetMessage(ctx context.Context, id string) (store.Message, error) {
	op := "get notification " + id
	if !s.validID(id) {
		return store.Message{}, notFound(op)
	}
	var m store.Message
	err := scanMessage(s.queryRow(ctx, `SELECT `+messageColumns+` FROM notification_outbox WHERE id = ?`, id), &m)
	return m, mapErr(op, err)
}

// ListMessages lists userID's messages, the newest first.
func (s *Store) ListMessages(ctx context.Context, userID string, limit int) ([]store.Message, error) {
	var w where
	if userID != "" {
		if !s.validID(userID) {
			return nil, nil
		}
		w.add("user_id = ?", userID)
	}
	if limit <= 0 {
		limit = 100
	}
	return queryAll(ctx, s, "list notifications", `SELECT `+messageColumns+` FROM notification_outbox `+w.String()+
		` ORDER BY created_at DESC, id DESC LIMIT ?`, scanMessage, append(w.args, limit)...)
}

func (s *Store) addAttempt(ctx context.Context, tx *tx, a *store.Attempt) error {
	const op = "record notification attempt"
	if err := newID(op, &a.ID); err != nil {
		return err
	}
	if !s.validID(a.ChannelID) || a.MessageID != "" && !s.validID(a.MessageID) {
		return fmt.Errorf("%s: invalid channel or message id", op)
	}
	a.At = norm(a.At)
	_, err := tx.exec(ctx, `INSERT INTO notification_attempts (id, message_id, channel_id, event, at, status, error, response, duration_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.ID, nullStr(a.MessageID), a.ChannelID, a.Event, s.t(a.At), a.Status, a.Error,
		a.Response, a.Duration.Milliseconds())
	return mapErr(op, err)
}

// AddAttempt records an attempt without a message.
func (s *Store) AddAttempt(ctx context.Context, a *store.Attempt) error {
	const op = "record notification attempt"
	tx, err := s.begin(ctx)
	if err != nil {
		return mapErr(op, err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := s.addAttempt(ctx, tx, a); err != nil {
		return err
	}
	return mapErr(op, tx.Commit())
}

// ListAttempts lists a channel's attempts, the newest first.
func (s *Store) ListAttempts(ctx context.Context, channelID string, limit int) ([]store.Attempt, error) {
	if !s.validID(channelID) {
		return nil, nil
	}
	if limit <= 0 {
		limit = 50
	}
	return queryAll(ctx, s, "list notification attempts", `SELECT id, COALESCE(CAST(message_id AS TEXT), ''), channel_id, event, at,
		status, error, response, duration_ms FROM notification_attempts WHERE channel_id = ? ORDER BY at DESC, id DESC LIMIT ?`,
		func(row scanner, a *store.Attempt) error {
			var ms int64
			err := row.Scan(&a.ID, &a.MessageID, &a.ChannelID, &a.Event, timeCol{&a.At}, &a.Status, &a.Error, &a.Response, &ms)
			a.Duration = time.Duration(ms) * time.Millisecond
			return err
		}, channelID, limit)
}

// PruneMessages deletes up to limit settled messages finished before before, and
// the test attempts made before it. A message's attempts go with it (ON DELETE
// CASCADE, found by idx_notification_attempts_message); the messages are found by
// idx_notification_outbox_finished (state, finished_at), which holds the settled
// ones only.
func (s *Store) PruneMessages(ctx context.Context, before time.Time, limit int) (int, error) {
	const op = "prune notifications"
	if limit <= 0 {
		limit = 1000
	}
	res, err := s.exec(ctx, `DELETE FROM notification_outbox WHERE id IN (SELECT id FROM notification_outbox
		WHERE finished_at < ? AND state IN (?, ?, ?) LIMIT ?`+s.d.skipLocked+`)`,
		s.t(before), store.MessageDelivered, store.MessageDead, store.MessageDropped, limit)
	n, err := affected(op, res, err)
	if err != nil {
		return 0, err
	}
	_, err = s.exec(ctx, `DELETE FROM notification_attempts WHERE message_id IS NULL AND at < ?`, s.t(before))
	return int(n), mapErr(op, err)
}

// CountMessagesByState counts the outbox by state.
func (s *Store) CountMessagesByState(ctx context.Context) (map[string]int, error) {
	return s.countBy(ctx, "count notifications by state", `SELECT state, COUNT(*) FROM notification_outbox GROUP BY state`)
}

// ChannelsFor lists every user's enabled channels that want event.
func (s *Store) ChannelsFor(ctx context.Context, event string) ([]store.Channel, error) {
	return queryAll(ctx, s, "list notification channels for "+event, `SELECT `+channelColumns+` FROM notification_channels
		WHERE enabled AND events LIKE ? ORDER BY user_id, id`, scanChannel, "%,"+event+",%")
}

// CountActivity counts userID's activity since since.
func (s *Store) CountActivity(ctx context.Context, userID string, since time.Time) (store.Activity, error) {
	var a store.Activity
	if !s.validID(userID) {
		return a, nil
	}
	t := s.t(since)
	err := s.queryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM alerts WHERE user_id = ? AND timestamp >= ?),
		(SELECT COUNT(*) FROM alerts WHERE user_id = ? AND resolved_at >= ?),
		(SELECT COUNT(*) FROM alerts WHERE user_id = ? AND resolved_at IS NULL),
		(SELECT COUNT(*) FROM backup_logs WHERE user_id = ? AND status = 'failed' AND start_time >= ?),
		(SELECT COUNT(*) FROM backup_logs WHERE user_id = ? AND status = 'completed' AND start_time >= ?)`,
		userID, t, userID, t, userID, userID, t, userID, t).Scan(&a.AlertsOpened, &a.AlertsResolved, &a.AlertsOpen,
		&a.RunsFailed, &a.RunsCompleted)
	return a, mapErr("count activity", err)
}
