package store

import (
	"context"
	"time"
)

// Session is a server-side login session. The cookie holds a random token; the store
// keeps only its SHA-256 (TokenHash), so a leaked database cannot be replayed.
type Session struct {
	TokenHash  string
	UserID     string
	CSRFToken  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute expiry
	IP         string
	UserAgent  string
}

// Sessions stores login sessions.
type Sessions interface {
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the session and its user.
	GetSession(ctx context.Context, tokenHash string) (Session, User, error)
	TouchSession(ctx context.Context, tokenHash string, lastSeen time.Time) error
	DeleteSession(ctx context.Context, tokenHash string) error
	// DeleteUserSessions deletes all of a user's sessions except keepTokenHash (may be "").
	DeleteUserSessions(ctx context.Context, userID, keepTokenHash string) error
	// DeleteExpiredSessions removes sessions past ExpiresAt or idle since before idleBefore.
	DeleteExpiredSessions(ctx context.Context, now, idleBefore time.Time) (int64, error)
}
