package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/testenv/wine"
)

// newExtractor is NewExtractor, closed when the test ends.
func newExtractor(t *testing.T, target string, o ExtractOptions) *Extractor {
	t.Helper()
	x, err := NewExtractor(target, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

type ent struct {
	name, link, body string
	typ              byte
	mode             int64     // 0: 0644
	mtime            time.Time // zero: 2001-09-09
	uid, gid         int
}

func tarOf(t *testing.T, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.body)), ModTime: e.mtime,
			Uid: e.uid, Gid: e.gid, Format: tar.FormatPAX}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.ModTime.IsZero() {
			h.ModTime = time.Unix(1e9, 0)
		}
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
			out = append(out, filepath.ToSlash(strings.TrimPrefix(p, dir)))
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
			if strings.Contains(tc.name, "symlink") {
				wine.Skip(t, "it cannot create symbolic links")
			}
			base := t.TempDir()
			outside := filepath.Join(base, "outside")
			target := filepath.Join(base, "target")
			must(t, os.MkdirAll(outside, 0o755))
			must(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("keep"), 0o644))
			x := newExtractor(t, target, ExtractOptions{})
			err := x.Extract(context.Background(), bytes.NewReader(tarOf(t, tc.ents(outside)...)))
			// On Windows "C:\…\x" is one name holding ':' and '\', restored escaped
			// inside the target (winnames.go); what matters is that nothing is outside.
			escaped := runtime.GOOS == "windows" && tc.name == "absolute" && err == nil
			if !errors.Is(err, ErrUnsafePath) && !escaped {
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
	body := strings.Repeat("content ", 40000) // over smallFile: streamed
	small := strings.Repeat("small ", 100)    // written by a worker
	data := tarOf(t, ent{name: "ok", body: "fine", typ: tar.TypeReg}, ent{name: "big", body: body, typ: tar.TypeReg})
	truncatedTar := data[:len(data)-2048-len(body)/2] // cut in the middle of "big"
	target := t.TempDir()
	x := newExtractor(t, target, ExtractOptions{})
	err := x.Extract(context.Background(), bytes.NewReader(truncatedTar))
	if err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("got %v, want a truncated-archive error", err)
	}
	got := listAll(t, target)
	if len(got) != 1 || got[0] != "/ok" {
		t.Errorf("target holds %v, want only /ok (no partial or temporary file)", got)
	}

	// A content hash mismatch leaves nothing either, small or streamed.
	for _, b := range []string{small, body} {
		target := t.TempDir()
		x2 := newExtractor(t, target, ExtractOptions{Select: func(string, *tar.Header) (Want, error) {
			return Want{Extract: true, SHA256: strings.Repeat("0", 64)}, nil
		}})
		if err := x2.Extract(context.Background(), bytes.NewReader(tarOf(t, ent{name: "f", body: b, typ: tar.TypeReg}))); !errors.Is(err, ErrContent) {
			t.Errorf("%d bytes: got %v, want ErrContent", len(b), err)
		}
		if got := listAll(t, target); len(got) != 0 {
			t.Errorf("%d bytes with a wrong hash left %v", len(b), got)
		}
	}
}

// TestExtractFiles: small and streamed files get their content, mode and time; an
// existing name is refused unless overwriting is asked, and then replaced, a symlink in
// the way included (never followed); nothing temporary remains.
func TestExtractFiles(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows files have no Unix permission bits")
	}
	big := strings.Repeat("0123456789abcdef", 20000)
	data := tarOf(t, ent{name: "d/", typ: tar.TypeDir}, ent{name: "d/small", body: "tiny", typ: tar.TypeReg},
		ent{name: "d/big", body: big, typ: tar.TypeReg}, ent{name: "top", body: "at the top", typ: tar.TypeReg},
		ent{name: "empty", typ: tar.TypeReg})
	target := t.TempDir()
	x := newExtractor(t, target, ExtractOptions{})
	must(t, x.Extract(context.Background(), bytes.NewReader(data)))
	must(t, x.Finish())
	if wantBytes := int64(len("tiny") + len(big) + len("at the top")); x.Files != 4 || x.Dirs != 1 || x.Bytes != wantBytes {
		t.Errorf("counted %d files, %d directories, %d bytes; want 4, 1, %d", x.Files, x.Dirs, x.Bytes, wantBytes)
	}
	for name, want := range map[string]string{"d/small": "tiny", "d/big": big, "top": "at the top", "empty": ""} {
		p := filepath.Join(target, name)
		b, err := os.ReadFile(p)
		if err != nil || string(b) != want {
			t.Errorf("%s: %d bytes, %v", name, len(b), err)
		}
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != 0o644 || !fi.ModTime().Equal(time.Unix(1e9, 0)) {
			t.Errorf("%s: mode %v, mtime %v; want -rw-r--r-- and %v", name, fi.Mode(), fi.ModTime(), time.Unix(1e9, 0))
		}
	}
	if got := listAll(t, target); len(got) != 5 {
		t.Errorf("target holds %v, want the 4 files and d (nothing temporary)", got)
	}

	// Again into the same target: refused, and the files stay as they are.
	must(t, os.WriteFile(filepath.Join(target, "top"), []byte("changed by the user"), 0o600))
	outside := filepath.Join(t.TempDir(), "outside")
	must(t, os.WriteFile(outside, []byte("keep"), 0o644))
	must(t, os.Remove(filepath.Join(target, "d/small")))
	must(t, os.Symlink(outside, filepath.Join(target, "d/small")))
	x2 := newExtractor(t, target, ExtractOptions{})
	if err := x2.Extract(context.Background(), bytes.NewReader(tarOf(t, ent{name: "top", body: "new", typ: tar.TypeReg}))); !errors.Is(err, ErrExists) {
		t.Errorf("existing file: got %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(filepath.Join(target, "top")); string(b) != "changed by the user" {
		t.Errorf("refused restore changed top to %q", b)
	}
	// A symlink in the way, even one pointing at nothing, is refused too, not followed.
	for _, link := range []string{outside, filepath.Join(t.TempDir(), "nothing")} {
		must(t, os.Remove(filepath.Join(target, "d/small")))
		must(t, os.Symlink(link, filepath.Join(target, "d/small")))
		xl := newExtractor(t, target, ExtractOptions{})
		if err := xl.Extract(context.Background(), bytes.NewReader(tarOf(t, ent{name: "d/small", body: "through the link?", typ: tar.TypeReg}))); !errors.Is(err, ErrExists) {
			t.Errorf("symlink to %s in the way: got %v, want ErrExists", link, err)
		}
		if _, err := os.Lstat(link); link != outside && err == nil {
			t.Errorf("a file was created through the dangling symlink")
		}
	}
	must(t, os.Remove(filepath.Join(target, "d/small")))
	must(t, os.Symlink(outside, filepath.Join(target, "d/small")))
	x3 := newExtractor(t, target, ExtractOptions{Overwrite: true})
	must(t, x3.Extract(context.Background(), bytes.NewReader(tarOf(t,
		ent{name: "top", body: "new", typ: tar.TypeReg}, ent{name: "d/small", body: "through the link?", typ: tar.TypeReg}))))
	if b, _ := os.ReadFile(filepath.Join(target, "top")); string(b) != "new" {
		t.Errorf("overwritten top holds %q", b)
	}
	if fi, err := os.Lstat(filepath.Join(target, "d/small")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("d/small after overwrite: %v, %v; want the symlink replaced by a file", fi, err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "keep" {
		t.Errorf("the symlink's target was written: %q", b)
	}
	if got := listAll(t, target); len(got) != 5 {
		t.Errorf("target holds %v after overwriting (nothing temporary)", got)
	}
}

// TestExtractModesAndTimes: files get their exact mode whatever the umask (set-id and
// sticky bits included), and directories at every depth get theirs and their times
// once everything inside them is written.
func TestExtractModesAndTimes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows files have no Unix permission bits")
	}
	t.Cleanup(func() { syscallUmask(syscallUmask(0o027)) })
	t1, t2 := time.Unix(1.5e9, 123456789), time.Unix(1.2e9, 0)
	var ents []ent
	modes := map[string]int64{"f0777": 0o777, "f4755": 0o4755, "f2750": 0o2750, "f1777": 0o1777, "f0444": 0o444, "f0000": 0, "f0640": 0o640, "f0644": 0o644}
	dirs := map[string]int64{"a/": 0o755, "a/b/": 0o750, "a/c/": 0o700, "a/b/d/": 0o555, "e/": 0o1777, "a/c/f/": 0o711}
	for _, d := range []string{"a/", "a/b/", "a/b/d/", "a/c/", "a/c/f/", "e/"} {
		ents = append(ents, ent{name: d, typ: tar.TypeDir, mode: dirs[d], mtime: t2})
		for f, m := range modes {
			ents = append(ents, ent{name: d + f, body: "x" + f, typ: tar.TypeReg, mode: m, mtime: t1})
		}
	}
	// 0 in ent means 0644: mode 0 is spelled with an explicit header below.
	for i := range ents {
		if strings.HasSuffix(ents[i].name, "f0000") {
			ents[i].mode = -1
		}
	}
	target := t.TempDir()
	x := newExtractor(t, target, ExtractOptions{})
	must(t, x.Extract(context.Background(), bytes.NewReader(tarOfModes(t, ents))))
	must(t, x.Finish())
	for _, e := range ents {
		fi, err := os.Lstat(filepath.Join(target, e.name))
		if err != nil {
			t.Fatal(err)
		}
		want := e.mode
		if want < 0 {
			want = 0
		}
		if got := int64(fi.Mode().Perm()) | setBits(fi.Mode()); got != want {
			t.Errorf("%s: mode %o, want %o", e.name, got, want)
		}
		if !fi.ModTime().Equal(e.mtime) {
			t.Errorf("%s: mtime %v, want %v", e.name, fi.ModTime(), e.mtime)
		}
	}
}

// tarOfModes is tarOf where a mode of -1 means 0.
func tarOfModes(t *testing.T, ents []ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: max(e.mode, 0), Size: int64(len(e.body)), ModTime: e.mtime, Format: tar.FormatPAX}
		must(t, tw.WriteHeader(h))
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	must(t, tw.Close())
	return buf.Bytes()
}

func setBits(m os.FileMode) int64 {
	var b int64
	if m&os.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}

// TestExtractThroughInnerSymlinks: an archived symlink to a directory inside the target
// may be written through, wherever the directory is; one leading out never.
func TestExtractThroughInnerSymlinks(t *testing.T) {
	wine.Skip(t, "it cannot create symbolic links")
	target := t.TempDir()
	x := newExtractor(t, target, ExtractOptions{})
	must(t, x.Extract(context.Background(), bytes.NewReader(tarOf(t,
		ent{name: "a/", typ: tar.TypeDir}, ent{name: "a/real/", typ: tar.TypeDir}, ent{name: "b/", typ: tar.TypeDir},
		ent{name: "a/near", link: "real", typ: tar.TypeSymlink}, ent{name: "a/far", link: "../b", typ: tar.TypeSymlink},
		ent{name: "a/near/f", body: "near", typ: tar.TypeReg}, ent{name: "a/far/g", body: "far", typ: tar.TypeReg},
		ent{name: "a/far/sub/h", body: "deeper", typ: tar.TypeReg}))))
	must(t, x.Finish())
	for name, want := range map[string]string{"a/real/f": "near", "b/g": "far", "b/sub/h": "deeper"} {
		if b, err := os.ReadFile(filepath.Join(target, name)); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", name, b, err, want)
		}
	}
}

func TestWriteBlocks(t *testing.T) {
	const blk = 64 << 10
	data := make([]byte, 5*blk+100) // blocks: data, data, zero, data, zero, zero tail
	for _, i := range []int{0, blk, 3 * blk} {
		data[i+7] = 1
	}
	type w struct{ off, n int64 }
	var got []w
	tail, err := writeBlocks(func(b []byte, off int64) (int, error) {
		got = append(got, w{off, int64(len(b))})
		return len(b), nil
	}, 1000, data)
	if err != nil || tail {
		t.Fatalf("tail %v, err %v; want false, nil", tail, err)
	}
	if want := []w{{1000, 2 * blk}, {1000 + 3*blk, blk}}; !slices.Equal(got, want) {
		t.Errorf("writes %v, want %v (runs of non-zero blocks, holes skipped)", got, want)
	}
	data[5*blk+50] = 1
	got = nil
	if tail, _ := writeBlocks(func(b []byte, off int64) (int, error) {
		got = append(got, w{off, int64(len(b))})
		return len(b), nil
	}, 0, data); !tail || len(got) != 3 || got[2] != (w{5 * blk, 100}) {
		t.Errorf("non-zero tail: tail %v, writes %v", tail, got)
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

// TestExtractStartsWriteback: every file larger than smallFile, once written whole, is
// handed to startWriteback (so that the final sync finds less to write); small files
// are not.
func TestExtractStartsWriteback(t *testing.T) {
	var mu sync.Mutex
	var sizes []int64
	t.Cleanup(func() { writeback = startWriteback })
	writeback = func(f *os.File) {
		fi, err := f.Stat()
		if err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		sizes = append(sizes, fi.Size())
		mu.Unlock()
		startWriteback(f)
	}
	body := func(n int, c byte) string { return strings.Repeat(string(c), n) }
	data := tarOf(t, ent{name: "tiny", body: "x", typ: tar.TypeReg},
		ent{name: "limit", body: body(smallFile, 'a'), typ: tar.TypeReg},
		ent{name: "over", body: body(smallFile+1, 'b'), typ: tar.TypeReg},
		ent{name: "large", body: body(2<<20, 'c'), typ: tar.TypeReg},
		ent{name: "zeros", body: body(1<<20, 0), typ: tar.TypeReg})
	x := newExtractor(t, t.TempDir(), ExtractOptions{})
	must(t, x.Extract(context.Background(), bytes.NewReader(data)))
	must(t, x.Finish())
	slices.Sort(sizes)
	if want := []int64{smallFile + 1, 1 << 20, 2 << 20}; !slices.Equal(sizes, want) {
		t.Errorf("writeback started for files of sizes %v, want %v", sizes, want)
	}
}
