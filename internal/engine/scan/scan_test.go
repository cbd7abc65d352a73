package scan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/backapp/backapp/internal/engine/manifest"
)

func touch(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func walkNames(t *testing.T, src string, o Options) ([]string, []Issue) {
	t.Helper()
	var names []string
	var issues []Issue
	o.OnIssue = func(i Issue) error { issues = append(issues, i); return nil }
	err := Walk(context.Background(), []string{src}, o, func(n Node) error {
		names = append(names, strings.TrimPrefix(n.Name, ArchiveName(src)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names, issues
}

func TestWalkOrderAndPatterns(t *testing.T) {
	src := t.TempDir()
	for _, p := range []string{"a/x.txt", "a-b/y.tmp", "a.c", "keep/cache/z", "node_modules/m/i.js", "src/build/o.o", "src/main.go", "docs/sub/d.md"} {
		touch(t, filepath.Join(src, p))
	}
	all, _ := walkNames(t, src, Options{})
	want := []string{"", "/a", "/a/x.txt", "/a-b", "/a-b/y.tmp", "/a.c", "/docs", "/docs/sub", "/docs/sub/d.md", "/keep", "/keep/cache", "/keep/cache/z", "/node_modules", "/node_modules/m", "/node_modules/m/i.js", "/src", "/src/build", "/src/build/o.o", "/src/main.go"}
	if !slices.Equal(all, want) {
		t.Errorf("walk order:\n got  %v\n want %v", all, want)
	}
	if !slices.IsSortedFunc(all, manifest.ComparePaths) {
		t.Errorf("walk order is not ComparePaths order: %v", all)
	}

	for _, tc := range []struct {
		name             string
		include, exclude []string
		want             []string
	}{
		{"base name anywhere", nil, []string{"*.tmp", "node_modules"}, []string{"", "/a", "/a/x.txt", "/a-b", "/a.c", "/docs", "/docs/sub", "/docs/sub/d.md", "/keep", "/keep/cache", "/keep/cache/z", "/src", "/src/build", "/src/build/o.o", "/src/main.go"}},
		{"relative with **", nil, []string{"src/build/**", "**/cache", "docs/**/*.md", "a*"}, []string{"", "/docs", "/docs/sub", "/keep", "/node_modules", "/node_modules/m", "/node_modules/m/i.js", "/src", "/src/main.go"}}, // "build/**" matches build itself
		{"absolute", nil, []string{src + "/src"}, []string{"", "/a", "/a/x.txt", "/a-b", "/a-b/y.tmp", "/a.c", "/docs", "/docs/sub", "/docs/sub/d.md", "/keep", "/keep/cache", "/keep/cache/z", "/node_modules", "/node_modules/m", "/node_modules/m/i.js"}},
		{"dir only", nil, []string{"a.c/", "sub/"}, []string{"", "/a", "/a/x.txt", "/a-b", "/a-b/y.tmp", "/a.c", "/docs", "/keep", "/keep/cache", "/keep/cache/z", "/node_modules", "/node_modules/m", "/node_modules/m/i.js", "/src", "/src/build", "/src/build/o.o", "/src/main.go"}},
		{"include", []string{"*.go", "docs"}, []string{"node_modules"}, []string{"", "/docs", "/docs/sub", "/docs/sub/d.md", "/src", "/src/main.go"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewMatcher(tc.include, tc.exclude)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := walkNames(t, src, Options{Matcher: m})
			if !slices.Equal(got, tc.want) {
				t.Errorf("\n got  %v\n want %v", got, tc.want)
			}
		})
	}
	if _, err := NewMatcher(nil, []string{"[oops"}); err == nil || !strings.Contains(err.Error(), "bad pattern") {
		t.Errorf("bad pattern: got %v", err)
	}
}

func TestSpecialFilesAndSymlinks(t *testing.T) {
	src := t.TempDir()
	touch(t, filepath.Join(src, "d", "f"))
	if err := mkfifo(filepath.Join(src, "fifo")); errors.Is(err, errors.ErrUnsupported) {
		t.Skip("no FIFOs on this system")
	} else if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("d", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..", filepath.Join(src, "d", "loop")); err != nil {
		t.Fatal(err)
	}
	got, issues := walkNames(t, src, Options{})
	if want := []string{"", "/d", "/d/f", "/d/loop", "/link"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if len(issues) != 1 || issues[0].Op != "special file" || !issues[0].Warning {
		t.Errorf("issues %v, want one special-file warning", issues)
	}
	got, issues = walkNames(t, src, Options{FollowSymlinks: true})
	// A link back to a directory on the path is reported and left out.
	if want := []string{"", "/d", "/d/f", "/link", "/link/f"}; !slices.Equal(got, want) {
		t.Errorf("following: got %v, want %v", got, want)
	}
	loops := 0
	for _, i := range issues {
		if i.Op == "symlink loop" {
			loops++
		}
	}
	if loops != 2 {
		t.Errorf("issues %v, want the two loops reported", issues)
	}
}

func TestSourcesMissing(t *testing.T) {
	if _, err := Sources([]string{"/does/not/exist"}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("got %v", err)
	}
	d := t.TempDir()
	got, err := Sources([]string{filepath.Join(d, "x"), d})
	if err == nil {
		t.Errorf("got %v, want an error for the missing one", got)
	}
}
