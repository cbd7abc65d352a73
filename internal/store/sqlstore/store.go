package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"

	"github.com/backapp/backapp/internal/store"
)

// Store implements store.Store on either database. It is safe for concurrent use.
// Open it with OpenSQLite or OpenPostgres; close it when done.
type Store struct {
	d *dialect
	// w takes every write, r every read. PostgreSQL: one pool for both. SQLite: one
	// writer connection, and a pool of read-only connections beside it.
	w, r conn
	// migrator runs goose on database/sql: SQLite's writer, or a database/sql view
	// of PostgreSQL's pool.
	migrator *goose.Provider
	// closeAll closes the connections.
	closeAll func() error
}

var _ store.Store = (*Store)(nil)

// open finishes an Open: checks the database answers and applies pending migrations.
// On error it closes what it was given.
func open(ctx context.Context, d *dialect, w, r conn, db *sql.DB, closeAll func() error, opts ...goose.ProviderOption) (*Store, error) {
	s := &Store{d: d, w: w, r: r, closeAll: closeAll}
	if err := db.PingContext(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	migrations, err := d.migrations()
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("migrations: %w", err)
	}
	s.migrator, err = goose.NewProvider(d.goose, db, migrations, opts...)
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("migrations: %w", err)
	}
	if err := s.Migrate(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// Migrate applies pending migrations. Open already does; it is safe to call again
// (and, on PostgreSQL, from several replicas at once).
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.migrator.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", s.d.name, err)
	}
	return nil
}

// Version reports the schema version of the database and the newest version this
// binary knows.
func (s *Store) Version(ctx context.Context) (current, latest int64, err error) {
	current, latest, err = s.migrator.GetVersions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("%s schema version: %w", s.d.name, err)
	}
	return current, latest, nil
}

// Dialect returns "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.d.name }

// Ping checks that the database answers to a read.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.queryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping %s: %w", s.d.name, err)
	}
	return nil
}

// Close closes the connection pools.
func (s *Store) Close() error {
	var errs []error
	if s.migrator != nil {
		errs = append(errs, s.migrator.Close())
	}
	errs = append(errs, s.closeAll())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close %s: %w", s.d.name, err)
	}
	return nil
}

// mapErr turns driver errors into the store's error kinds, keeping the cause.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) {
		return notFound(op)
	}
	if isUnique(err) {
		return fmt.Errorf("%s: %w: %w", op, store.ErrConflict, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func notFound(op string) error { return fmt.Errorf("%s: %w", op, store.ErrNotFound) }

// conn runs statements: database/sql for SQLite, pgx's pool for PostgreSQL (its own
// interface, which allocates less per statement than its database/sql adapter).
type conn interface {
	exec(ctx context.Context, query string, args ...any) (result, error)
	query(ctx context.Context, query string, args ...any) (rows, error)
	queryRow(ctx context.Context, query string, args ...any) scanner
	begin(ctx context.Context) (txConn, error)
}

// txConn is a transaction of a conn.
type txConn interface {
	exec(ctx context.Context, query string, args ...any) (result, error)
	query(ctx context.Context, query string, args ...any) (rows, error)
	queryRow(ctx context.Context, query string, args ...any) scanner
	commit() error
	rollback() error
}

type result interface{ RowsAffected() (int64, error) }

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// The statements below are written once with "?" placeholders; the dialect rebinds them.

func (s *Store) exec(ctx context.Context, query string, args ...any) (result, error) {
	return s.w.exec(ctx, s.d.rebind(query), args...)
}

// query and queryRow read; writeQuery and writeRow run statements that write and
// return rows (UPDATE … RETURNING), or reads that must see the writer's own writes.
func (s *Store) query(ctx context.Context, query string, args ...any) (rows, error) {
	return s.r.query(ctx, s.d.rebind(query), args...)
}

func (s *Store) queryRow(ctx context.Context, query string, args ...any) scanner {
	return s.r.queryRow(ctx, s.d.rebind(query), args...)
}

func (s *Store) writeQuery(ctx context.Context, query string, args ...any) (rows, error) {
	return s.w.query(ctx, s.d.rebind(query), args...)
}

func (s *Store) writeRow(ctx context.Context, query string, args ...any) scanner {
	return s.w.queryRow(ctx, s.d.rebind(query), args...)
}

// tx is a write transaction whose statements are rebound like the Store's.
type tx struct {
	t txConn
	d *dialect
}

func (s *Store) begin(ctx context.Context) (*tx, error) {
	t, err := s.w.begin(ctx)
	if err != nil {
		return nil, err
	}
	return &tx{t, s.d}, nil
}

func (t *tx) exec(ctx context.Context, query string, args ...any) (result, error) {
	return t.t.exec(ctx, t.d.rebind(query), args...)
}

func (t *tx) query(ctx context.Context, query string, args ...any) (rows, error) {
	return t.t.query(ctx, t.d.rebind(query), args...)
}

func (t *tx) queryRow(ctx context.Context, query string, args ...any) scanner {
	return t.t.queryRow(ctx, t.d.rebind(query), args...)
}

// Commit commits; Rollback after Commit does nothing.
func (t *tx) Commit() error   { return t.t.commit() }
func (t *tx) Rollback() error { return t.t.rollback() }

// sqlConn is a conn on database/sql.
type sqlConn struct{ *sql.DB }

func (c sqlConn) exec(ctx context.Context, query string, args ...any) (result, error) {
	return c.ExecContext(ctx, query, args...)
}

func (c sqlConn) query(ctx context.Context, query string, args ...any) (rows, error) {
	r, err := c.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (c sqlConn) queryRow(ctx context.Context, query string, args ...any) scanner {
	return c.QueryRowContext(ctx, query, args...)
}

func (c sqlConn) begin(ctx context.Context) (txConn, error) {
	t, err := c.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return sqlTx{t}, nil
}

type sqlTx struct{ *sql.Tx }

func (t sqlTx) exec(ctx context.Context, query string, args ...any) (result, error) {
	return t.ExecContext(ctx, query, args...)
}

func (t sqlTx) query(ctx context.Context, query string, args ...any) (rows, error) {
	return t.QueryContext(ctx, query, args...)
}

func (t sqlTx) queryRow(ctx context.Context, query string, args ...any) scanner {
	return t.QueryRowContext(ctx, query, args...)
}

func (t sqlTx) commit() error   { return t.Commit() }
func (t sqlTx) rollback() error { return t.Rollback() }

// affected is how many rows res changed; a driver error counts as an error of op.
func affected(op string, res result, err error) (int64, error) {
	if err != nil {
		return 0, mapErr(op, err)
	}
	n, err := res.RowsAffected()
	return n, mapErr(op, err)
}

// execOne runs a write that must touch exactly one row.
func (s *Store) execOne(ctx context.Context, op, query string, args ...any) error {
	res, err := s.exec(ctx, query, args...)
	n, err := affected(op, res, err)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(op)
	}
	return nil
}

// execState runs an update that must touch one row in the state it names. When it
// touches none, exists (nil unless the row is gone) decides between its error and
// ErrConflict because of why.
func (s *Store) execState(ctx context.Context, op, why string, exists func() error, query string, args ...any) error {
	res, err := s.exec(ctx, query, args...)
	n, err := affected(op, res, err)
	if err != nil || n > 0 {
		return err
	}
	if err := exists(); err != nil {
		return err
	}
	return fmt.Errorf("%s: %s: %w", op, why, store.ErrConflict)
}

// execID is execOne for a statement whose last argument is a row id.
func (s *Store) execID(ctx context.Context, op, id, query string, args ...any) error {
	if !s.validID(id) {
		return notFound(op)
	}
	return s.execOne(ctx, op, query, append(args, id)...)
}

// queryAll runs a read query and scans every row with scan; op names the operation in
// errors.
func queryAll[T any](ctx context.Context, s *Store, op, query string, scan func(scanner, *T) error, args ...any) ([]T, error) {
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := scan(rows, &v); err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, v)
	}
	return out, mapErr(op, rows.Err())
}
