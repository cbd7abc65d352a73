package engine_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/engine"
	"github.com/backapp/backapp/internal/engine/manifest"
	"github.com/backapp/backapp/internal/engine/scan"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/engine/upload"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/testenv/presigned"
	"github.com/backapp/backapp/internal/testenv/treetest"
)

// TestLegacyChainFixture: archives and manifests written by the engine before deltas
// (testdata/legacy-chain: a full backup and an incremental with a whole manifest, of
// /tmp/backapp-legacy-fixture/src, made by commit cca9801) restore at both points in
// time, and a chain of deltas continues from the legacy incremental: a delta that
// replaces the tree, and an unchanged run without an archive, each restoring exactly.
func TestLegacyChainFixture(t *testing.T) {
	ctx := context.Background()
	dest := s3test.New(t)
	mt := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var chain []engine.ArchiveRef
	for i := range 2 {
		k := storage.ArchiveKey("u", "a", "c", mt.Add(time.Duration(i)*time.Hour), "zstd", false)
		ref := engine.ArchiveRef{Name: k, Archive: presigned.GetURL(dest, k), Manifest: presigned.GetURL(dest, storage.ManifestKey(k))}
		for _, key := range []string{k, storage.ManifestKey(k)} {
			b, err := os.ReadFile(filepath.Join("testdata", "legacy-chain", filepath.Base(key)))
			if err != nil {
				t.Fatal(err)
			}
			if err := dest.Put(ctx, key, bytes.NewReader(b), int64(len(b))); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			if key == k {
				ref.SHA256, ref.Size = hex.EncodeToString(sum[:]), int64(len(b))
			} else {
				ref.ManifestSHA256 = hex.EncodeToString(sum[:])
			}
		}
		chain = append(chain, ref)
	}
	old := "tmp/backapp-legacy-fixture/src"
	wants := []map[string]string{
		{"a.txt": "alpha\n", "b.txt": "bravo\n", "dir/c.txt": "charlie\n"},
		{"a.txt": "alpha, changed\n", "dir/c.txt": "charlie\n", "dir/d.txt": "delta\n"},
	}
	restore := func(t *testing.T, n int, sub string) map[string]string {
		t.Helper()
		target := t.TempDir()
		if _, err := engine.Restore(ctx, engine.RestoreOptions{Target: target, Chain: chain[:n]}); err != nil {
			t.Fatalf("restore of point %d: %v", n-1, err)
		}
		if _, err := os.Stat(filepath.Join(target, filepath.FromSlash(sub))); err != nil {
			return map[string]string{}
		}
		return treetest.Read(t, filepath.Join(target, filepath.FromSlash(sub)))
	}
	for i, want := range wants {
		t.Run(fmt.Sprintf("legacy point %d", i), func(t *testing.T) {
			compareFiles(t, restore(t, i+1, old), want)
		})
	}

	// Deltas on top of the legacy chain, from another source: the legacy paths are
	// recorded deleted, the new ones added.
	src := filepath.Join(t.TempDir(), "new")
	treetest.Write(t, src, map[string]string{"x.txt": "x-ray\n", "y/z.txt": "zulu\n"})
	prev, c, err := engine.OpenManifest(ctx, chain[1].Name, chain[1].Manifest, chain[1].ManifestSHA256, nil, upload.Options{})
	if err != nil {
		t.Fatal(err)
	}
	so := seal.Options{Codec: seal.Zstd}
	s2 := mustBackup(t, dest, storage.ArchiveKey("u", "a", "c", mt.Add(2*time.Hour), "zstd", false),
		engine.BackupOptions{Sources: []string{src}, Seal: so, Previous: prev, Delta: true})
	c.Close()
	if h := s2.res.Header; !h.Delta || h.Base != 1 || s2.res.Trailer.Deleted == 0 {
		t.Errorf("delta on the legacy incremental: header %+v, trailer %+v; want a delta on archive 1 with deletions", h, s2.res.Trailer)
	}
	chain = append(chain, ref(dest, s2))
	var rs []*manifest.Reader
	for _, r := range chain[1:] {
		mr, c, err := engine.OpenManifest(ctx, r.Name, r.Manifest, r.ManifestSHA256, nil, upload.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		rs = append(rs, mr)
	}
	tree, err := manifest.Merge(rs...)
	if err != nil {
		t.Fatal(err)
	}
	s3 := mustBackup(t, dest, storage.ArchiveKey("u", "a", "c", mt.Add(3*time.Hour), "zstd", false),
		engine.BackupOptions{Sources: []string{src}, Seal: so, Previous: tree, Delta: true})
	if !s3.res.NoArchive || s3.res.Trailer.Stored != 0 {
		t.Errorf("unchanged delta run: NoArchive %v, stored %d", s3.res.NoArchive, s3.res.Trailer.Stored)
	}
	chain = append(chain, ref(dest, s3))
	newWant := map[string]string{"x.txt": "x-ray\n", "y/z.txt": "zulu\n"}
	for n := 3; n <= 4; n++ {
		t.Run(fmt.Sprintf("delta point %d", n-1), func(t *testing.T) {
			compareFiles(t, restore(t, n, scan.ArchiveName(src)), newWant)
			if got := restore(t, n, old); len(got) != 0 {
				t.Errorf("deleted legacy files restored: %v", got)
			}
		})
	}
}

func compareFiles(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("restored %v, want %v", got, want)
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
