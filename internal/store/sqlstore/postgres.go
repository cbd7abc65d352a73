package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// PostgreSQL's part: statements run on pgx's pool through pgx's own interface, each
// prepared once per connection and cached; goose's migrations run on database/sql
// over the same pool (pgx's stdlib adapter).

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
		// Replicas claiming outbox messages at once skip each other's rows.
		skipLocked:  " FOR UPDATE SKIP LOCKED",
		runDuration: "COALESCE(duration, CAST(EXTRACT(EPOCH FROM end_time - start_time) * 1000 AS BIGINT))",
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
	// For goose. database/sql keeps no idle connections of its own (OpenDBFromPool's
	// setting; keep it): idle ones would hold the pool's connections.
	db := stdlib.OpenDBFromPool(pool)
	c := pgxConn{pool}
	closeAll := func() error {
		err := db.Close()
		pool.Close()
		return err
	}
	s, err := open(ctx, postgresDialect(), c, c, db, closeAll, goose.WithSessionLocker(locker))
	if err != nil {
		return nil, nil, fmt.Errorf("open postgres %s: %w", where, err)
	}
	return s, pool, nil
}

func postgresUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" // unique_violation
}

// pgxConn is a conn on pgx's pool.
type pgxConn struct{ pool *pgxpool.Pool }

type pgxResult int64

func (n pgxResult) RowsAffected() (int64, error) { return int64(n), nil }

func (c pgxConn) exec(ctx context.Context, query string, args ...any) (result, error) {
	tag, err := c.pool.Exec(ctx, query, args...)
	return pgxResult(tag.RowsAffected()), err
}

func (c pgxConn) query(ctx context.Context, query string, args ...any) (rows, error) {
	r, err := c.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgxRows{r}, nil
}

func (c pgxConn) queryRow(ctx context.Context, query string, args ...any) scanner {
	return c.pool.QueryRow(ctx, query, args...)
}

func (c pgxConn) begin(ctx context.Context) (txConn, error) {
	t, err := c.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return pgxTx{t, ctx}, nil
}

type pgxRows struct{ pgx.Rows }

func (r pgxRows) Close() error {
	r.Rows.Close()
	return nil
}

// pgxTx keeps its context for Commit and Rollback, as database/sql's Tx does.
type pgxTx struct {
	t   pgx.Tx
	ctx context.Context
}

func (t pgxTx) exec(ctx context.Context, query string, args ...any) (result, error) {
	tag, err := t.t.Exec(ctx, query, args...)
	return pgxResult(tag.RowsAffected()), err
}

func (t pgxTx) query(ctx context.Context, query string, args ...any) (rows, error) {
	r, err := t.t.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgxRows{r}, nil
}

func (t pgxTx) queryRow(ctx context.Context, query string, args ...any) scanner {
	return t.t.QueryRow(ctx, query, args...)
}

func (t pgxTx) commit() error { return t.t.Commit(t.ctx) }

func (t pgxTx) rollback() error {
	if err := t.t.Rollback(t.ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return err
	}
	return nil
}

// PostgreSQL's timestamps scan straight into the time columns, without the boxing
// of database/sql's Scanner path (pgx prefers these methods).

func (c timeCol) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid {
		return errors.New("scan time: NULL")
	}
	*c.t = v.Time.UTC()
	return nil
}

func (c nullTimeCol) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid {
		*c.t = nil
		return nil
	}
	t := v.Time.UTC()
	*c.t = &t
	return nil
}
