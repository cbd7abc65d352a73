package engine_test

import (
	"context"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/engine"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/storage/s3test"
)

// TestSpeedManual is a measurement aid, not a timed test: it runs only when
// ENGINE_SPEED_SOURCES names directories (space-separated) and logs the times.
func TestSpeedManual(t *testing.T) {
	srcs := strings.Fields(os.Getenv("ENGINE_SPEED_SOURCES"))
	if len(srcs) == 0 {
		t.Skip("ENGINE_SPEED_SOURCES not set (measurement aid only)")
	}
	dest := s3test.New(t)
	start := time.Now()
	s := mustBackup(t, dest, key(0, seal.Options{}), engine.BackupOptions{Sources: srcs})
	full := time.Since(start)
	t.Logf("full backup: %v, %d entries, %d MB read, %d MB stored, %d issues (GOMAXPROCS %d)", full, s.res.Trailer.Entries, s.res.Trailer.ContentBytes>>20, s.res.Archive.Size>>20, len(s.res.Issues), runtime.GOMAXPROCS(0))
	start = time.Now()
	s2 := mustBackup(t, dest, key(1, seal.Options{}), engine.BackupOptions{Sources: srcs, Previous: previous(t, dest, s, engine.RestoreOptions{})})
	t.Logf("unchanged incremental: %v, %d stored", time.Since(start), s2.res.Trailer.Stored)
	start = time.Now()
	if _, err := engine.Restore(context.Background(), engine.RestoreOptions{Target: t.TempDir(), Chain: []engine.ArchiveRef{ref(dest, s)}}); err != nil {
		t.Fatal(err)
	}
	t.Logf("restore: %v", time.Since(start))
}
