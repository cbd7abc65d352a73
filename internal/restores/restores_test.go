package restores

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/engine/manifest"
)

func TestCleanTarget(t *testing.T) {
	for _, tc := range []struct{ in, want, msg string }{
		{"/srv/restore", "/srv/restore", ""},
		{"  /srv//restore/ ", "/srv/restore", ""},
		{`C:\Restore`, `C:\Restore`, ""},
		{"d:/restore", "d:/restore", ""},
		{"", "", "required"},
		{"restore/here", "", "absolute"},
		{"./x", "", "absolute"},
		{"~/x", "", "absolute"},
		{"/srv/../etc", "", `".."`},
		{"/srv/./x", "", `"."`},
		{`C:\a\..\b`, "", `".."`},
		{"/a\x00b", "", "control"},
		{"/" + strings.Repeat("a", 4096), "", "longer"},
	} {
		got, msg := cleanTarget(tc.in)
		if got != tc.want || (tc.msg == "") != (msg == "") || !strings.Contains(msg, tc.msg) {
			t.Errorf("cleanTarget(%q) = %q, %q; want %q and a message with %q", tc.in, got, msg, tc.want, tc.msg)
		}
	}
}

// mkManifest writes a manifest of entries (in ComparePaths order).
func mkManifest(t *testing.T, entries ...manifest.Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := manifest.NewWriter(&buf, manifest.Header{Name: "r2", Chain: []string{"r1", "r2"}, Created: time.Now(), Codec: "zstd",
		Sources: []string{"/home/alice", "/srv/data"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := w.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(manifest.Trailer{Entries: int64(len(entries))}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readerOf(t *testing.T, b []byte) *manifest.Reader {
	t.Helper()
	r, err := manifest.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCatalogTree(t *testing.T) {
	mt := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	b := mkManifest(t,
		manifest.Entry{Path: "home/alice", Type: "dir", MTime: mt},
		manifest.Entry{Path: "home/alice/B.txt", Type: "hardlink", Link: "home/alice/a.txt", Size: 3},
		manifest.Entry{Path: "home/alice/a.txt", Type: "file", Size: 3, MTime: mt, In: 1},
		manifest.Entry{Path: "home/alice/gone.txt", Type: "deleted", In: 1},
		manifest.Entry{Path: "home/alice/z", Type: "dir"},
		manifest.Entry{Path: "home/alice/z/link", Type: "symlink", Link: "../a.txt"},
		manifest.Entry{Path: "srv/data", Type: "dir"},
	)
	c, err := decodeCatalog(readerOf(t, b))
	if err != nil {
		t.Fatal(err)
	}
	c.sortKids()
	list := func(dir string) string {
		var out []string
		for _, i := range c.kids[dir] {
			e := c.entries[i]
			out = append(out, e.Path+":"+e.Type)
		}
		return strings.Join(out, " ")
	}
	for dir, want := range map[string]string{
		"":           "home:dir srv:dir",
		"home":       "home/alice:dir",
		"home/alice": "home/alice/B.txt:hardlink home/alice/a.txt:file home/alice/z:dir",
		"srv":        "srv/data:dir",
	} {
		if got := list(dir); got != want {
			t.Errorf("children of %q: %s, want %s", dir, got, want)
		}
	}
	if _, ok := c.lookup("home/alice/gone.txt"); ok {
		t.Errorf("a deletion is listed")
	}
	if !c.synth["home"] || !c.synth["srv"] || c.synth["home/alice"] {
		t.Errorf("synthesised directories: %v", c.synth)
	}
}

// TestCatalogNamesNotUTF8: names that are not UTF-8 are browsed, looked up and listed
// by the form the pages show (U+FFFD for each invalid byte), and keep their bytes.
func TestCatalogNamesNotUTF8(t *testing.T) {
	c, err := decodeCatalog(readerOf(t, mkManifest(t,
		manifest.Entry{Path: "home/alice", Type: "dir"},
		manifest.Entry{Path: "home/alice/caf\xe8", Type: "file", Size: 1},
		manifest.Entry{Path: "home/alice/caf\xe9", Type: "file", Size: 2},
		manifest.Entry{Path: "home/alice/d\xff", Type: "dir"},
		manifest.Entry{Path: "home/alice/d\xff/inner", Type: "file", Size: 3},
	)))
	if err != nil {
		t.Fatal(err)
	}
	e, ok := c.lookup("home/alice/caf\ufffd")
	if !ok || e.Path != "home/alice/caf\xe8" {
		t.Errorf("lookup by the display form: %q, %v; want the first of the two names", e.Path, ok)
	}
	if e, ok := c.lookup("home/alice/caf\xe9"); !ok || e.Size != 2 {
		t.Errorf("lookup by the bytes: %+v, %v", e, ok)
	}
	if e, ok := c.lookup("home/alice/d\ufffd"); !ok || e.Type != "dir" {
		t.Errorf("directory by the display form: %+v, %v", e, ok)
	}
	if ks := c.kids["home/alice/d\ufffd"]; len(ks) != 1 || c.entries[ks[0]].Path != "home/alice/d\xff/inner" {
		t.Errorf("children of the directory by the display form: %v", ks)
	}
	if ks := c.kids["home/alice"]; len(ks) != 3 {
		t.Errorf("home/alice lists %d entries, want both caf names and the directory", len(ks))
	}
}

func TestCatalogCacheBounded(t *testing.T) {
	cc := newCatalogCache(10)
	loads := map[string]int{}
	var mu sync.Mutex
	mk := func(id string, n int) func() (*catalog, error) {
		return func() (*catalog, error) {
			mu.Lock()
			loads[id]++
			mu.Unlock()
			time.Sleep(10 * time.Millisecond)
			return &catalog{entries: make([]node, n)}, nil
		}
	}
	// Many asking at once load once.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := cc.get("a", mk("a", 4)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if loads["a"] != 1 {
		t.Errorf("a loaded %d times, want once", loads["a"])
	}
	_, _ = cc.get("b", mk("b", 4))
	_, _ = cc.get("a", mk("a", 4)) // a is now the most recent
	_, _ = cc.get("c", mk("c", 4)) // 12 > 10: b goes
	if cc.used > 10 || cc.byRun["b"] != nil || cc.byRun["a"] == nil || cc.byRun["c"] == nil {
		t.Errorf("after c: used %d, cached %v", cc.used, keys(cc))
	}
	_, _ = cc.get("huge", mk("huge", 11)) // larger than the budget: served, not kept
	if cc.byRun["huge"] != nil || cc.used > 10 {
		t.Errorf("a catalog over the budget was kept: %v", keys(cc))
	}
	// Errors are not cached.
	fail := func() (*catalog, error) { return nil, errors.New("boom") }
	if _, err := cc.get("x", fail); err == nil {
		t.Fatal("no error")
	}
	if _, err := cc.get("x", mk("x", 1)); err != nil || loads["x"] != 1 {
		t.Errorf("after an error: %v, loads %d", err, loads["x"])
	}
}

func keys(cc *catalogCache) string {
	var out []string
	for k := range cc.byRun {
		out = append(out, k)
	}
	return fmt.Sprint(out)
}
