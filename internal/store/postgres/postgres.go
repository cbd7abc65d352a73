package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/backapp/backapp/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Advisory lock keys this package takes. Other packages that take advisory locks
// (the scheduler's leader lock) must pick different keys.
const (
	// LockFirstUser serialises CreateUser's "is this the first user?" check.
	LockFirstUser int64 = 0x6261636b61707001 // "backapp" 0x01
	// LockMigrate serialises migrations of replicas starting together.
	LockMigrate int64 = 0x6261636b61707002
)

// Store is the PostgreSQL implementation of store.Store. It is safe for concurrent use.
type Store struct {
	pool     *pgxpool.Pool
	migrator *goose.Provider
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (postgres://…), checks that it answers and
// applies pending migrations; replicas starting together take turns. Close the store
// when done.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: parse url: %w", err)
	}
	// Timestamps are timestamptz, so this only affects how the server renders them
	// (psql, logs), but UTC everywhere avoids surprises.
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	// pgxpool's default (max(4, CPUs)) queues requests behind four connections when
	// thousands of agents heartbeat; a URL's pool_max_conns still wins.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = int32(max(16, 4*runtime.NumCPU()))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	s := &Store{pool: pool}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: migrations: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(LockMigrate), lock.WithLockTimeout(1, 300))
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: migration lock: %w", err)
	}
	// goose needs database/sql; the wrapper borrows connections from the pool and
	// closing it leaves the pool open.
	s.migrator, err = goose.NewProvider(goose.DialectPostgres, stdlib.OpenDBFromPool(pool), sub,
		goose.WithSessionLocker(locker))
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: migrations: %w", err)
	}
	if err := s.Migrate(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return s, nil
}

// Migrate applies pending migrations. Open already does; it is safe to call again
// and from several replicas at once.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.migrator.Up(ctx); err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	return nil
}

// Version reports the schema version of the database and the newest version this
// binary knows.
func (s *Store) Version(ctx context.Context) (current, latest int64, err error) {
	current, latest, err = s.migrator.GetVersions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres schema version: %w", err)
	}
	return current, latest, nil
}

// Pool is the connection pool, for packages that need PostgreSQL-only features
// (advisory locks, LISTEN/NOTIFY). The store keeps ownership: do not close it.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Dialect returns "postgres".
func (s *Store) Dialect() string { return "postgres" }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

// Close closes the migrator's wrapper and the pool.
func (s *Store) Close() error {
	var err error
	if s.migrator != nil {
		err = s.migrator.Close()
	}
	s.pool.Close()
	if err != nil {
		return fmt.Errorf("close postgres: %w", err)
	}
	return nil
}

// norm is the time as stored: UTC, microseconds (PostgreSQL's precision).
func norm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// mapErr turns driver errors into the store's error kinds, keeping the cause.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
		return fmt.Errorf("%s: %w: %w", op, store.ErrConflict, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// validID reports whether id can be a uuid column value. Ids come from URLs; one that
// is not a UUID names no row, so callers get ErrNotFound as on SQLite, not a type error.
func validID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil
}

func notFound(op string) error { return fmt.Errorf("%s: %w", op, store.ErrNotFound) }

// execOne runs a write that must touch exactly one row.
func (s *Store) execOne(ctx context.Context, op, query string, args ...any) error {
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil {
		return mapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return notFound(op)
	}
	return nil
}
