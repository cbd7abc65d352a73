package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type ent struct {
	name, link, body string
	typ              byte
}

func tarOf(t *testing.T, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body)), ModTime: time.Unix(1e9, 0), Format: tar.FormatPAX}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// listAll returns every path under dir.
func listAll(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if p != dir {
			out = append(out, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	return out
}

// TestHostileArchives feeds archives that try to write outside the target: nothing may
// appear outside it, and the extraction fails with ErrUnsafePath.
func TestHostileArchives(t *testing.T) {
	for _, tc := range []struct {
		name string
		ents func(outside string) []ent
	}{
		{"dotdot", func(string) []ent { return []ent{{name: "../x", body: "evil", typ: tar.TypeReg}} }},
		{"dotdot inside", func(string) []ent { return []ent{{name: "a/../../x", body: "evil", typ: tar.TypeReg}} }},
		{"absolute", func(o string) []ent { return []ent{{name: filepath.Join(o, "x"), body: "evil", typ: tar.TypeReg}} }},
		{"symlink then file", func(o string) []ent {
			return []ent{{name: "link", link: o, typ: tar.TypeSymlink}, {name: "link/x", body: "evil", typ: tar.TypeReg}}
		}},
		{"relative symlink then file", func(o string) []ent {
			return []ent{{name: "d/link", link: "../../outside", typ: tar.TypeSymlink}, {name: "d/link/x", body: "evil", typ: tar.TypeReg}}
		}},
		{"symlink then dir", func(o string) []ent {
			return []ent{{name: "link", link: o, typ: tar.TypeSymlink}, {name: "link/sub/", typ: tar.TypeDir}}
		}},
		{"symlink then symlink", func(o string) []ent {
			return []ent{{name: "link", link: o, typ: tar.TypeSymlink}, {name: "link/l2", link: "/etc/passwd", typ: tar.TypeSymlink}}
		}},
		{"symlink then hard link", func(o string) []ent {
			return []ent{{name: "f", body: "x", typ: tar.TypeReg}, {name: "link", link: o, typ: tar.TypeSymlink}, {name: "link/h", link: "f", typ: tar.TypeLink}}
		}},
		{"hard link outside", func(o string) []ent {
			return []ent{{name: "h", link: "../outside/secret", typ: tar.TypeLink}}
		}},
		{"hard link through symlink", func(o string) []ent {
			return []ent{{name: "link", link: o, typ: tar.TypeSymlink}, {name: "h", link: "link/secret", typ: tar.TypeLink}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			outside := filepath.Join(base, "outside")
			target := filepath.Join(base, "target")
			must(t, os.MkdirAll(outside, 0o755))
			must(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("keep"), 0o644))
			x, err := NewExtractor(target, ExtractOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			err = x.Extract(context.Background(), bytes.NewReader(tarOf(t, tc.ents(outside)...)))
			if !errors.Is(err, ErrUnsafePath) {
				t.Errorf("got %v, want ErrUnsafePath", err)
			}
			if got := listAll(t, outside); len(got) != 1 || got[0] != "/secret" {
				t.Errorf("outside the target: %v, want only /secret", got)
			}
			if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "keep" {
				t.Errorf("outside file changed to %q", b)
			}
			if fi, err := os.Lstat(filepath.Join(base, "x")); err == nil {
				t.Errorf("%s written outside the target", fi.Name())
			}
		})
	}
}

func TestExtractNoPartialFiles(t *testing.T) {
	body := strings.Repeat("content ", 10000)
	data := tarOf(t, ent{name: "ok", body: "fine", typ: tar.TypeReg}, ent{name: "big", body: body, typ: tar.TypeReg})
	truncatedTar := data[:len(data)-2048-len(body)/2] // cut in the middle of "big"
	target := t.TempDir()
	x, err := NewExtractor(target, ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	err = x.Extract(context.Background(), bytes.NewReader(truncatedTar))
	if err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("got %v, want a truncated-archive error", err)
	}
	got := listAll(t, target)
	if len(got) != 1 || got[0] != "/ok" {
		t.Errorf("target holds %v, want only /ok (no partial or temporary file)", got)
	}

	// A content hash mismatch leaves nothing either.
	x2, _ := NewExtractor(t.TempDir(), ExtractOptions{Select: func(string, *tar.Header) (Want, error) {
		return Want{Extract: true, SHA256: strings.Repeat("0", 64)}, nil
	}})
	defer x2.Close()
	if err := x2.Extract(context.Background(), bytes.NewReader(data)); !errors.Is(err, ErrContent) {
		t.Errorf("got %v, want ErrContent", err)
	}
}

func TestCleanName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{"a/b", "a/b", false},
		{"./a/b/", "a/b", false},
		{"a//b", "a/b", false},
		{"./", "", false},
		{"../a", "", true},
		{"a/../../b", "", true},
		{"/etc/passwd", "", true},
		{"a/\x00b", "", true},
	} {
		got, err := CleanName(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("CleanName(%q) = %q, %v; want %q, bad=%v", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
