package sqlstore

import (
	"io/fs"
	"strings"
	"testing"
)

func TestRebind(t *testing.T) {
	q := `UPDATE t SET a = ?, b = ? WHERE id = ? AND c <> ''`
	if got, want := postgresDialect().rebind(q), `UPDATE t SET a = $1, b = $2 WHERE id = $3 AND c <> ''`; got != want {
		t.Errorf("postgres rebind = %q, want %q", got, want)
	}
	if got := sqliteDialect().rebind(q); got != q {
		t.Errorf("sqlite rebind = %q, want it unchanged", got)
	}
}

func TestSharedMigrationTypes(t *testing.T) {
	const src = "CREATE TABLE x (id {{uuid}} PRIMARY KEY, at {{time}} NOT NULL, ok {{bool}}, doc {{json}}) {{strict}};"
	for d, want := range map[*dialect]string{
		sqliteDialect():   "CREATE TABLE x (id TEXT PRIMARY KEY, at TEXT NOT NULL, ok INTEGER, doc TEXT) STRICT;",
		postgresDialect(): "CREATE TABLE x (id uuid PRIMARY KEY, at timestamptz NOT NULL, ok boolean, doc jsonb) ;",
	} {
		got, err := d.fill("x.sql", []byte(src))
		if err != nil || string(got) != want {
			t.Errorf("%s: fill = %q, %v; want %q", d.name, got, err, want)
		}
		for _, bad := range []string{"a {{date}} b", "a {{uuid b"} {
			if _, err := d.fill("bad.sql", []byte(bad)); err == nil {
				t.Errorf("%s: fill(%q) = nil error, want one naming the problem", d.name, bad)
			}
		}
	}
}

// Each dialect sees its own migrations and the shared ones, under their versions.
func TestMigrationSets(t *testing.T) {
	for _, d := range []*dialect{sqliteDialect(), postgresDialect()} {
		fsys, err := d.migrations()
		if err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		names, err := fs.Glob(fsys, "*.sql")
		if err != nil || len(names) < todaysVersion {
			t.Fatalf("%s: migrations = %v, %v; want at least %d", d.name, names, err, todaysVersion)
		}
		b, _ := fs.ReadFile(fsys, "00001_initial.sql")
		if strict := strings.Contains(string(b), "STRICT"); strict != (d.name == "sqlite") {
			t.Errorf("%s: 00001_initial.sql is the other dialect's", d.name)
		}
	}
}
