package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// manySmall returns an archive of dirs directories of per small files each (written by
// the workers), in archive order, with the names of its files.
func manySmall(dirs, per int) ([]ent, []string) {
	var ents []ent
	var files []string
	for d := range dirs {
		dir := fmt.Sprintf("d%02d/", d)
		ents = append(ents, ent{name: dir, typ: tar.TypeDir, mode: 0o555, mtime: time.Unix(1.1e9+int64(d), 0)})
		for f := range per {
			n := fmt.Sprintf("%sf%03d", dir, f)
			ents = append(ents, ent{name: n, body: strings.Repeat(n, 1+f%7), typ: tar.TypeReg, mtime: time.Unix(1.2e9, 0)})
			files = append(files, n)
		}
	}
	return ents, files
}

// onDisk returns the regular files under dir (slash names relative to it) and fails on
// any temporary name.
func onDisk(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), TempPrefixBase) {
			t.Errorf("temporary file left: %s", p)
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			got[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestExtractParallelFailure: among many small files written by the workers one has a
// wrong hash. Extract fails with ErrContent naming it; every file it counts is on disk
// with its content and no other; every file before the bad one in archive order is on
// disk or reported not restored; nothing temporary is left.
func TestExtractParallelFailure(t *testing.T) {
	ents, files := manySmall(8, 60)
	bad := files[137]
	body := map[string]string{}
	for _, e := range ents {
		body[e.name] = e.body
	}
	target := t.TempDir()
	x := newExtractor(t, target, ExtractOptions{Select: func(name string, h *tar.Header) (Want, error) {
		if h.Typeflag != tar.TypeReg {
			return Want{Extract: true}, nil
		}
		want := sha(body[name])
		if name == bad {
			want = sha("something else")
		}
		return Want{Extract: true, SHA256: want}, nil
	}})
	err := x.Extract(context.Background(), bytes.NewReader(tarOf(t, ents...)))
	if !errors.Is(err, ErrContent) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("got %v, want ErrContent for %s", err, bad)
	}
	_ = x.Finish()
	t.Cleanup(func() {
		_ = filepath.WalkDir(target, func(p string, d fs.DirEntry, _ error) error { return os.Chmod(p, 0o755) })
	})
	notRestored := x.NotRestored()
	if e, ok := notRestored[bad]; !ok || !errors.Is(e, ErrContent) {
		t.Errorf("NotRestored()[%s] = %v, %v; want ErrContent", bad, e, ok)
	}
	got := onDisk(t, target)
	if int64(len(got)) != x.Files {
		t.Errorf("counted %d files, %d on disk", x.Files, len(got))
	}
	for n, b := range got {
		if b != body[n] {
			t.Errorf("%s holds %q, want %q", n, b, body[n])
		}
		if _, ok := notRestored[n]; ok {
			t.Errorf("%s is on disk but reported not restored", n)
		}
	}
	if _, ok := got[bad]; ok {
		t.Errorf("%s with the wrong hash is on disk", bad)
	}
	for _, n := range files[:137] {
		_, on := got[n]
		_, listed := notRestored[n]
		if !on && !listed {
			t.Errorf("%s (before the bad file) is neither on disk nor reported not restored", n)
		}
	}
}

// cancelAfter is a reader that cancels its context once n bytes were read.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p[:min(len(p), 4096)])
	if c.n -= n; c.n <= 0 {
		c.cancel()
	}
	return n, err
}

// TestExtractParallelCancel: a cancel in the middle of many small files stops the
// extraction with context.Canceled; what it counts is what is on disk, and nothing
// temporary is left.
func TestExtractParallelCancel(t *testing.T) {
	ents, _ := manySmall(6, 80)
	data := tarOf(t, ents...)
	target := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	x := newExtractor(t, target, ExtractOptions{})
	err := x.Extract(ctx, &cancelAfter{r: bytes.NewReader(data), n: len(data) / 2, cancel: cancel})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	_ = x.Finish()
	t.Cleanup(func() {
		_ = filepath.WalkDir(target, func(p string, d fs.DirEntry, _ error) error { return os.Chmod(p, 0o755) })
	})
	got := onDisk(t, target)
	if int64(len(got)) != x.Files || len(got) == 0 || len(got) >= 480 {
		t.Errorf("counted %d files, %d on disk; want the same, some but not all of 480", x.Files, len(got))
	}
}

// TestExtractParallelLinksAndDirs: hard links to small files (one to the file just
// before it, which a worker may still be writing) are made after their targets, and
// read-only directories get their mode and time after every file inside them is
// written.
func TestExtractParallelLinksAndDirs(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows files have no Unix permission bits")
	}
	ents, files := manySmall(5, 40)
	var links []ent
	for i, n := range files {
		if i%13 == 0 {
			links = append(links, ent{name: n + ".link", link: n, typ: tar.TypeLink})
		}
	}
	// Each link right after its target, in the target's directory.
	var all []ent
	for _, e := range ents {
		all = append(all, e)
		for _, l := range links {
			if l.link == e.name {
				all = append(all, l)
			}
		}
	}
	all = append(all, ent{name: "d04/g/", typ: tar.TypeDir, mode: 0o500, mtime: time.Unix(1.3e9, 0)},
		ent{name: "d04/g/late", body: "late", typ: tar.TypeReg},
		ent{name: "d04/g/late.link", link: files[0], typ: tar.TypeLink})
	target := t.TempDir()
	x := newExtractor(t, target, ExtractOptions{})
	must(t, x.Extract(context.Background(), bytes.NewReader(tarOf(t, all...))))
	must(t, x.Finish())
	t.Cleanup(func() {
		_ = filepath.WalkDir(target, func(p string, d fs.DirEntry, _ error) error { return os.Chmod(p, 0o755) })
	})
	if want := int64(len(files) + len(links) + 2); x.Files != want || x.Dirs != 6 {
		t.Errorf("counted %d files, %d directories; want %d, 6", x.Files, x.Dirs, want)
	}
	for _, l := range append(links, all[len(all)-1]) {
		a, err1 := os.Stat(filepath.Join(target, l.name))
		b, err2 := os.Stat(filepath.Join(target, l.link))
		if err1 != nil || err2 != nil || !os.SameFile(a, b) {
			t.Errorf("%s: not a hard link to %s (%v, %v)", l.name, l.link, err1, err2)
		}
	}
	for _, e := range all {
		fi, err := os.Lstat(filepath.Join(target, e.name))
		if err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeDir && (fi.Mode().Perm() != fs.FileMode(e.mode) || !fi.ModTime().Equal(e.mtime)) {
			t.Errorf("%s: mode %v, mtime %v; want %o, %v", e.name, fi.Mode().Perm(), fi.ModTime(), e.mode, e.mtime)
		}
		if e.typ == tar.TypeReg {
			if b, err := os.ReadFile(filepath.Join(target, e.name)); err != nil || string(b) != e.body {
				t.Errorf("%s: %q, %v", e.name, b, err)
			}
		}
	}
	onDisk(t, target)
}
