package engine_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/engine"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/storage/s3test"
)

// TestReadAheadSameArchive: a full backup whose small files are read ahead into the
// ring writes the same tar stream, byte for byte, and the same manifest as one whose
// writer reads every file itself — with a ring small enough that it wraps and fills
// many times, files of every size around the read-ahead limit, hard links, a sparse
// file and empty files.
func TestReadAheadSameArchive(t *testing.T) {
	engine.SetReadAheadBytes(t, 2<<20+12345)
	dest := s3test.New(t)
	src := filepath.Join(t.TempDir(), "src")
	genTree(t, src, treeOpts{smallFiles: 500, sparseSize: 8 << 20})
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 120 {
		var size int
		switch i % 4 {
		case 0:
			size = rng.IntN(4 << 10)
		case 1:
			size = rng.IntN(1 << 20)
		case 2:
			size = 1<<20 - 1 + rng.IntN(3) // around the read-ahead limit
		default:
			size = rng.IntN(300 << 10)
		}
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		writeFile(t, filepath.Join(src, "sizes", fmt.Sprintf("d%d", i%3), fmt.Sprintf("f%03d", i)), string(data), 0o600, t0)
	}

	var streams [2][]byte
	var manifests [2][]byte
	for i, readAhead := range []int{-1, 0} {
		s := mustBackup(t, dest, key(i, seal.Options{}), engine.BackupOptions{Sources: []string{src}, ReadAhead: readAhead})
		if len(s.res.Issues) != 0 {
			t.Fatalf("read-ahead %d: issues %v", readAhead, s.res.Issues)
		}
		streams[i] = plain(t, dest, s.key)
		manifests[i] = plain(t, dest, storage.ManifestKey(s.key))
	}
	if !bytes.Equal(streams[0], streams[1]) {
		t.Errorf("tar streams differ with read-ahead (%d bytes) and without (%d bytes)", len(streams[1]), len(streams[0]))
	}
	// The manifests name their own archive and time; every entry line must be the same.
	if a, b := entryLines(manifests[0]), entryLines(manifests[1]); a != b {
		t.Errorf("manifest entries differ with read-ahead and without:\n%.2000s\n---\n%.2000s", b, a)
	}
}

// plain downloads an object and returns it decompressed.
func plain(t *testing.T, dest storage.Destination, key string) []byte {
	t.Helper()
	r, _, err := seal.NewReader(bytes.NewReader(getObject(t, dest, key)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// entryLines is a manifest without its first (header) and last (trailer) lines.
func entryLines(m []byte) string {
	lines := bytes.Split(bytes.TrimSuffix(m, []byte("\n")), []byte("\n"))
	if len(lines) < 2 {
		return ""
	}
	return string(bytes.Join(lines[1:len(lines)-1], []byte("\n")))
}

// TestReadAheadRingSmallerThanFile: a file larger than the ring is left to the writer
// instead of waiting for room that never comes.
func TestReadAheadRingSmallerThanFile(t *testing.T) {
	engine.SetReadAheadBytes(t, 64<<10)
	dest := s3test.New(t)
	src := filepath.Join(t.TempDir(), "src")
	for i, size := range []int{10 << 10, 100 << 10, 64 << 10, 64<<10 + 1, 0, 30 << 10} {
		writeFile(t, filepath.Join(src, fmt.Sprintf("f%d", i)), strings.Repeat("x", size), 0o600, t0)
	}
	done := make(chan error, 1)
	go func() {
		_, err := backupTo(t, dest, key(0, seal.Options{}), engine.BackupOptions{Sources: []string{src}})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("backup with files larger than the read-ahead ring did not finish in a minute")
	}
}
