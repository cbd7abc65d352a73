package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backapp/backapp/internal/testenv/wine"
)

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// temps lists the temporary names under dir.
func temps(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, p := range listAll(t, dir) {
		if strings.HasPrefix(filepath.Base(p), TempPrefixBase) {
			out = append(out, p)
		}
	}
	return out
}

// TestOverwriteFailureKeepsOriginals: an overwrite that fails, on a wrong content hash
// (small or streamed file), a truncated archive or a cancel, leaves each path with its
// original or its new verified content, removes its temporary files, counts exactly
// the files in place and reports the ones it chose but did not write.
func TestOverwriteFailureKeepsOriginals(t *testing.T) {
	big := func(tag string) string { return strings.Repeat(tag, 300<<10/len(tag)) } // over smallFile
	names := []string{"a", "b", "c", "d/e", "d/f", "g"}
	newBody := map[string]string{"a": "new a", "b": big("new b "), "c": "new c", "d/e": "new e", "d/f": big("new f "), "g": "new g"}
	ents := []ent{{name: "d/", typ: tar.TypeDir}}
	for _, n := range names {
		ents = append(ents, ent{name: n, body: newBody[n], typ: tar.TypeReg})
	}
	data := tarOf(t, ents...)
	cut := bytes.Index(data, []byte("new f ")) + 1000 // in the middle of d/f

	for _, tc := range []struct {
		name    string
		bad     string // name whose manifest hash is wrong
		data    []byte
		cancel  bool
		wantErr error
	}{
		{name: "small file with a wrong hash", bad: "c", data: data, wantErr: ErrContent},
		{name: "streamed file with a wrong hash", bad: "b", data: data, wantErr: ErrContent},
		{name: "truncated archive", data: data[:cut]},
		{name: "cancelled", data: data, cancel: true, wantErr: context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := t.TempDir()
			old := map[string]string{}
			for _, n := range names {
				old[n] = "old " + n
				must(t, os.MkdirAll(filepath.Dir(filepath.Join(target, n)), 0o755))
				must(t, os.WriteFile(filepath.Join(target, n), []byte(old[n]), 0o644))
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			x := newExtractor(t, target, ExtractOptions{Overwrite: true, Select: func(name string, h *tar.Header) (Want, error) {
				if tc.cancel && name == "d/e" {
					cancel()
				}
				want := sha(newBody[name])
				if name == tc.bad {
					want = sha("something else")
				}
				return Want{Extract: true, SHA256: want}, nil
			}})
			err := x.Extract(ctx, bytes.NewReader(tc.data))
			if err == nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
			inPlace := 0
			for _, n := range names {
				b, err := os.ReadFile(filepath.Join(target, n))
				switch {
				case err != nil:
					t.Errorf("%s: original lost: %v", n, err)
				case string(b) == newBody[n]:
					inPlace++
				case string(b) != old[n]:
					t.Errorf("%s holds neither its original nor its new content: %.20q", n, b)
				}
			}
			if tc.bad != "" {
				if b, _ := os.ReadFile(filepath.Join(target, tc.bad)); string(b) != old[tc.bad] {
					t.Errorf("%s, which failed its check, holds %.20q, want the original", tc.bad, b)
				}
				if ferr, ok := x.NotRestored()[tc.bad]; !ok || !errors.Is(ferr, ErrContent) {
					t.Errorf("not restored: %v, want %s with ErrContent", x.NotRestored(), tc.bad)
				}
			}
			if x.Files != int64(inPlace) {
				t.Errorf("counted %d files, %d are in place", x.Files, inPlace)
			}
			if inPlace == len(names) {
				t.Errorf("every file was replaced: the failure came too late to test anything")
			}
			if tmp := temps(t, target); len(tmp) > 0 {
				t.Errorf("temporary files left: %v", tmp)
			}
		})
	}
}

// TestOverwriteReplacesEveryKind: with Overwrite, what exists is replaced by a rename of
// the new entry, whatever the kinds: a file by a symlink, a symlink by a file, a file by
// a hard link, a hard link by a link to the same file, a file and a symlink to a
// directory by a directory; no temporary name remains.
func TestOverwriteReplacesEveryKind(t *testing.T) {
	wine.Skip(t, "it cannot create symbolic links")
	target := t.TempDir()
	outside := t.TempDir()
	for name, body := range map[string]string{"file-to-link": "old", "target": "old target", "file-to-dir": "old", "file-to-hardlink": "old"} {
		must(t, os.WriteFile(filepath.Join(target, name), []byte(body), 0o644))
	}
	must(t, os.Symlink("target", filepath.Join(target, "link-to-file")))
	must(t, os.Symlink(outside, filepath.Join(target, "dirlink-to-dir")))
	x := newExtractor(t, target, ExtractOptions{})
	must(t, x.Extract(context.Background(), bytes.NewReader(tarOf(t, ent{name: "same-link", link: "target", typ: tar.TypeLink}))))

	data := tarOf(t,
		ent{name: "dirlink-to-dir/", typ: tar.TypeDir},
		ent{name: "dirlink-to-dir/inside", body: "inside", typ: tar.TypeReg},
		ent{name: "file-to-dir/", typ: tar.TypeDir},
		ent{name: "file-to-dir/inside", body: "inside", typ: tar.TypeReg},
		ent{name: "file-to-hardlink", link: "target", typ: tar.TypeLink},
		ent{name: "file-to-link", link: "target", typ: tar.TypeSymlink},
		ent{name: "link-to-file", body: "a file now", typ: tar.TypeReg},
		ent{name: "same-link", link: "target", typ: tar.TypeLink},
	)
	x = newExtractor(t, target, ExtractOptions{Overwrite: true})
	must(t, x.Extract(context.Background(), bytes.NewReader(data)))
	must(t, x.Finish())

	isDir := func(n string) bool { fi, err := os.Lstat(filepath.Join(target, n)); return err == nil && fi.IsDir() }
	for _, n := range []string{"dirlink-to-dir", "file-to-dir"} {
		if !isDir(n) {
			t.Errorf("%s is not a directory", n)
		}
		if b, err := os.ReadFile(filepath.Join(target, n, "inside")); string(b) != "inside" {
			t.Errorf("%s/inside: %q, %v", n, b, err)
		}
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("written through the replaced symlink: %v", ents)
	}
	if l, err := os.Readlink(filepath.Join(target, "file-to-link")); l != "target" {
		t.Errorf("file-to-link: %q, %v; want a symlink to target", l, err)
	}
	if b, err := os.ReadFile(filepath.Join(target, "link-to-file")); string(b) != "a file now" {
		t.Errorf("link-to-file: %q, %v", b, err)
	}
	tfi, _ := os.Stat(filepath.Join(target, "target"))
	for _, n := range []string{"file-to-hardlink", "same-link"} {
		fi, err := os.Lstat(filepath.Join(target, n))
		if err != nil || !os.SameFile(fi, tfi) {
			t.Errorf("%s is not a hard link to target: %v", n, err)
		}
	}
	if x.Files != 6 {
		t.Errorf("counted %d files, want 6", x.Files)
	}
	if tmp := temps(t, target); len(tmp) > 0 {
		t.Errorf("temporary names left: %v", tmp)
	}
}

// TestTempPrefixAndSweep: the extractor names its temporary files with the prefix it
// is given, and SweepTemp removes exactly those, at any depth, and nothing else.
func TestTempPrefixAndSweep(t *testing.T) {
	if _, err := NewExtractor(t.TempDir(), ExtractOptions{TempPrefix: "tmp-"}); err == nil {
		t.Error("a prefix without TempPrefixBase: no error")
	}
	prefix, other := NewTempPrefix(), NewTempPrefix()
	if prefix == other || !strings.HasPrefix(prefix, TempPrefixBase) {
		t.Fatalf("prefixes %q and %q", prefix, other)
	}
	target := t.TempDir()
	x := newExtractor(t, target, ExtractOptions{TempPrefix: prefix})
	if n := x.tmpName(); !strings.HasPrefix(n, prefix) {
		t.Errorf("temporary name %q, want prefix %q", n, prefix)
	}
	for _, p := range []string{prefix + "1", "a/b/" + prefix + "2", "a/" + other + "3", "a/keep", "a/.backapp-tmp"} {
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(target, p)), 0o755))
		must(t, os.WriteFile(filepath.Join(target, p), nil, 0o644))
	}
	must(t, os.Mkdir(filepath.Join(target, "a", prefix+"dir"), 0o700))
	n, err := SweepTemp(target, prefix)
	if err != nil || n != 3 {
		t.Errorf("swept %d, %v; want 3", n, err)
	}
	got := strings.Join(listAll(t, target), " ")
	if want := "/a /a/.backapp-tmp /a/" + other + "3 /a/b /a/keep"; got != want {
		t.Errorf("left %s, want %s", got, want)
	}
	if n, err := SweepTemp(filepath.Join(target, "missing"), prefix); n != 0 || err != nil {
		t.Errorf("missing target: %d, %v", n, err)
	}
	if _, err := SweepTemp(target, ""); err == nil {
		t.Error("empty prefix: no error")
	}
}
