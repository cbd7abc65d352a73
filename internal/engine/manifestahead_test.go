package engine

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/engine/manifest"
)

// manifestOf returns a manifest of n files named f00000…, in order.
func manifestOf(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := manifest.NewWriter(&buf, manifest.Header{Name: "a", Chain: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := w.Add(manifest.Entry{Path: fmt.Sprintf("f%05d", i), Type: manifest.TypeFile, Size: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(manifest.Trailer{}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestEntriesAhead: every entry, in order, across batches, then io.EOF; a broken
// manifest's error comes after the entries before it; Close mid-way returns.
func TestEntriesAhead(t *testing.T) {
	const n = 3*aheadBatch + 17
	data := manifestOf(t, n)
	mr, err := manifest.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	a := readAhead(mr)
	for i := range n {
		e, err := a.Next()
		if err != nil || e.Path != fmt.Sprintf("f%05d", i) || e.Size != int64(i) {
			t.Fatalf("entry %d: %+v, %v", i, e, err)
		}
	}
	for range 2 {
		if _, err := a.Next(); err != io.EOF {
			t.Fatalf("after the last entry: %v, want io.EOF", err)
		}
	}
	a.Close()

	// Cut in the middle of an entry line, past the first batch.
	cut := bytes.Index(data, []byte(fmt.Sprintf("f%05d", aheadBatch+5))) + 3
	mr, err = manifest.NewReader(bytes.NewReader(data[:cut]))
	if err != nil {
		t.Fatal(err)
	}
	a = readAhead(mr)
	got := 0
	for {
		_, err := a.Next()
		if err != nil {
			if err == io.EOF {
				t.Fatal("a cut manifest ended without an error")
			}
			break
		}
		got++
	}
	if got != aheadBatch+5 { // f00000 … f00260 are whole
		t.Errorf("cut manifest: %d entries before the error, want %d", got, aheadBatch+5)
	}
	a.Close()

	// Close with most of the manifest unread (the goroutine blocked on a full channel).
	mr, err = manifest.NewReader(bytes.NewReader(manifestOf(t, 20*aheadBatch)))
	if err != nil {
		t.Fatal(err)
	}
	a = readAhead(mr)
	if _, err := a.Next(); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() { a.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
}
