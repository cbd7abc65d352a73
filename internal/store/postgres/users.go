package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/backapp/backapp/internal/store"
)

const userColumns = `id, email, name, password_hash, role, disabled, created_at, updated_at`

func scanUser(row pgx.Row, u *store.User) error {
	if err := row.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.Role, &u.Disabled,
		&u.CreatedAt, &u.UpdatedAt); err != nil {
		return err
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return nil
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
	if !validID(v.ID) {
		return fmt.Errorf("create user %s: invalid id %q", v.Email, v.ID)
	}
	v.CreatedAt, v.UpdatedAt = norm(v.CreatedAt), norm(v.UpdatedAt)

	op := "create user " + v.Email
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return mapErr(op, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if firstIsAdmin {
		// Held until commit: a racing registration waits here, and then (READ
		// COMMITTED takes a new snapshot per statement) sees this user.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, LockFirstUser); err != nil {
			return mapErr(op, err)
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users)`).Scan(&exists); err != nil {
			return mapErr(op, err)
		}
		if !exists {
			v.Role = store.RoleAdmin
		}
	}
	_, err = tx.Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		v.ID, v.Email, v.Name, v.PasswordHash, v.Role, v.Disabled, v.CreatedAt, v.UpdatedAt)
	if err != nil {
		return mapErr(op, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return mapErr(op, err)
	}
	*u = v
	return nil
}

// GetUser returns the user with the given id.
func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	op := "get user " + id
	if !validID(id) {
		return store.User{}, notFound(op)
	}
	var u store.User
	row := s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id)
	if err := scanUser(row, &u); err != nil {
		return store.User{}, mapErr(op, err)
	}
	return u, nil
}

// GetUserByEmail looks the user up by e-mail, ignoring case.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (store.User, error) {
	email = strings.ToLower(email)
	var u store.User
	row := s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, email)
	if err := scanUser(row, &u); err != nil {
		return store.User{}, mapErr("get user by email "+email, err)
	}
	return u, nil
}

// ListUsers returns every user, oldest first.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY created_at, id`)
	if err != nil {
		return nil, mapErr("list users", err)
	}
	defer rows.Close()
	var users []store.User
	for rows.Next() {
		var u store.User
		if err := scanUser(rows, &u); err != nil {
			return nil, mapErr("list users", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("list users", err)
	}
	return users, nil
}

// CountUsers counts all users, disabled ones included.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, mapErr("count users", err)
	}
	return n, nil
}

// CountAdmins counts enabled admins.
func (s *Store) CountAdmins(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled`).Scan(&n)
	if err != nil {
		return 0, mapErr("count admins", err)
	}
	return n, nil
}

// UpdateUserProfile sets name and (lower-cased) e-mail; ErrConflict when another
// user has the e-mail.
func (s *Store) UpdateUserProfile(ctx context.Context, id, name, email string, now time.Time) error {
	op := "update profile of user " + id
	if !validID(id) {
		return notFound(op)
	}
	return s.execOne(ctx, op, `UPDATE users SET name = $1, email = $2, updated_at = $3 WHERE id = $4`,
		name, strings.ToLower(email), norm(now), id)
}

// SetUserPassword replaces the password hash.
func (s *Store) SetUserPassword(ctx context.Context, id, hash string, now time.Time) error {
	op := "set password of user " + id
	if !validID(id) {
		return notFound(op)
	}
	return s.execOne(ctx, op, `UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3`, hash, norm(now), id)
}

// SetUserRole sets the role, RoleAdmin or RoleUser.
func (s *Store) SetUserRole(ctx context.Context, id, role string, now time.Time) error {
	op := "set role of user " + id
	if err := checkRole(role); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if !validID(id) {
		return notFound(op)
	}
	return s.execOne(ctx, op, `UPDATE users SET role = $1, updated_at = $2 WHERE id = $3`, role, norm(now), id)
}

// SetUserDisabled disables or enables the user. Sessions are kept: GetSession
// reports the user as disabled and the caller refuses them.
func (s *Store) SetUserDisabled(ctx context.Context, id string, disabled bool, now time.Time) error {
	op := "set disabled of user " + id
	if !validID(id) {
		return notFound(op)
	}
	return s.execOne(ctx, op, `UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3`, disabled, norm(now), id)
}

// DeleteUser deletes the user and, by cascade, everything they own.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	op := "delete user " + id
	if !validID(id) {
		return notFound(op)
	}
	return s.execOne(ctx, op, `DELETE FROM users WHERE id = $1`, id)
}
