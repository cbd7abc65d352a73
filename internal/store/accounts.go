package store

import (
	"context"
	"time"
)

// User is an account. Email is stored lower-cased.
type User struct {
	ID           string
	Email        string
	Name         string
	PasswordHash string
	Role         string // RoleAdmin or RoleUser
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// IsAdmin reports whether u is an administrator.
func (u User) IsAdmin() bool { return u.Role == RoleAdmin }

// Sees is the ownership rule every service applies to configurations, agents, runs,
// restores and destinations: an administrator sees (and may change) every user's,
// a user only their own. ownerID is the row's user.
func (u User) Sees(ownerID string) bool { return u.IsAdmin() || ownerID == u.ID }

// Scope is the owner to list by for u, as the store's list methods take it: ""
// (every user's) for an administrator, else u's own id. It is Sees for lists.
func (u User) Scope() string {
	if u.IsAdmin() {
		return ""
	}
	return u.ID
}

// ResetToken is a single-use password-reset token, stored as a hash.
type ResetToken struct {
	TokenHash string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Accounts stores users and their password-reset tokens.
type Accounts interface {
	// CreateUser inserts u (ID, CreatedAt, UpdatedAt set by the caller). When
	// firstIsAdmin is true and no user exists yet, the user becomes RoleAdmin; this
	// check and the insert are atomic, so two racing registrations cannot both become
	// the first admin. u.Role is updated to the stored role.
	CreateUser(ctx context.Context, u *User, firstIsAdmin bool) error
	GetUser(ctx context.Context, id string) (User, error)
	GetUserByEmail(ctx context.Context, email string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	CountUsers(ctx context.Context) (int, error)
	// CountAdmins counts enabled admins.
	CountAdmins(ctx context.Context) (int, error)
	UpdateUserProfile(ctx context.Context, id, name, email string, now time.Time) error
	SetUserPassword(ctx context.Context, id, hash string, now time.Time) error
	SetUserRole(ctx context.Context, id, role string, now time.Time) error
	SetUserDisabled(ctx context.Context, id string, disabled bool, now time.Time) error
	DeleteUser(ctx context.Context, id string) error

	// CreateResetToken stores a token and ends the user's older unused ones: only the
	// newest link of an account works.
	CreateResetToken(ctx context.Context, t ResetToken) error
	// ConsumeResetToken atomically marks the token, and every other unused token of
	// its user, used and returns its user id; a missing, used or expired
	// (ExpiresAt <= now) token gives ErrNotFound.
	ConsumeResetToken(ctx context.Context, tokenHash string, now time.Time) (string, error)
}
