package engine_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/backapp/backapp/internal/engine"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/testenv/wine"
)

// A directory the walk leaves out is counted and listed like a skipped file, so the
// run that reports it is "completed with warnings" (runs.WithWarnings), never plain
// "completed".
func TestSkippedDirectoryIsAnIssue(t *testing.T) {
	wine.Skip(t, "it cannot create symbolic links")
	dest := s3test.New(t)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(filepath.Join(src, "d", "e"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..", filepath.Join(src, "d", "e", "up")); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	s := mustBackup(t, dest, key(0, seal.Options{}), engine.BackupOptions{Sources: []string{src}, FollowSymlinks: true})
	if s.res.Progress.Issues != 1 || s.res.Trailer.Issues != 1 || len(s.res.Issues) != 1 {
		t.Fatalf("issues: progress %d, trailer %d, list %v; want the one directory left out",
			s.res.Progress.Issues, s.res.Trailer.Issues, s.res.Issues)
	}
	if i := s.res.Issues[0]; i.Op != "symlink loop" || i.Path != filepath.Join(src, "d", "e", "up") {
		t.Errorf("issue %+v, want the symlink loop at d/e/up", i)
	}
}
