package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backapp/backapp/internal/engine"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/storage/s3test"
)

// TestRestoreChecksManifest: a restore refuses a manifest of another chain before it
// writes anything, and an archive that lacks entries its manifest lists, whether the
// manifest is read once (a whole archive of known digest) or twice (a subset).
func TestRestoreChecksManifest(t *testing.T) {
	dest := s3test.New(t)
	src := filepath.Join(t.TempDir(), "src")
	for _, f := range []string{"a", "b", "c"} {
		if err := os.MkdirAll(src, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, f), []byte("file "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
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
