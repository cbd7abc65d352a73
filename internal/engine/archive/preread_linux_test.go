package archive

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/backapp/backapp/internal/engine/scan"
)

// walked is the walk's node for the file at p.
func walked(t *testing.T, p string) scan.Node {
	t.Helper()
	var got *scan.Node
	err := scan.Walk(context.Background(), []string{p}, scan.Options{}, func(n scan.Node) error { got = &n; return nil })
	if err != nil || got == nil {
		t.Fatalf("walk %s: %v", p, err)
	}
	return *got
}

// TestReadWhole: a file is read whole when it is what the walk saw, and left to the
// writer (false) when anything the archive records changed after the walk, when it
// vanished, or when a FIFO took its place — which never blocks the reader, nor
// Prefetch.
func TestReadWhole(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	write := func() {
		if err := os.WriteFile(p, []byte("content"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write()
	n := walked(t, p)
	buf := make([]byte, 7)
	if ok, cached := ReadWhole(n, buf); !ok || !cached || string(buf) != "content" {
		t.Fatalf("unchanged file just written: read %q (ok %v, cached %v)", buf, ok, cached)
	}
	if ok, _ := ReadWhole(n, make([]byte, 6)); ok {
		t.Error("read into a buffer of another size than the file's")
	}
	// Out of the page cache (written back, then dropped): read all the same, and
	// reported as not cached.
	evict(t, p)
	clear(buf)
	if ok, cached := ReadWhole(n, buf); !ok || cached || string(buf) != "content" {
		t.Errorf("file out of the page cache: read %q (ok %v, cached %v)", buf, ok, cached)
	}
	changes := map[string]func(){
		"chmod": func() { os.Chmod(p, 0o600) },
		"mtime": func() { os.Chtimes(p, time.Time{}, time.Unix(1, 0)) },
		"grown": func() { os.WriteFile(p, []byte("content+"), 0o644) },
		"replaced": func() { // another inode: made while the old one still exists
			q := p + ".new"
			os.WriteFile(q, []byte("content"), 0o644)
			os.Rename(q, p)
		},
		"vanished": func() { os.Remove(p) },
		"fifo": func() {
			os.Remove(p)
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			os.Remove(p)
			write()
			n := walked(t, p)
			change()
			done := make(chan bool)
			go func() {
				Prefetch(p) // nor does the hint block
				ok, _ := ReadWhole(n, make([]byte, n.Info.Size()))
				done <- ok
			}()
			select {
			case ok := <-done:
				if ok {
					t.Errorf("read ahead after %s", name)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("ReadWhole or Prefetch blocks after %s", name)
			}
		})
	}
}

// evict writes the file at p back and drops its pages from the page cache.
func evict(t *testing.T, p string) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
}
