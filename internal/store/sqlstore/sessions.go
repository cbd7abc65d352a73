package sqlstore

import (
	"context"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// CreateSession stores s; ErrConflict when the token hash exists.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	op := "create session for user " + sess.UserID
	if !s.validID(sess.UserID) {
		return notFound(op)
	}
	_, err := s.exec(ctx, `INSERT INTO sessions
		(token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, ip, user_agent)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		sess.TokenHash, sess.UserID, sess.CSRFToken, s.t(sess.CreatedAt),
		s.t(sess.LastSeenAt), s.t(sess.ExpiresAt), sess.IP, sess.UserAgent)
	return mapErr(op, err)
}

// GetSession returns the session and its user. It does not check expiry or whether
// the user is disabled: the caller decides, with its clock.
func (s *Store) GetSession(ctx context.Context, tokenHash string) (store.Session, store.User, error) {
	var sess store.Session
	var u store.User
	err := s.queryRow(ctx, `SELECT
		s.token_hash, s.user_id, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at, s.ip, s.user_agent,
		u.id, u.email, u.name, u.password_hash, u.role, u.disabled, u.created_at, u.updated_at
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = ?`, tokenHash).Scan(
		&sess.TokenHash, &sess.UserID, &sess.CSRFToken, timeCol{&sess.CreatedAt},
		timeCol{&sess.LastSeenAt}, timeCol{&sess.ExpiresAt}, &sess.IP, &sess.UserAgent,
		&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.Role, &u.Disabled,
		timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt})
	if err != nil {
		return store.Session{}, store.User{}, mapErr("get session", err)
	}
	return sess, u, nil
}

// TouchSession records activity on the session.
func (s *Store) TouchSession(ctx context.Context, tokenHash string, lastSeen time.Time) error {
	return s.execOne(ctx, "touch session",
		`UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?`, s.t(lastSeen), tokenHash)
}

// DeleteSession deletes one session; ErrNotFound when it does not exist.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	return s.execOne(ctx, "delete session", `DELETE FROM sessions WHERE token_hash = ?`, tokenHash)
}

// DeleteUserSessions deletes all of a user's sessions except keepTokenHash (may be "").
func (s *Store) DeleteUserSessions(ctx context.Context, userID, keepTokenHash string) error {
	if !s.validID(userID) {
		return nil
	}
	_, err := s.exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?`, userID, keepTokenHash)
	return mapErr("delete sessions of user "+userID, err)
}

// DeleteExpiredSessions removes sessions with ExpiresAt <= now or LastSeenAt before
// idleBefore, and returns how many.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now, idleBefore time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at < ?`,
		s.t(now), s.t(idleBefore))
	return affected("delete expired sessions", res, err)
}
