package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestNamesNotUTF8: paths and link targets are bytes, kept exactly, while every JSON
// string stays valid UTF-8 (the lossy form, for display).
func TestNamesNotUTF8(t *testing.T) {
	h := Header{Name: "a", Chain: []string{"a"}, Created: time.Unix(1e9, 0).UTC(), Codec: "zstd"}
	entries := []Entry{
		{Path: "d", Type: TypeDir},
		{Path: "d/caf\xe8", Type: TypeFile, Size: 3, SHA: strings.Repeat("a", 64)},
		{Path: "d/caf\xe9", Type: TypeFile, Size: 3, SHA: strings.Repeat("b", 64)},
		{Path: "d/hard", Type: TypeHardlink, Link: "d/caf\xe9"},
		{Path: "d/link\xff", Type: TypeSymlink, Link: "../x\xfe\xfey"},
		{Path: "d/ok-é", Type: TypeSymlink, Link: "plain-é"},
		{Path: "d/zz\xc3\x28", Type: TypeDeleted},
	}
	var b bytes.Buffer
	w, err := NewWriter(&b, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := w.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(Trailer{Entries: 6}); err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		for k, v := range m {
			if s, ok := v.(string); ok && !utf8.ValidString(s) {
				t.Errorf("line %d: %s is not UTF-8: %q", i, k, s)
			}
		}
		if !utf8.ValidString(l) {
			t.Errorf("line %d is not UTF-8: %q", i, l)
		}
	}
	r, err := NewReader(&b)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range entries {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if got.Path != want.Path || got.Link != want.Link || got.Type != want.Type || got.SHA != want.SHA {
			t.Errorf("entry %d: got %q → %q (%s), want %q → %q (%s)", i, got.Path, got.Link, got.Type, want.Path, want.Link, want.Type)
		}
	}
	if _, err := r.Next(); err != io.EOF || r.Trailer == nil || r.Trailer.Entries != 6 {
		t.Errorf("after the entries: %v, trailer %+v; want io.EOF and the trailer", err, r.Trailer)
	}
}

func TestDisplay(t *testing.T) {
	for in, want := range map[string]string{
		"plain":       "plain",
		"caf\xc3\xa9": "caf\xc3\xa9",
		"caf\xe9":     "caf\ufffd",
		"a\xff\xfeb":  "a\ufffd\ufffdb",
		"\xc3\x28":    "\ufffd(",
	} {
		if got := Display(in); got != want {
			t.Errorf("Display(%q) = %q, want %q", in, got, want)
		}
		j, _ := json.Marshal(in)
		var back string
		if err := json.Unmarshal(j, &back); err != nil || back != Display(in) {
			t.Errorf("Display(%q) = %q, encoding/json makes it %q", in, Display(in), back)
		}
	}
}

// TestMerge: the tree at a delta's time is the full manifest with each later delta
// applied; the latest word on a path wins, deletions included, and a deleted path
// that comes back is there again.
func TestMerge(t *testing.T) {
	chain := []string{"full", "d1", "d2"}
	write := func(i int, delta bool, es ...Entry) *Reader {
		t.Helper()
		var b bytes.Buffer
		w, err := NewWriter(&b, Header{Name: chain[i], Chain: chain[:i+1], Delta: delta})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if err := w.Add(e); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(Trailer{Stored: int64(len(es))}); err != nil {
			t.Fatal(err)
		}
		r, err := NewReader(&b)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	full := func() *Reader {
		return write(0, false, Entry{Path: "a", Type: TypeDir}, Entry{Path: "a/x", Type: TypeFile, Size: 1},
			Entry{Path: "a/y", Type: TypeFile, Size: 2}, Entry{Path: "b", Type: TypeFile, Size: 3})
	}
	d1 := func() *Reader {
		return write(1, true, Entry{Path: "a/x", Type: TypeDeleted, In: 1}, Entry{Path: "a/y", Type: TypeFile, Size: 20, In: 1},
			Entry{Path: "c", Type: TypeFile, Size: 4, In: 1})
	}
	d2 := func() *Reader {
		return write(2, true, Entry{Path: "a/x", Type: TypeFile, Size: 10, In: 2}, Entry{Path: "c", Type: TypeDeleted, In: 2})
	}
	r, err := Merge(full(), d1(), d2())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s:%s:%d:%d", e.Path, e.Type, e.Size, e.In))
	}
	want := "a:dir:0:0 a/x:file:10:2 a/y:file:20:1 b:file:3:0"
	if strings.Join(got, " ") != want {
		t.Errorf("merged tree %q, want %q", strings.Join(got, " "), want)
	}
	if r.Header.Name != "d2" || r.Trailer == nil || r.Trailer.Stored != 2 {
		t.Errorf("merged header %+v trailer %+v: want the last one's", r.Header, r.Trailer)
	}
	if _, err := Merge(full(), d2()); err == nil {
		t.Error("merge skipping a delta: no error")
	}
	if _, err := Merge(full(), full()); err == nil {
		t.Error("merge of two full manifests: no error")
	}
	var b bytes.Buffer
	w, _ := NewWriter(&b, Header{Name: "d1", Chain: chain[:2], Delta: true, Base: 1})
	w.Close(Trailer{})
	if _, err := NewReader(&b); err == nil {
		t.Error("a delta on itself: no error")
	}
}
