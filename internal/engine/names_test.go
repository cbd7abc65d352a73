package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/backapp/backapp/internal/engine"
	"github.com/backapp/backapp/internal/engine/scan"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/testenv/treetest"
)

// TestNonUTF8Names: file names are bytes on Unix, not always UTF-8 (Latin-1 names from
// old systems, copies from other encodings). Such files are backed up, restored under
// the same bytes, and kept unchanged by an incremental.
func TestNonUTF8Names(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows file names hold neither control characters nor bytes that are not UTF-16")
	}
	dest := s3test.New(t)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(filepath.Join(t.TempDir(), "caf\xe9"), nil, 0o644); err != nil {
		t.Skipf("this filesystem refuses names that are not UTF-8: %v", err)
	}
	files := map[string]string{}
	for _, n := range []string{"caf\xe9", "caf\xe8", "na\xefve/inner\xff", "\xc3\x28", "ok-é", "tab\tand\nnewline"} {
		files[n] = "content of " + n
	}
	treetest.Write(t, src, files)
	// A symlink whose target is not UTF-8, and a hard link whose first path is not.
	if err := os.Symlink("caf\xe9", filepath.Join(src, "link\xe9")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(src, "caf\xe8"), filepath.Join(src, "hard\xfe")); err != nil {
		t.Fatal(err)
	}
	want := describe(t, src)
	s := mustBackup(t, dest, key(0, seal.Options{}), engine.BackupOptions{Sources: []string{src}})
	if len(s.res.Issues) != 0 {
		t.Errorf("issues: %v", s.res.Issues)
	}
	target := t.TempDir()
	if _, err := engine.Restore(context.Background(), engine.RestoreOptions{Target: target, Chain: []engine.ArchiveRef{ref(dest, s)}}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	compareTrees(t, want, describe(t, filepath.Join(target, filepath.FromSlash(scan.ArchiveName(src)))))

	// A subset named as the pages show such names (U+FFFD for each invalid byte)
	// restores the files behind it: both names that display alike.
	sub := t.TempDir()
	if _, err := engine.Restore(context.Background(), engine.RestoreOptions{Target: sub, Chain: []engine.ArchiveRef{ref(dest, s)},
		Include: []string{src + "/caf\ufffd"}}); err != nil {
		t.Fatalf("subset restore: %v", err)
	}
	for _, n := range []string{"caf\xe9", "caf\xe8"} {
		if b, err := os.ReadFile(filepath.Join(sub, filepath.FromSlash(scan.ArchiveName(src)), n)); err != nil || string(b) != files[n] {
			t.Errorf("subset restore of %q: %q, %v", n, b, err)
		}
	}

	// Unchanged, the incremental stores nothing and deletes nothing.
	inc := mustBackup(t, dest, key(1, seal.Options{}), engine.BackupOptions{Sources: []string{src}, Previous: previous(t, dest, s, engine.RestoreOptions{})})
	if inc.res.Trailer.Stored != 0 || inc.res.Trailer.Deleted != 0 {
		t.Errorf("unchanged incremental stored %d entries and recorded %d deletions, want none", inc.res.Trailer.Stored, inc.res.Trailer.Deleted)
	}
	target2 := t.TempDir()
	if _, err := engine.Restore(context.Background(), engine.RestoreOptions{Target: target2, Chain: []engine.ArchiveRef{ref(dest, s), ref(dest, inc)}}); err != nil {
		t.Fatalf("restore of the incremental: %v", err)
	}
	compareTrees(t, want, describe(t, filepath.Join(target2, filepath.FromSlash(scan.ArchiveName(src)))))
}
