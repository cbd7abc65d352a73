package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/backapp/backapp/internal/store"
)

// CreateResetToken stores a password-reset token and ends the user's older unused
// ones, in one statement; ErrConflict when the hash exists.
func (s *Store) CreateResetToken(ctx context.Context, t store.ResetToken) error {
	op := "create reset token for user " + t.UserID
	if !validID(t.UserID) {
		return notFound(op)
	}
	_, err := s.pool.Exec(ctx, `WITH older AS (
			UPDATE password_resets SET used_at = $3 WHERE user_id = $2 AND used_at IS NULL)
		INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		t.TokenHash, t.UserID, norm(t.CreatedAt), norm(t.ExpiresAt))
	return mapErr(op, err)
}

// ConsumeResetToken marks the token and every other unused token of its user used and
// returns the user id, in one statement so two concurrent uses (of one token, or of
// two of one user) cannot both succeed. A missing, used or expired (ExpiresAt <= now)
// token gives ErrNotFound.
func (s *Store) ConsumeResetToken(ctx context.Context, tokenHash string, now time.Time) (string, error) {
	rows, err := s.pool.Query(ctx, `UPDATE password_resets SET used_at = $1
		WHERE user_id = (SELECT user_id FROM password_resets WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1)
		AND used_at IS NULL
		RETURNING token_hash, user_id`, norm(now), tokenHash)
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
	op := "add audit " + e.Action
	if e.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		e.ID = id.String()
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	var actor any
	if e.ActorID != "" {
		if !validID(e.ActorID) {
			return fmt.Errorf("%s: invalid actor id %q", op, e.ActorID)
		}
		actor = e.ActorID
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_log (id, time, actor_id, action, target, ip, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, e.ID, norm(e.Time), actor, e.Action, e.Target, e.IP, e.Detail)
	return mapErr(op, err)
}

// ListAudit returns at most limit entries, newest first.
func (s *Store) ListAudit(ctx context.Context, limit int) ([]store.AuditEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT id, time, coalesce(actor_id::text, ''), action, target, ip, detail
		FROM audit_log ORDER BY time DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, mapErr("list audit", err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		if err := rows.Scan(&e.ID, &e.Time, &e.ActorID, &e.Action, &e.Target, &e.IP, &e.Detail); err != nil {
			return nil, mapErr("list audit", err)
		}
		e.Time = e.Time.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("list audit", err)
	}
	return out, nil
}

// GetSetting returns the value of key; ErrNotFound for a key never set.
func (s *Store) GetSetting(ctx context.Context, key string) (string, error) {
	var v string
	if err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v); err != nil {
		return "", mapErr("get setting "+key, err)
	}
	return v, nil
}

// SetSetting creates or replaces the value of key.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, now())
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, key, value)
	return mapErr("set setting "+key, err)
}
