package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// PostgreSQL's part: pgx's pool under database/sql (pgx's stdlib adapter), so every
// statement is prepared once per connection and cached, as with pgx's own interface.

// Advisory lock keys the store takes. Other packages that take advisory locks (the
// scheduler's leader lock) must pick different keys.
const (
	// LockFirstUser serialises CreateUser's "is this the first user?" check.
	LockFirstUser int64 = 0x6261636b61707001 // "backapp" 0x01
	// LockMigrate serialises migrations of replicas starting together.
	LockMigrate int64 = 0x6261636b61707002
)

func postgresDialect() *dialect {
	return &dialect{
		name:     "postgres",
		goose:    goose.DialectPostgres,
		numbered: true,
		uuidIDs:  true,
		// Held until commit: a racing registration waits here, and then (READ
		// COMMITTED takes a new snapshot per statement) sees this user.
		lockFirstUser: func(ctx context.Context, t *tx) error {
			_, err := t.exec(ctx, `SELECT pg_advisory_xact_lock(?)`, LockFirstUser)
			return err
		},
		types: map[string]string{
			"uuid": "uuid", "text": "text", "bool": "boolean", "int": "bigint",
			"time": "timestamptz", "json": "jsonb", "bytes": "bytea", "strict": "",
		},
	}
}

// OpenPostgres connects to the database at url (postgres://…), checks that it answers
// and applies pending migrations; replicas starting together take turns. It returns
// the pool under the store too, for PostgreSQL-only features (advisory locks,
// LISTEN/NOTIFY): the store owns it, and Close closes it.
func OpenPostgres(ctx context.Context, url string) (*Store, *pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, nil, fmt.Errorf("open postgres: parse url: %w", err)
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
		return nil, nil, fmt.Errorf("open postgres: %w", err)
	}
	where := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(LockMigrate), lock.WithLockTimeout(1, 300))
	if err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("open postgres: migration lock: %w", err)
	}
	// database/sql keeps no idle connections of its own (OpenDBFromPool's setting;
	// keep it): each statement takes a connection from pgx's pool and gives it back,
	// so callers queue in pgx's pool, first come first served. Idle connections held
	// by database/sql would leave a caller over the pool's limit waiting for them
	// for ever.
	db := stdlib.OpenDBFromPool(pool)
	s, err := open(ctx, postgresDialect(), db, db, pool.Close, goose.WithSessionLocker(locker))
	if err != nil {
		return nil, nil, fmt.Errorf("open postgres %s: %w", where, err)
	}
	return s, pool, nil
}

func postgresUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" // unique_violation
}
