package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/backapp/backapp/internal/engine/scan"
)

// TestReadRingFindsColdCache: a file read ahead from the page cache leaves the walk's
// hints off; one that a reader had to wait for the disk for turns them on.
func TestReadRingFindsColdCache(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, make([]byte, 64<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	var n scan.Node
	if err := scan.Walk(context.Background(), []string{p}, scan.Options{}, func(w scan.Node) error { n = w; return nil }); err != nil {
		t.Fatal(err)
	}
	r := newReadRing(1, 1<<20)
	defer r.close()
	read := func() {
		f := r.reserve(int(n.Info.Size()))
		f.node = n
		r.work <- f
		if !f.Wait() {
			t.Fatal("file not read ahead")
		}
		r.release(f)
	}
	read()
	if r.cold.Load() {
		t.Fatal("a file just written was found out of the page cache")
	}
	fd, err := unix.Open(p, unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	read()
	if !r.cold.Load() {
		t.Error("a file out of the page cache did not turn the hints on")
	}
}
