package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backapp/backapp/internal/engine"
	"github.com/backapp/backapp/internal/engine/scan"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/testenv/treetest"
)

// TestRestoreChecksManifest: a restore refuses a manifest of another chain before it
// writes anything, and an archive that lacks entries its manifest lists, whether the
// manifest is read once (a whole archive of known digest) or twice (a subset).
func TestRestoreChecksManifest(t *testing.T) {
	dest := s3test.New(t)
	src := filepath.Join(t.TempDir(), "src")
	treetest.Write(t, src, map[string]string{"a": "file a", "b": "file b", "c": "file c"})
	withC := mustBackup(t, dest, key(0, seal.Options{}), engine.BackupOptions{Sources: []string{src}})
	if err := os.Remove(filepath.Join(src, "c")); err != nil {
		t.Fatal(err)
	}
	withoutC := mustBackup(t, dest, key(1, seal.Options{}), engine.BackupOptions{Sources: []string{src}})

	for _, include := range [][]string{nil, {"**"}} {
		// The archive without c, under the manifest that lists c.
		mixed := ref(dest, withoutC)
		mixed.Name = ""
		full := ref(dest, withC)
		mixed.Manifest, mixed.ManifestSHA256 = full.Manifest, full.ManifestSHA256
		_, err := engine.Restore(context.Background(), engine.RestoreOptions{Target: t.TempDir(), Chain: []engine.ArchiveRef{mixed}, Include: include})
		if err == nil || !strings.Contains(err.Error(), "entries its manifest lists") {
			t.Errorf("include %q, an entry missing from the archive: got %v", include, err)
		}

		wrong := ref(dest, withC)
		wrong.Name = "another-archive"
		target := t.TempDir()
		_, err = engine.Restore(context.Background(), engine.RestoreOptions{Target: target, Chain: []engine.ArchiveRef{wrong}, Include: include})
		if !errors.Is(err, engine.ErrChainMismatch) {
			t.Errorf("include %q, manifest of another chain: got %v, want ErrChainMismatch", include, err)
		}
		if ents, _ := os.ReadDir(target); len(ents) != 0 {
			t.Errorf("include %q: a refused chain wrote %d entries", include, len(ents))
		}

		// And the real thing restores, with the header reported.
		target = t.TempDir()
		res, err := engine.Restore(context.Background(), engine.RestoreOptions{Target: target, Chain: []engine.ArchiveRef{ref(dest, withC)}, Include: include})
		if err != nil {
			t.Fatalf("include %q: %v", include, err)
		}
		if res.Files != 3 || res.Header.Name != withC.key {
			t.Errorf("include %q: %d files, header %q; want 3 and %q", include, res.Files, res.Header.Name, withC.key)
		}
	}
}

// TestRestoreSyncs: a restore returns only after syncing the target's filesystem, once
// every file is written, and a failed sync fails the restore.
func TestRestoreSyncs(t *testing.T) {
	if err := engine.SyncFilesystem(t.TempDir()); err != nil {
		t.Errorf("sync of a directory: %v", err)
	}
	if err := engine.SyncFilesystem(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("sync of a missing directory: no error")
	}

	dest := s3test.New(t)
	src := filepath.Join(t.TempDir(), "src")
	treetest.Write(t, src, map[string]string{"d/f": "content"})
	s := mustBackup(t, dest, key(0, seal.Options{}), engine.BackupOptions{Sources: []string{src}})
	restored := filepath.Join(filepath.FromSlash(scan.ArchiveName(src)), "d", "f")
	for i, include := range [][]string{nil, {"**/f"}, nil} {
		r := ref(dest, s)
		if i == 2 { // an archive restored without its manifest
			r.Manifest = nil
		}
		target := t.TempDir()
		var synced []string
		engine.SetSyncFS(t, func(dir string) error {
			if _, err := os.Stat(filepath.Join(target, restored)); err != nil {
				t.Errorf("synced before the file was written: %v", err)
			}
			synced = append(synced, dir)
			return engine.SyncFilesystem(dir)
		})
		if _, err := engine.Restore(context.Background(), engine.RestoreOptions{Target: target, Chain: []engine.ArchiveRef{r}, Include: include}); err != nil {
			t.Fatal(err)
		}
		if len(synced) != 1 || synced[0] != target {
			t.Errorf("include %q: synced %v, want the target once", include, synced)
		}

		engine.SetSyncFS(t, func(string) error { return errors.New("I/O error") })
		_, err := engine.Restore(context.Background(), engine.RestoreOptions{Target: t.TempDir(), Chain: []engine.ArchiveRef{r}, Include: include})
		if err == nil || !strings.Contains(err.Error(), "write the restored files to disk: I/O error") {
			t.Errorf("include %q, failing sync: got %v", include, err)
		}
	}
}
