package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/sqlite"
	"github.com/backapp/backapp/internal/store/storetest"
)

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%s) = %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		// A directory that does not exist yet: Open creates it.
		return open(t, filepath.Join(t.TempDir(), "data", "backapp.db"))
	})
}

func TestSQLiteRuns(t *testing.T) {
	storetest.RunRuns(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "backapp.db"))
	})
}
