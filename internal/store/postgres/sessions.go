package postgres

import (
	"context"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// CreateSession stores s; ErrConflict when the token hash exists.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	op := "create session for user " + sess.UserID
	if !validID(sess.UserID) {
		return notFound(op)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions
		(token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, ip, user_agent)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		sess.TokenHash, sess.UserID, sess.CSRFToken, norm(sess.CreatedAt),
		norm(sess.LastSeenAt), norm(sess.ExpiresAt), sess.IP, sess.UserAgent)
	return mapErr(op, err)
}

// GetSession returns the session and its user. It does not check expiry or whether
// the user is disabled: the caller decides, with its clock.
func (s *Store) GetSession(ctx context.Context, tokenHash string) (store.Session, store.User, error) {
	var sess store.Session
	var u store.User
	err := s.pool.QueryRow(ctx, `SELECT
		s.token_hash, s.user_id, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at, s.ip, s.user_agent,
		u.id, u.email, u.name, u.password_hash, u.role, u.disabled, u.created_at, u.updated_at
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = $1`, tokenHash).Scan(
		&sess.TokenHash, &sess.UserID, &sess.CSRFToken, &sess.CreatedAt,
		&sess.LastSeenAt, &sess.ExpiresAt, &sess.IP, &sess.UserAgent,
		&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.Role, &u.Disabled,
		&u.CreatedAt, &u.UpdatedAt)
	if err != nil {
		return store.Session{}, store.User{}, mapErr("get session", err)
	}
	sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = sess.CreatedAt.UTC(), sess.LastSeenAt.UTC(), sess.ExpiresAt.UTC()
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return sess, u, nil
}

// TouchSession records activity on the session.
func (s *Store) TouchSession(ctx context.Context, tokenHash string, lastSeen time.Time) error {
	return s.execOne(ctx, "touch session",
		`UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2`, norm(lastSeen), tokenHash)
}

// DeleteSession deletes one session; ErrNotFound when it does not exist.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	return s.execOne(ctx, "delete session", `DELETE FROM sessions WHERE token_hash = $1`, tokenHash)
}

// DeleteUserSessions deletes all of a user's sessions except keepTokenHash (may be "").
func (s *Store) DeleteUserSessions(ctx context.Context, userID, keepTokenHash string) error {
	if !validID(userID) {
		return nil
	}
	_, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2`, userID, keepTokenHash)
	return mapErr("delete sessions of user "+userID, err)
}

// DeleteExpiredSessions removes sessions with ExpiresAt <= now or LastSeenAt before
// idleBefore, and returns how many.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now, idleBefore time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at < $2`,
		norm(now), norm(idleBefore))
	if err != nil {
		return 0, mapErr("delete expired sessions", err)
	}
	return tag.RowsAffected(), nil
}
