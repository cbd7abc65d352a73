package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

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
		err := walkAhead(context.Background(), []string{dir}, scan.Options{}, readAhead,
			func(n scan.Node) error { got = append(got, n.Path); return nil },
			func(i scan.Issue) error { got = append(got, "issue "+i.Path); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("read-ahead %d: %d items in another order than the walk's %d", readAhead, len(got), len(want))
		}
	}

	stop := errors.New("writer failed")
	n := 0
	err := walkAhead(context.Background(), []string{dir}, scan.Options{}, 4,
		func(scan.Node) error {
			if n++; n == 10 {
				return stop
			}
			return nil
		}, func(scan.Issue) error { return nil })
	if !errors.Is(err, stop) || n != 10 {
		t.Errorf("writer error at entry 10: got %v after %d entries", err, n)
	}
}

// TestPrefetchNeverBlocks: a FIFO in a regular file's place does not hang read-ahead.
func TestPrefetchNeverBlocks(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pipe")
	if err := mkfifo(p); errors.Is(err, errors.ErrUnsupported) {
		t.Skip("no FIFOs here")
	} else if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { prefetch(p); prefetch(filepath.Join(t.TempDir(), "missing")); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("prefetch of a FIFO blocks")
	}
	_ = os.Remove(p)
}
