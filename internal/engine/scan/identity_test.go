package scan

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/backapp/backapp/internal/testenv/wine"
)

// The loop check keys directories by their identity; on Windows that identity comes
// from an open handle (volume serial, file index), and a FileInfo-only key gave every
// directory the same one, so every subdirectory was taken for a loop and skipped.
func TestDirIdentity(t *testing.T) {
	src := t.TempDir()
	touch(t, filepath.Join(src, "a", "b", "f"))
	node := func(p string) Node {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return Node{Path: p, Info: fi, Stat: statOf(fi)}
	}
	ida, err := dirID(node(filepath.Join(src, "a")))
	if err != nil {
		t.Fatal(err)
	}
	idb, err := dirID(node(filepath.Join(src, "a", "b")))
	if err != nil {
		t.Fatal(err)
	}
	if ida == idb {
		t.Errorf("a and a/b have one identity %v: the walk would take a/b for a loop", ida)
	}
	again, err := dirID(node(filepath.Join(src, "a", "b", "..")))
	if err != nil {
		t.Fatal(err)
	}
	if again != ida {
		t.Errorf("a read twice: %v, then %v", ida, again)
	}
}

// A link back up the path is a loop on every platform, reported once per link.
func TestFollowedLinkLoop(t *testing.T) {
	wine.Skip(t, "its symbolic links do not show in directory listings")
	src := t.TempDir()
	touch(t, filepath.Join(src, "d", "e", "f"))
	if err := os.Symlink("..", filepath.Join(src, "d", "loop")); err != nil {
		t.Skipf("cannot create a symbolic link here (Windows without developer mode, or wine): %v", err)
	}
	got, issues := walkNames(t, src, Options{FollowSymlinks: true})
	if want := []string{"", "/d", "/d/e", "/d/e/f"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if len(issues) != 1 || issues[0].Op != "symlink loop" {
		t.Errorf("issues %v, want the loop reported (walk: %v)", issues, got)
	}
}

func TestVolumeElement(t *testing.T) {
	for _, tc := range []struct{ vol, want string }{
		{"", ""},
		{"C:", "C"},
		{"d:", "D"},
		{"//srv/share", "UNC/srv/share"},
		{"//?/C:", "C"},
		{"//./d:", "D"},
		{"//?/UNC/srv/share", "UNC/srv/share"},
	} {
		if got := volumeElement(tc.vol); got != tc.want {
			t.Errorf("volumeElement(%q) = %q, want %q", tc.vol, got, tc.want)
		}
	}
}

// On Windows the drive is part of the archive name, so C:\data and D:\data are two
// trees (they used to collide and fail the backup with "manifest entry … out of order").
func TestArchiveNameKeepsTheDrive(t *testing.T) {
	if runtime.GOOS != "windows" {
		t.Skip("Windows volume names")
	}
	for _, tc := range []struct{ abs, want string }{
		{`C:\data\a`, "C/data/a"},
		{`D:\data\a`, "D/data/a"},
		{`c:\`, "C"},
		{`\\srv\share\x`, "UNC/srv/share/x"},
	} {
		if got := ArchiveName(tc.abs); got != tc.want {
			t.Errorf("ArchiveName(%q) = %q, want %q", tc.abs, got, tc.want)
		}
	}
	m, err := NewMatcher(nil, []string{`c:\Data\*.TMP`, `/data/skip`})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		abs  string
		want bool
	}{
		{"/C/data/x.tmp", true}, {"/D/data/x.tmp", false}, {"/D/DATA/SKIP", true}, {"/C/data/keep", false},
	} {
		if got := m.Excluded("x", tc.abs, false); got != tc.want {
			t.Errorf("Excluded(%q) = %v, want %v", tc.abs, got, tc.want)
		}
	}
}

// Where file names ignore case (Windows, macOS by default), two spellings of one
// directory are one source, and patterns ignore case.
func TestSourcesIgnoreCase(t *testing.T) {
	if !caseInsensitive {
		t.Skip("file names are case-sensitive on " + runtime.GOOS)
	}
	d := t.TempDir()
	touch(t, filepath.Join(d, "Tmp", "X", "f"))
	a, b := filepath.Join(d, "Tmp", "X"), filepath.Join(d, "tmp", "x")
	if _, err := os.Stat(b); err != nil {
		t.Skipf("this volume is case-sensitive: %v", err)
	}
	got, err := Sources([]string{a, b, filepath.Join(d, "TMP", "x", "f")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !strings.EqualFold(got[0], a) {
		t.Errorf("got %v, want one source %s", got, a)
	}
	m, err := NewMatcher(nil, []string{"*.TXT", "Build/"})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Excluded("a.txt", "/a.txt", false) || !m.Excluded("build", "/build", true) {
		t.Error("patterns do not ignore case")
	}
}
