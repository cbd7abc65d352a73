package manifest

import (
	"bytes"
	"encoding/json"
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
