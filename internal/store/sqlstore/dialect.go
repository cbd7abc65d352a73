package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing/fstest"
	"time"

	"github.com/pressly/goose/v3"
)

// dialect is everything that differs between SQLite and PostgreSQL. sqlite.go and
// postgres.go each make one; the rest of the package is written once.
type dialect struct {
	name  string // "sqlite" or "postgres", as Store.Dialect reports it
	goose goose.Dialect
	// numbered: placeholders are $1, $2, … (PostgreSQL) instead of ?.
	numbered bool
	// uuidIDs: id columns are uuid (PostgreSQL), so a string that is not a UUID
	// cannot be stored and names no row; SQLite's are text and take any string.
	uuidIDs bool
	// textTime: times are stored as fixed-width UTC text (SQLite, which has no time
	// type) instead of timestamptz.
	textTime bool
	// lockFirstUser runs first in CreateUser's transaction when the first user
	// becomes admin, so two first registrations cannot both see an empty table.
	// nil when the transaction alone serialises them (SQLite's BEGIN IMMEDIATE).
	lockFirstUser func(ctx context.Context, t *tx) error
	// skipLocked ends a SELECT that claims rows other transactions may be claiming
	// too (PostgreSQL's FOR UPDATE SKIP LOCKED); "" where one writer serialises
	// them (SQLite).
	skipLocked string
	// runDuration is a run's duration in ms as the history sorts it: as reported,
	// else end minus start; NULL while unfinished. Migration 00018 indexes this very
	// expression ({{run_duration}}), and an index serves only the expression it was
	// built on: never change it (add a migration with a new index instead).
	runDuration string
	// types fills the type names of shared migrations (see migrations).
	types map[string]string

	rebound sync.Map // query with ? → query with $n
}

// rebind rewrites a statement written with ? placeholders for the dialect. No
// statement in this package has a ? inside a string literal.
func (d *dialect) rebind(query string) string {
	if !d.numbered {
		return query
	}
	if q, ok := d.rebound.Load(query); ok {
		return q.(string)
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	q := b.String()
	d.rebound.Store(query, q)
	return q
}

// t is a time as a statement argument: UTC at microsecond precision, as text on SQLite.
func (s *Store) t(t time.Time) any {
	if s.d.textTime {
		return norm(t).Format(timeLayout)
	}
	return norm(t)
}

// tp is t for a nullable time.
func (s *Store) tp(t *time.Time) any {
	if t == nil {
		return nil
	}
	return s.t(*t)
}

// Migrations are goose files: migrations/*.sql serve both databases,
// migrations/<dialect>/*.sql only one. A version number is used once across both
// folders (a version can be shared, or per dialect, not both). Shared files name
// column types as {{uuid}}, {{text}}, {{bool}}, {{int}}, {{time}}, {{json}},
// {{bytes}} and end CREATE TABLE with {{strict}}; the dialect fills them in, and
// {{run_duration}} with dialect.runDuration.
//
//go:embed migrations
var migrationFiles embed.FS

// migrations is the dialect's view of migrationFiles: shared and own files in one folder.
func (d *dialect) migrations() (fs.FS, error) {
	out := fstest.MapFS{}
	add := func(dir string, fill bool) error {
		entries, err := fs.ReadDir(migrationFiles, dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.IsDir() || path.Ext(e.Name()) != ".sql" {
				continue
			}
			if _, dup := out[e.Name()]; dup {
				return fmt.Errorf("migration %s is both shared and %s-only", e.Name(), d.name)
			}
			b, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
			if err != nil {
				return err
			}
			if fill {
				if b, err = d.fill(e.Name(), b); err != nil {
					return err
				}
			}
			out[e.Name()] = &fstest.MapFile{Data: b}
		}
		return nil
	}
	if err := add("migrations", true); err != nil {
		return nil, err
	}
	if err := add("migrations/"+d.name, false); err != nil {
		return nil, err
	}
	return out, nil
}

// fill replaces a shared migration's {{type}} names with the dialect's.
func (d *dialect) fill(name string, b []byte) ([]byte, error) {
	s := string(b)
	var out strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			out.WriteString(s)
			return []byte(out.String()), nil
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("migration %s: unclosed {{", name)
		}
		key := s[i+2 : i+j]
		v, ok := d.types[key]
		if key == "run_duration" {
			v, ok = "("+d.runDuration+")", true
		}
		if !ok {
			return nil, fmt.Errorf("migration %s: unknown type {{%s}}", name, key)
		}
		out.WriteString(s[:i])
		out.WriteString(v)
		s = s[i+j+2:]
	}
}

// isUnique reports a unique-constraint violation of either driver.
func isUnique(err error) bool { return sqliteUnique(err) || postgresUnique(err) }
