package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/storetest"
)

func TestSQLiteRuns(t *testing.T) {
	storetest.RunRuns(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "backapp.db"))
	})
}
