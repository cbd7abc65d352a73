package engine

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/backapp/backapp/internal/engine/archive"
	"github.com/backapp/backapp/internal/engine/scan"
	"github.com/backapp/backapp/internal/testenv/treetest"
)

// TestWalkAhead: entries and issues reach the writer in exactly the order of a plain
// walk, read-ahead or not; an error of the writer stops the walk and is returned.
func TestWalkAhead(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	for i := range 700 {
		files[fmt.Sprintf("d%d/f%03d", i%7, i)] = "x"
	}
	treetest.Write(t, dir, files)
	if err := mkfifo(filepath.Join(dir, "d3", "pipe")); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		t.Fatal(err)
	}
	var want []string
	so := scan.Options{OnIssue: func(i scan.Issue) error { want = append(want, "issue "+i.Path); return nil }}
	if err := scan.Walk(context.Background(), []string{dir}, so, func(n scan.Node) error { want = append(want, n.Path); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, readAhead := range []int{0, 4} {
		var got []string
		read := 0
		err := walkAhead(context.Background(), []string{dir}, scan.Options{}, readAhead,
			func(n scan.Node, r *readFile) error {
				got = append(got, n.Path)
				if r != nil && r.Wait() {
					if string(r.Data) != "x" || r.Sum != sha256.Sum256([]byte("x")) {
						t.Errorf("%s read ahead as %q", n.Path, r.Data)
					}
					read++
				}
				return nil
			},
			func(i scan.Issue) error { got = append(got, "issue "+i.Path); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("read-ahead %d: %d items in another order than the walk's %d", readAhead, len(got), len(want))
		}
		if wantRead := 0; readAhead > 0 && archive.PreReadSupported {
			if wantRead = 700; read != wantRead {
				t.Errorf("read-ahead %d: %d files read ahead, want %d", readAhead, read, wantRead)
			}
		}
	}

	stop := errors.New("writer failed")
	n := 0
	err := walkAhead(context.Background(), []string{dir}, scan.Options{}, 4,
		func(scan.Node, *readFile) error {
			if n++; n == 10 {
				return stop
			}
			return nil
		}, func(scan.Issue) error { return nil })
	if !errors.Is(err, stop) || n != 10 {
		t.Errorf("writer error at entry 10: got %v after %d entries", err, n)
	}
}

// TestReadRing: reservations wrap around the ring's end, fail when the ring is full
// and succeed again once the oldest are released; the ring never hands out bytes that
// are still reserved.
func TestReadRing(t *testing.T) {
	r := newReadRing(0, 100)
	defer r.close()
	taken := func(f *readFile) (int, int) {
		if len(f.Data) == 0 {
			return 0, 0
		}
		start := int(uintptr(unsafe.Pointer(&f.Data[0])) - uintptr(unsafe.Pointer(&r.buf[0])))
		return start, start + len(f.Data)
	}
	done := func(f *readFile) *readFile { f.ready <- struct{}{}; return f }
	a, b := done(r.reserve(40)), done(r.reserve(40))
	if c := r.reserve(30); c != nil {
		t.Fatalf("30 bytes reserved with 20 free")
	}
	if z := r.reserve(0); z == nil {
		t.Fatal("an empty file finds no room")
	} else {
		r.release(done(z)) // released out of order, but it holds nothing
	}
	r.release(a)
	c := r.reserve(30) // does not fit before the end (80+30 > 100): wraps to 0
	if c == nil {
		t.Fatal("30 bytes not reserved after 40 were released")
	}
	if s, e := taken(c); s != 0 || e != 30 {
		t.Errorf("wrapped reservation at %d–%d, want 0–30", s, e)
	}
	if d := r.reserve(11); d != nil {
		s, e := taken(d)
		t.Fatalf("11 bytes reserved at %d–%d while 40–80 and 0–30 are held", s, e)
	}
	d := done(r.reserve(10)) // 30–40 is free
	if s, e := taken(d); s != 30 || e != 40 {
		t.Errorf("reservation at %d–%d, want 30–40", s, e)
	}
	r.release(b)
	r.release(done(c))
	r.release(d)
	if r.used != 0 {
		t.Errorf("%d bytes still counted as used after every release", r.used)
	}
	if f := r.reserve(100); f == nil {
		t.Error("the whole ring cannot be reserved once empty")
	}
}

// TestReadRingWaits: a reservation that finds no room waits for a release, and gives up
// when the walk is cancelled.
func TestReadRingWaits(t *testing.T) {
	r := newReadRing(0, 10)
	defer r.close()
	a := r.reserve(10)
	got := make(chan *readFile)
	go func() {
		f, _ := r.reserveWait(context.Background(), 5)
		got <- f
	}()
	a.ready <- struct{}{}
	r.release(a)
	if f := <-got; f == nil {
		t.Fatal("no reservation after the release")
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("stopped")
	cancel(stop)
	if _, err := r.reserveWait(ctx, 10); !errors.Is(err, stop) {
		t.Errorf("reserveWait on a full ring after cancel: %v", err)
	}
}
