// Package store defines backapp's persistent data (users, sessions, audit log, …) and
// the Store interface, implemented once for SQLite and PostgreSQL by sqlstore (opened
// through the sqlite and postgres packages). The shared test suite in storetest runs
// against both.
package store

import (
	"context"
	"errors"
)

var (
	// ErrNotFound means the row does not exist (or is not visible to the caller).
	ErrNotFound = errors.New("not found")
	// ErrConflict means a uniqueness rule was violated (for example a duplicate e-mail).
	ErrConflict = errors.New("conflict")
)

// Roles.
const (
	RoleAdmin = "admin"
	RoleUser  = "user"
)

// Store is backapp's persistence. All times are UTC. Methods return ErrNotFound for
// missing rows and ErrConflict for uniqueness violations, wrapped with context. Each
// domain's methods are in their own interface and file (accounts.go, sessions.go,
// agents.go, configs.go, runs.go, …), implemented in files of the same names in
// sqlstore/. Services do not take Store: each declares the few methods it uses.
type Store interface {
	// Dialect is "sqlite" or "postgres".
	Dialect() string
	Ping(ctx context.Context) error
	Close() error

	Accounts
	Sessions
	Audit
	Settings
	Destinations
	Agents
	AgentLogs
	Configs
	Runs
	Alerts
	Restores
	Estimates
	Builtin
	Metrics
	Notifications
}
