package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
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
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

type stored struct {
	key string
	res engine.Result
}

// backupTo runs a backup of o.Sources into dest under key.
func backupTo(t *testing.T, dest storage.Destination, key string, o engine.BackupOptions) (stored, error) {
	t.Helper()
	ctx := context.Background()
	as, err := presigned.NewSession(ctx, dest, key)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := presigned.NewSession(ctx, dest, storage.ManifestKey(key))
	if err != nil {
		t.Fatal(err)
	}
	o.Name, o.Archive, o.Manifest = key, as, ms
	res, err := engine.Backup(ctx, o)
	return stored{key: key, res: res}, err
}

func mustBackup(t *testing.T, dest storage.Destination, key string, o engine.BackupOptions) stored {
	t.Helper()
	s, err := backupTo(t, dest, key, o)
	if err != nil {
		t.Fatalf("backup %s: %v", key, err)
	}
	return s
}

func ref(dest storage.Destination, s stored) engine.ArchiveRef {
	return engine.ArchiveRef{
		Name:           s.key,
		Archive:        presigned.GetURL(dest, s.key),
		Manifest:       presigned.GetURL(dest, storage.ManifestKey(s.key)),
		SHA256:         s.res.Archive.SHA256,
		Size:           s.res.Archive.Size,
		ManifestSHA256: s.res.Manifest.SHA256,
	}
}

func key(i int, o seal.Options) string {
	n, _ := o.Normalize()
	return storage.ArchiveKey("u1", "a1", "c1", t0.Add(time.Duration(i)*time.Hour), n.Codec, n.Encrypted())
}

// previous opens the manifest of s for an incremental backup.
func previous(t *testing.T, dest storage.Destination, s stored, o engine.RestoreOptions) *manifest.Reader {
	t.Helper()
	r, c, err := engine.OpenManifest(context.Background(), s.key, presigned.GetURL(dest, storage.ManifestKey(s.key)), "", o.Identities, upload.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return r
}

// TestRoundTrip backs up a tree with every kind of entry, a 2 GiB sparse file included,
// to the real S3 test server and restores it identically.
func TestRoundTrip(t *testing.T) {
	dest := s3test.New(t)
	src := filepath.Join(t.TempDir(), "src")
	genTree(t, src, treeOpts{smallFiles: 3000, sparseSize: 2 << 30})
	want := describe(t, src)

	start := time.Now()
	s := mustBackup(t, dest, key(0, seal.Options{}), engine.BackupOptions{Sources: []string{src}})
	t.Logf("backup: %v, %d entries, %d content bytes, stored %d bytes in %d parts",
		time.Since(start), s.res.Trailer.Entries, s.res.Trailer.ContentBytes, s.res.Archive.Size, len(s.res.Archive.Parts))
	if len(s.res.Issues) != 0 {
		t.Errorf("issues: %v", s.res.Issues)
	}
	obj, err := dest.Stat(context.Background(), s.key)
	if err != nil {
		t.Fatal(err)
	}
	if obj.Size != s.res.Archive.Size {
		t.Errorf("stored object size %d, result says %d", obj.Size, s.res.Archive.Size)
	}

	target := t.TempDir()
	start = time.Now()
	rr, err := engine.Restore(context.Background(), engine.RestoreOptions{Target: target, Chain: []engine.ArchiveRef{ref(dest, s)}})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	t.Logf("restore: %v, %d files, %d bytes", time.Since(start), rr.Files, rr.Bytes)
	got := describe(t, filepath.Join(target, filepath.FromSlash(scan.ArchiveName(src))))
	compareTrees(t, want, got)

	// The restored sparse file stays sparse.
	fi, err := os.Stat(filepath.Join(target, filepath.FromSlash(scan.ArchiveName(src)), "sparse.img"))
	if err != nil {
		t.Fatal(err)
	}
	if du := diskUsage(t, fi); du > 1<<20 {
		t.Errorf("restored sparse file uses %d bytes on disk, want holes kept", du)
	}

	// Restoring again into the same target refuses to overwrite.
	_, err = engine.Restore(context.Background(), engine.RestoreOptions{Target: target, Chain: []engine.ArchiveRef{ref(dest, s)}, Include: []string{scan.ArchiveName(src) + "/modes"}})
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("restore over existing files: got %v, want an 'already exists' error", err)
	}
}

func TestSubsetRestore(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the tree holds Unix modes, hard links and symbolic links")
	}
	dest := s3test.New(t)
	src := filepath.Join(t.TempDir(), "src")
	genTree(t, src, treeOpts{smallFiles: 100})
	s := mustBackup(t, dest, key(0, seal.Options{}), engine.BackupOptions{Sources: []string{src}})
	target := t.TempDir()
	_, err := engine.Restore(context.Background(), engine.RestoreOptions{Target: target, Chain: []engine.ArchiveRef{ref(dest, s)},
		Include: []string{src + "/modes", "**/hard/sub/c", "**/f0001?.txt"}})
	if err != nil {
		t.Fatal(err)
	}
	all := describe(t, src)
	got := describe(t, filepath.Join(target, filepath.FromSlash(scan.ArchiveName(src))))
	for p := range got {
		if all[p] == "" {
			t.Errorf("restored %s, which is not in the source", p)
		}
	}
	for _, p := range []string{"modes/ro", "modes/sticky", "hard/sub/c", "small/d10/f00010.txt", "small/d19/f00019.txt"} {
		if got[p] == "" {
			t.Errorf("%s not restored", p)
		}
	}
	if got["hard/a"] == "" {
		t.Errorf("hard link target hard/a not restored with hard/sub/c")
	}
	if got["small/d20/f00020.txt"] != "" || got["名前"] != "" {
		t.Errorf("restored entries outside the subset")
	}
}

func TestBackupErrors(t *testing.T) {
	dest := s3test.New(t)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "f"), "x", 0o644, t0)
	for _, tc := range []struct {
		name string
		o    engine.BackupOptions
		want string
	}{
		{"missing source", engine.BackupOptions{Sources: []string{filepath.Join(src, "nope")}}, "source path does not exist"},
		{"bad pattern", engine.BackupOptions{Sources: []string{src}, Exclude: []string{"a[b"}}, "bad pattern"},
		{"bad level", engine.BackupOptions{Sources: []string{src}, Seal: seal.Options{Codec: seal.Gzip, Level: 12}}, "gzip level 12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := backupTo(t, dest, key(1, seal.Options{}), tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want error containing %q", err, tc.want)
			}
		})
	}
}

// TestCancelAborts cancels a backup and checks that no multipart upload is left.
func TestCancelAborts(t *testing.T) {
	dest := s3test.New(t)
	src := filepath.Join(t.TempDir(), "src")
	genTree(t, src, treeOpts{smallFiles: 500})
	ctx, cancel := context.WithCancel(context.Background())
	k := key(0, seal.Options{})
	as, _ := presigned.NewSession(ctx, dest, k)
	ms, _ := presigned.NewSession(ctx, dest, storage.ManifestKey(k))
	n := 0
	_, err := engine.Backup(ctx, engine.BackupOptions{Name: k, Sources: []string{src}, Archive: as, Manifest: ms,
		// Now is called once, as the run starts: cancel there.
		Now: func() time.Time {
			n++
			if n == 1 {
				cancel()
			}
			return t0
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	ups, err := dest.ListUploads(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 0 {
		t.Errorf("%d multipart uploads left after cancel, want 0", len(ups))
	}
	if _, err := dest.Stat(context.Background(), k); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("archive stat after cancel: %v, want not found", err)
	}
}

// TestPerSourcePatterns: one source's exclusions leave another source alone.
func TestPerSourcePatterns(t *testing.T) {
	dest := s3test.New(t)
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	for _, d := range []string{a, b} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"x.log", "y.txt"} {
			if err := os.WriteFile(filepath.Join(d, f), []byte(f), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	s := mustBackup(t, dest, key(0, seal.Options{}), engine.BackupOptions{Sources: []string{a, b},
		Exclude:        []string{"y.none"},
		SourcePatterns: map[string]engine.Patterns{a: {Exclude: []string{"*.log"}}}})
	target := t.TempDir()
	if _, err := engine.Restore(context.Background(), engine.RestoreOptions{Target: target, Chain: []engine.ArchiveRef{ref(dest, s)}}); err != nil {
		t.Fatal(err)
	}
	in := func(p string) bool {
		_, err := os.Lstat(filepath.Join(target, filepath.FromSlash(scan.ArchiveName(p))))
		return err == nil
	}
	for p, want := range map[string]bool{a + "/x.log": false, a + "/y.txt": true, b + "/x.log": true, b + "/y.txt": true} {
		if got := in(p); got != want {
			t.Errorf("%s restored = %v, want %v", p, got, want)
		}
	}
	if _, err := backupTo(t, dest, key(1, seal.Options{}), engine.BackupOptions{Sources: []string{a},
		SourcePatterns: map[string]engine.Patterns{a: {Exclude: []string{"[bad"}}}}); err == nil {
		t.Error("a bad per-source pattern was accepted")
	}
}
