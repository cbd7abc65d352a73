package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite's part: a single file through modernc.org/sqlite (pure Go). Writes go through
// one connection and start with BEGIN IMMEDIATE, so they queue in the process instead
// of failing with SQLITE_BUSY; reads use a pool of read-only connections, which WAL
// mode lets run beside the writer.

// pragmas apply to every pooled connection. busy_timeout covers other processes
// (backapp admin …) writing the same file; within the process the single writer
// connection already serialises writes.
var pragmas = []string{
	"busy_timeout(10000)",
	"foreign_keys(1)",
	"journal_mode(WAL)",
	"synchronous(NORMAL)",
}

func sqliteDialect() *dialect {
	return &dialect{
		name:     "sqlite",
		goose:    goose.DialectSQLite3,
		textTime: true,
		// julianday of a stored time (never 'now') is deterministic: SQLite indexes it.
		runDuration: "COALESCE(duration, CAST((julianday(end_time) - julianday(start_time)) * 86400000 AS INTEGER))",
		types: map[string]string{
			"uuid": "TEXT", "text": "TEXT", "bool": "INTEGER", "int": "INTEGER",
			"time": "TEXT", "json": "TEXT", "bytes": "BLOB", "strict": "STRICT",
		},
	}
}

// OpenSQLite opens (creating when missing) the database file at path, creating its
// parent directory, and applies pending migrations. The file is created readable by
// its owner only: it holds password hashes. Close the store when done.
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open sqlite: invalid database path %q", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open sqlite: create directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}

	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	r, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	n := max(4, runtime.NumCPU())
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)

	closeAll := func() error { return errors.Join(r.Close(), w.Close()) }
	s, err := open(ctx, sqliteDialect(), sqlConn{w}, sqlConn{r}, w, closeAll)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return s, nil
}

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		// BEGIN IMMEDIATE takes the write lock at the start of a transaction, so a
		// transaction that reads then writes (CreateUser) cannot be overtaken.
		q.Set("_txlock", "immediate")
	}
	// A plain path, not a file: URI, so SQLite does not %-decode it; the driver
	// takes the parameters off after the '?'.
	return path + "?" + q.Encode()
}

func sqliteUnique(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}
