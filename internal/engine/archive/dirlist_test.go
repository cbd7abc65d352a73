package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

// TestDirListSpills: beyond dirsInMemory directories the list goes to sorted runs in a
// temporary file, and hands the directories back in the same order, with the same
// metadata, as sorting them all in memory.
func TestDirListSpills(t *testing.T) {
	defer func(n int) { dirsInMemory = n }(dirsInMemory)
	dirsInMemory = 7
	r := rand.New(rand.NewPCG(1, 2))
	var all []dirMeta
	l := dirList{dir: t.TempDir()}
	for i := range 100 {
		name := fmt.Sprintf("d%d", r.IntN(4))
		for range r.IntN(4) {
			name += fmt.Sprintf("/s%d", r.IntN(3))
		}
		d := dirMeta{name: name, mode: fs.FileMode(0o700 + i), mtime: time.Unix(int64(1e9+i*1000), int64(i*7919)),
			uid: i - 3, gid: 1000 + i}
		all = append(all, d)
		if err := l.add(d); err != nil {
			t.Fatal(err)
		}
	}
	if l.file == nil || len(l.runs) != 100/7 || len(l.mem) != 100%7 {
		t.Fatalf("%d runs on disk and %d in memory, want %d and %d", len(l.runs), len(l.mem), 100/7, 100%7)
	}
	want := slices.Clone(all)
	slices.SortStableFunc(want, finishOrder)
	var got []dirMeta
	if err := l.each(func(d dirMeta) { got = append(got, d) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d directories back, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.name != w.name || g.mode != w.mode || !g.mtime.Equal(w.mtime) || g.uid != w.uid || g.gid != w.gid {
			t.Fatalf("directory %d: %+v, want %+v", i, g, w)
		}
	}
	if l.file != nil || l.mem != nil {
		t.Error("the list is not emptied after each")
	}
}

// TestExtractManyDirsTimes: a restore of more directories than it keeps in memory
// still gives each its mode and time.
func TestExtractManyDirsTimes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows directories have no Unix permission bits")
	}
	defer func(n int) { dirsInMemory = n }(dirsInMemory)
	dirsInMemory = 5
	var ents []ent
	for i := range 30 {
		d := fmt.Sprintf("a%02d/", i/6)
		if i%6 == 0 {
			ents = append(ents, ent{name: d, typ: tar.TypeDir, mode: 0o750, mtime: time.Unix(1.1e9, 0)})
		}
		sub := fmt.Sprintf("%sb%02d/", d, i)
		ents = append(ents, ent{name: sub, typ: tar.TypeDir, mode: 0o700 + int64(i%8), mtime: time.Unix(int64(1.2e9+i), 0)},
			ent{name: sub + "f", body: "x", typ: tar.TypeReg})
	}
	target := t.TempDir()
	x := newExtractor(t, target, ExtractOptions{TempDir: t.TempDir()})
	must(t, x.Extract(context.Background(), bytes.NewReader(tarOf(t, ents...))))
	if x.dirs.file == nil {
		t.Fatal("the directories were not spilled")
	}
	must(t, x.Finish())
	for _, e := range ents {
		if e.typ != tar.TypeDir {
			continue
		}
		fi, err := os.Lstat(filepath.Join(target, e.name))
		if err != nil {
			t.Fatal(err)
		}
		if int64(fi.Mode().Perm()) != e.mode || !fi.ModTime().Equal(e.mtime) {
			t.Errorf("%s: mode %o, mtime %v; want %o, %v", e.name, fi.Mode().Perm(), fi.ModTime(), e.mode, e.mtime)
		}
	}
}
