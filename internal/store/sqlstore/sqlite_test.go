package sqlstore

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/storetest"
)

func openSQLite(t *testing.T, path string) *Store {
	t.Helper()
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatalf("OpenSQLite(%s) = %v", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// rawSQL runs storetest's literal statements on s's database.
func rawSQL(s *Store) storetest.SQL {
	return storetest.SQL{
		Exec: func(ctx context.Context, q string) error {
			_, err := s.w.exec(ctx, q)
			return err
		},
		Count: func(ctx context.Context, q string) (n int, err error) {
			err = s.r.queryRow(ctx, q).Scan(&n)
			return n, err
		},
	}
}

func TestSQLiteSchema(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "schema.db"))
	storetest.RunSchema(t, s, rawSQL(s))
}

func TestSQLiteRestoreIdentityRows(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "identity.db"))
	storetest.RunRestoreIdentity(t, s, rawSQL(s))
}

func TestSQLiteMigrateAndReopen(t *testing.T) {
	ctx := context.Background()
	// Characters a URI would mangle.
	path := filepath.Join(t.TempDir(), "new dir", "100%25 data", "backapp.db")
	s := openSQLite(t, path)

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("database file mode = %v, want 0600", got)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), "backapp.db-wal")); err != nil {
		t.Errorf("no WAL file beside the database: %v", err)
	}
	cur, latest, err := s.Version(ctx)
	if err != nil || cur != latest || cur < 1 {
		t.Errorf("Version() = %d, %d, %v; want equal, >= 1, nil", cur, latest, err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Errorf("Migrate on an up-to-date database = %v", err)
	}
	if err := s.SetSetting(ctx, "k", "kept"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openSQLite(t, path)
	got, err := s2.GetSetting(ctx, "k")
	if err != nil || got != "kept" {
		t.Errorf("GetSetting after reopening = %q, %v; want kept", got, err)
	}
	cur2, _, err := s2.Version(ctx)
	if err != nil || cur2 != cur {
		t.Errorf("Version after reopening = %d, %v; want %d", cur2, err, cur)
	}
}

// TestSQLitePragmas checks that every pooled connection, not just the first, has the
// settings: they come from the DSN.
func TestSQLitePragmas(t *testing.T) {
	ctx := context.Background()
	s := openSQLite(t, filepath.Join(t.TempDir(), "p.db"))
	var conns []interface{ Close() error }
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	want := map[string]string{"foreign_keys": "1", "journal_mode": "wal", "busy_timeout": "10000", "synchronous": "1"}
	for i := range 3 {
		c, err := s.r.(sqlConn).Conn(ctx) // held, so the next one is a new connection
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		for p, w := range want {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+p).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != w {
				t.Errorf("read connection %d: PRAGMA %s = %s, want %s", i, p, got, w)
			}
		}
		if _, err := c.ExecContext(ctx, "INSERT INTO settings (key, value) VALUES ('x', 'y')"); err == nil {
			t.Errorf("read connection %d accepted a write", i)
		}
	}
	var fk string
	if err := s.w.queryRow(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != "1" {
		t.Errorf("writer: PRAGMA foreign_keys = %s, %v; want 1", fk, err)
	}
}

// TestSQLiteTwoProcesses races first registrations through two Stores on one file,
// as the server and `backapp admin create-user` would: BEGIN IMMEDIATE and
// busy_timeout keep it to one admin and no SQLITE_BUSY.
func TestSQLiteTwoProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shared.db")
	a, b := openSQLite(t, path), openSQLite(t, path)
	now := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	roles := make([]string, 8)
	start := make(chan struct{})
	for i := range 8 {
		st := a
		if i%2 == 1 {
			st = b
		}
		wg.Go(func() {
			<-start
			u := store.User{Email: string(rune('a'+i)) + "@example.com", Name: "n", PasswordHash: "h", CreatedAt: now, UpdatedAt: now}
			errs[i] = st.CreateUser(ctx, &u, true)
			roles[i] = u.Role
		})
	}
	close(start)
	wg.Wait()
	admins := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("CreateUser %d: %v", i, err)
		}
		if roles[i] == store.RoleAdmin {
			admins++
		}
	}
	if admins != 1 {
		t.Errorf("admins = %d, want 1", admins)
	}
}
