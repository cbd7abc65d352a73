package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/backapp/backapp/internal/store"
)

// CreateResetToken stores a password-reset token and ends the user's older unused
// ones, in one transaction; ErrConflict when the hash exists.
func (s *Store) CreateResetToken(ctx context.Context, t store.ResetToken) error {
	op := "create reset token for user " + t.UserID
	if !s.validID(t.UserID) {
		return notFound(op)
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return mapErr(op, err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.exec(ctx, `UPDATE password_resets SET used_at = ? WHERE user_id = ? AND used_at IS NULL`,
		s.t(t.CreatedAt), t.UserID); err != nil {
		return mapErr(op, err)
	}
	if _, err := tx.exec(ctx,
		`INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		t.TokenHash, t.UserID, s.t(t.CreatedAt), s.t(t.ExpiresAt)); err != nil {
		return mapErr(op, err)
	}
	return mapErr(op, tx.Commit())
}

// ConsumeResetToken marks the token and every other unused token of its user used and
// returns the user id, in one statement so two concurrent uses (of one token, or of
// two of one user) cannot both succeed. A missing, used or expired (ExpiresAt <= now)
// token gives ErrNotFound.
func (s *Store) ConsumeResetToken(ctx context.Context, tokenHash string, now time.Time) (string, error) {
	rows, err := s.writeQuery(ctx, `UPDATE password_resets SET used_at = ?
		WHERE user_id = (SELECT user_id FROM password_resets WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?)
		AND used_at IS NULL
		RETURNING token_hash, user_id`, s.t(now), tokenHash, s.t(now))
	if err != nil {
		return "", mapErr("consume reset token", err)
	}
	defer rows.Close()
	var userID string
	for rows.Next() {
		var hash, uid string
		if err := rows.Scan(&hash, &uid); err != nil {
			return "", mapErr("consume reset token", err)
		}
		if hash == tokenHash {
			userID = uid
		}
	}
	if err := rows.Err(); err != nil {
		return "", mapErr("consume reset token", err)
	}
	if userID == "" {
		return "", notFound("consume reset token")
	}
	return userID, nil
}

// AddAudit appends an entry. An empty ID gets a new UUID v7 and a zero Time the
// current time.
func (s *Store) AddAudit(ctx context.Context, e store.AuditEntry) error {
	if e.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("add audit %s: %w", e.Action, err)
		}
		e.ID = id.String()
	}
	if e.ActorID != "" && !s.validID(e.ActorID) {
		return fmt.Errorf("add audit %s: invalid actor id %q", e.Action, e.ActorID)
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	var actor any
	if e.ActorID != "" {
		actor = e.ActorID
	}
	_, err := s.exec(ctx, `INSERT INTO audit_log (id, time, actor_id, action, target, ip, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, e.ID, s.t(e.Time), actor, e.Action, e.Target, e.IP, e.Detail)
	return mapErr("add audit "+e.Action, err)
}

// ListAudit returns at most limit entries, newest first.
func (s *Store) ListAudit(ctx context.Context, limit int) ([]store.AuditEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	return queryAll(ctx, s, "list audit", `SELECT id, time, COALESCE(CAST(actor_id AS TEXT), ''), action, target, ip, detail
		FROM audit_log ORDER BY time DESC, id DESC LIMIT ?`,
		func(row scanner, e *store.AuditEntry) error {
			return row.Scan(&e.ID, timeCol{&e.Time}, &e.ActorID, &e.Action, &e.Target, &e.IP, &e.Detail)
		}, limit)
}

// GetSetting returns the value of key; ErrNotFound for a key never set.
func (s *Store) GetSetting(ctx context.Context, key string) (string, error) {
	var v string
	if err := s.queryRow(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v); err != nil {
		return "", mapErr("get setting "+key, err)
	}
	return v, nil
}

// SetSetting creates or replaces the value of key.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	_, err := s.exec(ctx, `INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		key, value, s.t(time.Now()))
	return mapErr("set setting "+key, err)
}
