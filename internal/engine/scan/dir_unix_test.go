//go:build unix

package scan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// walkAll walks src with the given openDir and returns each node and issue as text
// (everything a node carries, its FileInfo's methods included).
// The stat of changing, a directory the test changes during the walk, is left out.
func walkAll(t *testing.T, open func(string) (*dir, error), src, changing string, o Options) []string {
	t.Helper()
	saved := openDir
	openDir = open
	defer func() { openDir = saved }()
	var out []string
	o.OnIssue = func(i Issue) error {
		out = append(out, fmt.Sprintf("issue %s %s %v %v", i.Op, i.Path, i.Err, i.Warning))
		return nil
	}
	err := Walk(context.Background(), []string{src}, o, func(n Node) error {
		fi := n.Info
		if n.Path == changing {
			out = append(out, "node "+n.Name)
			return nil
		}
		out = append(out, fmt.Sprintf("node %s %s %s %q %+v | %s %d %v %v %v", n.Name, n.Path, n.Type, n.Link, n.Stat,
			fi.Name(), fi.Size(), fi.Mode(), fi.ModTime().UnixNano(), fi.IsDir()))
		// Both ways agree with os.Lstat (or os.Stat, for a followed link).
		want, err := os.Lstat(n.Path)
		if err == nil && want.Mode()&os.ModeSymlink != 0 && (o.FollowSymlinks || n.Path == src) {
			if target, err := os.Stat(n.Path); err == nil {
				want = target
			}
		}
		if err != nil {
			t.Errorf("%s: %v", n.Path, err)
			return nil
		}
		if got, want := []any{fi.Name(), fi.Size(), fi.Mode(), fi.ModTime(), fi.IsDir(), n.Stat},
			[]any{want.Name(), want.Size(), want.Mode(), want.ModTime(), want.IsDir(), statOf(want)}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: walk %v, os %v", n.Path, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The walk lstats entries relative to their open directory (fstatat); what it gives
// must be what lstat by full path gives: the same nodes in the same order, the same
// issues with the same errors, for every kind of file, and for files that vanish
// between the directory's listing and the stat.
func TestWalkAtSameAsByPath(t *testing.T) {
	src := t.TempDir()
	touch(t, filepath.Join(src, "a", "f"))
	touch(t, filepath.Join(src, "a", "exec"))
	if err := os.Chmod(filepath.Join(src, "a", "exec"), os.ModeSetuid|os.ModeSetgid|0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "a", "data"), []byte("content"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(src, "a", "data"), filepath.Join(src, "a", "hard")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(src, "sticky", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(src, "sticky"), os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"to-dir": "a", "to-file": "a/f", "dangling": "nowhere", "a/up": ".."} {
		if err := os.Symlink(target, filepath.Join(src, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := mkfifo(filepath.Join(src, "fifo")); err != nil {
		t.Fatal(err)
	}
	// More entries than a window, and enough to spread over two goroutines.
	big := filepath.Join(src, "big")
	if err := os.Mkdir(big, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range statWindow + 100 {
		if err := os.WriteFile(filepath.Join(big, fmt.Sprintf("f%05d", i)), make([]byte, i%7), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(big, "f00500-dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	// Listed, then gone before their stat: reported as vanished, both ways.
	vanish := func(dir string) {
		if dir != big {
			return
		}
		for _, name := range []string{"f00003", "f01050", "f00500-dir"} {
			if err := os.RemoveAll(filepath.Join(big, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	restore := func() {
		for _, name := range []string{"f00003", "f01050"} {
			touch(t, filepath.Join(big, name))
		}
		if err := os.MkdirAll(filepath.Join(big, "f00500-dir"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	m, err := NewMatcher([]string{"big", "a/*"}, []string{"f00010", "/**/sticky/sub"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"plain", Options{}},
		{"follow", Options{FollowSymlinks: true}},
		{"patterns", Options{Matcher: m}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testHookDirRead = vanish
			defer func() { testHookDirRead = nil }()
			at := walkAll(t, openDirAt, src, big, tc.o)
			restore()
			byPath := walkAll(t, openDirByPath, src, big, tc.o)
			restore()
			if !slices.Equal(at, byPath) {
				t.Errorf("fstatat and lstat by path differ:\n%s", diffLines(at, byPath))
			}
			vanished := 0
			for _, l := range at {
				if len(l) > 14 && l[:14] == "issue vanished" {
					vanished++
				}
			}
			if vanished != 3 {
				t.Errorf("%d vanished files reported, want 3:\n%v", vanished, at)
			}
		})
	}
}

func diffLines(a, b []string) string {
	out := ""
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			out += fmt.Sprintf("  at:      %s\n  by path: %s\n", x, y)
		}
	}
	return out
}

func TestChildPath(t *testing.T) {
	for _, tc := range [][2]string{{"/", "a"}, {"/x", "a"}, {"/x/y", "b c"}, {"/x/", "a"}, {"/x", "..."}} {
		dir := filepath.Clean(tc[0])
		if got, want := childPath(dir, tc[1]), filepath.Join(dir, tc[1]); got != want {
			t.Errorf("childPath(%q, %q) = %q, want %q", dir, tc[1], got, want)
		}
	}
}
