package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/store"
	"github.com/google/uuid"
)

const userColumns = `id, email, name, password_hash, role, disabled, created_at, updated_at`

func scanUser(row scanner, u *store.User) error {
	return row.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.Role, &u.Disabled,
		timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt})
}

func checkRole(role string) error {
	if role != store.RoleAdmin && role != store.RoleUser {
		return fmt.Errorf("invalid role %q", role)
	}
	return nil
}

// CreateUser inserts u. An empty ID gets a new UUID v7 and an empty Role means
// RoleUser. On success u holds what was stored: ID, lower-cased Email, final Role and
// times in UTC at microsecond precision.
func (s *Store) CreateUser(ctx context.Context, u *store.User, firstIsAdmin bool) error {
	v := *u
	if v.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("create user: %w", err)
		}
		v.ID = id.String()
	}
	v.Email = strings.ToLower(v.Email)
	if v.Role == "" {
		v.Role = store.RoleUser
	}
	if err := checkRole(v.Role); err != nil {
		return fmt.Errorf("create user %s: %w", v.Email, err)
	}
	if !s.validID(v.ID) {
		return fmt.Errorf("create user %s: invalid id %q", v.Email, v.ID)
	}
	v.CreatedAt, v.UpdatedAt = norm(v.CreatedAt), norm(v.UpdatedAt)

	op := "create user " + v.Email
	// On SQLite, BEGIN IMMEDIATE (see dsn) keeps any other writer from inserting
	// between the count and the insert, in this process or another one; PostgreSQL
	// takes the dialect's lock.
	tx, err := s.begin(ctx)
	if err != nil {
		return mapErr(op, err)
	}
	defer func() { _ = tx.Rollback() }()
	if firstIsAdmin {
		if s.d.lockFirstUser != nil {
			if err := s.d.lockFirstUser(ctx, tx); err != nil {
				return mapErr(op, err)
			}
		}
		var exists bool
		if err := tx.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users)`).Scan(&exists); err != nil {
			return mapErr(op, err)
		}
		if !exists {
			v.Role = store.RoleAdmin
		}
	}
	_, err = tx.exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.Email, v.Name, v.PasswordHash, v.Role, v.Disabled, s.t(v.CreatedAt), s.t(v.UpdatedAt))
	if err != nil {
		return mapErr(op, err)
	}
	if err := tx.Commit(); err != nil {
		return mapErr(op, err)
	}
	*u = v
	return nil
}

// GetUser returns the user with the given id.
func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	if !s.validID(id) {
		return store.User{}, notFound("get user " + id)
	}
	var u store.User
	row := s.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id)
	if err := scanUser(row, &u); err != nil {
		return store.User{}, mapErr("get user "+id, err)
	}
	return u, nil
}

// GetUserByEmail looks the user up by e-mail, ignoring case.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (store.User, error) {
	email = strings.ToLower(email)
	var u store.User
	row := s.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email)
	if err := scanUser(row, &u); err != nil {
		return store.User{}, mapErr("get user by email "+email, err)
	}
	return u, nil
}

// ListUsers returns every user, oldest first.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	return queryAll(ctx, s, "list users", `SELECT `+userColumns+` FROM users ORDER BY created_at, id`, scanUser)
}

// CountUsers counts all users, disabled ones included.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, mapErr("count users", err)
	}
	return n, nil
}

// CountAdmins counts enabled admins.
func (s *Store) CountAdmins(ctx context.Context) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled`).Scan(&n)
	if err != nil {
		return 0, mapErr("count admins", err)
	}
	return n, nil
}

// UpdateUserProfile sets name and (lower-cased) e-mail; ErrConflict when another
// user has the e-mail.
func (s *Store) UpdateUserProfile(ctx context.Context, id, name, email string, now time.Time) error {
	return s.execID(ctx, "update profile of user "+id, id,
		`UPDATE users SET name = ?, email = ?, updated_at = ? WHERE id = ?`,
		name, strings.ToLower(email), s.t(now))
}

// SetUserPassword replaces the password hash.
func (s *Store) SetUserPassword(ctx context.Context, id, hash string, now time.Time) error {
	return s.execID(ctx, "set password of user "+id, id,
		`UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`, hash, s.t(now))
}

// SetUserRole sets the role, RoleAdmin or RoleUser.
func (s *Store) SetUserRole(ctx context.Context, id, role string, now time.Time) error {
	op := "set role of user " + id
	if err := checkRole(role); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return s.execID(ctx, op, id, `UPDATE users SET role = ?, updated_at = ? WHERE id = ?`, role, s.t(now))
}

// SetUserDisabled disables or enables the user. Sessions are kept: GetSession
// reports the user as disabled and the caller refuses them.
func (s *Store) SetUserDisabled(ctx context.Context, id string, disabled bool, now time.Time) error {
	return s.execID(ctx, "set disabled of user "+id, id,
		`UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?`, disabled, s.t(now))
}

// DeleteUser deletes the user and, by cascade, everything they own.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.execID(ctx, "delete user "+id, id, `DELETE FROM users WHERE id = ?`)
}

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
