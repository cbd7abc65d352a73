package engine_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// writeFile writes data to p with mode and mtime.
func writeFile(t *testing.T, p string, data string, mode fs.FileMode, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

type treeOpts struct {
	smallFiles int
	sparseSize int64 // 0: no sparse file
}

// genTree builds a tree with every kind of entry backapp must preserve.
func genTree(t *testing.T, dir string, o treeOpts) {
	t.Helper()
	base := time.Date(2024, 3, 1, 12, 0, 0, 123456789, time.UTC)
	for i := range o.smallFiles {
		p := filepath.Join(dir, "small", fmt.Sprintf("d%02d", i%50), fmt.Sprintf("f%05d.txt", i))
		writeFile(t, p, strings.Repeat(fmt.Sprintf("file %d\n", i), i%7+1), 0o644, base.Add(time.Duration(i)*time.Second))
	}
	// Unicode and long names.
	writeFile(t, filepath.Join(dir, "名前", "ファイル-ü-é-😀.txt"), "unicode\n", 0o640, base)
	long := strings.Repeat("l", 196) + ".txt" // 200 bytes
	writeFile(t, filepath.Join(dir, "long", long), "long name\n", 0o600, base)
	longDir := strings.Repeat("D", 200)
	writeFile(t, filepath.Join(dir, "long", longDir, strings.Repeat("x", 200)), "long path\n", 0o644, base)
	// Deep nesting: a path of more than 1000 bytes.
	deep := filepath.Join(dir, "deep")
	for i := range 60 {
		deep = filepath.Join(deep, fmt.Sprintf("level-%02d-abcdefghij", i))
	}
	writeFile(t, filepath.Join(deep, "bottom.txt"), "deep\n", 0o644, base)
	// Odd modes.
	writeFile(t, filepath.Join(dir, "modes", "ro"), "read only\n", 0o444, base)
	writeFile(t, filepath.Join(dir, "modes", "exec"), "#!/bin/sh\n", 0o751, base)
	writeFile(t, filepath.Join(dir, "modes", "none"), "no perms\n", 0o000, base)
	writeFile(t, filepath.Join(dir, "modes", "setuid"), "suid\n", 0o4755|fs.ModeSetuid, base)
	if err := os.Chmod(filepath.Join(dir, "modes", "setuid"), 0o755|fs.ModeSetuid|fs.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	sticky := filepath.Join(dir, "modes", "sticky")
	if err := os.Mkdir(sticky, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sticky, 0o1777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	// Empty directories.
	for _, d := range []string{"empty", "empty2/nested-empty"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Symlinks: relative, absolute, dangling, to a directory.
	links := map[string]string{
		"links/rel":      "../small/d00/f00000.txt",
		"links/abs":      "/etc/hostname",
		"links/dangling": "does/not/exist",
		"links/dir":      "../small",
	}
	for l, target := range links {
		p := filepath.Join(dir, l)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	// Hard links.
	writeFile(t, filepath.Join(dir, "hard", "a"), "shared content\n", 0o644, base)
	for _, n := range []string{"b", "sub/c"} {
		p := filepath.Join(dir, "hard", n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(filepath.Join(dir, "hard", "a"), p); err != nil {
			t.Fatal(err)
		}
	}
	if o.sparseSize > 0 {
		p := filepath.Join(dir, "sparse.img")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(o.sparseSize); err != nil {
			t.Fatal(err)
		}
		for _, off := range []int64{0, o.sparseSize / 3, o.sparseSize - 5} {
			if _, err := f.WriteAt([]byte("DATA!"), off); err != nil {
				t.Fatal(err)
			}
		}
		f.Close()
		if err := os.Chtimes(p, base, base); err != nil {
			t.Fatal(err)
		}
	}
	// Directory times last: creating entries changed them.
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && p != dir {
			_ = os.Chtimes(p, base, base.Add(time.Hour))
		}
		return nil
	})
}

// describe returns one line per entry under dir: type, mode, mtime, size, content hash
// or link target, and for files with several links the group they share.
func describe(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	inodes := map[uint64]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		s := fmt.Sprintf("%s mode=%v mtime=%d", typeOf(fi), fi.Mode(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode().IsRegular():
			s += fmt.Sprintf(" size=%d sha=%s", fi.Size(), hashFile(t, p))
			if ino, nlink := linkInfo(fi); nlink > 1 {
				if first, ok := inodes[ino]; ok {
					s += " linked-to=" + first
				} else {
					inodes[ino] = rel
				}
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			s += " -> " + target
		}
		out[filepath.ToSlash(rel)] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func typeOf(fi fs.FileInfo) string {
	switch m := fi.Mode(); {
	case m.IsRegular():
		return "file"
	case m.IsDir():
		return "dir"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	}
	return "other"
}

func hashFile(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		if os.IsPermission(err) {
			return "unreadable"
		}
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// compareTrees fails the test with every difference between want and got.
func compareTrees(t *testing.T, want, got map[string]string) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	n := 0
	for _, k := range keys {
		if want[k] != got[k] {
			n++
			if n <= 20 {
				t.Errorf("%s:\n got  %q\n want %q", k, got[k], want[k])
			}
		}
	}
	if n > 20 {
		t.Errorf("... and %d more differences", n-20)
	}
}
