package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// slowLine is how encoding/json reads a line.
func slowLine(b []byte) (line, error) {
	var l line
	err := json.Unmarshal(b, &l)
	return l, err
}

// sameLine reports whether the fast decoder's result equals encoding/json's.
func sameLine(t *testing.T, b []byte) bool {
	t.Helper()
	var fast line
	var e Entry
	if !decodeEntryLine(b, &fast, &e) {
		return false
	}
	slow, err := slowLine(b)
	if err != nil {
		t.Fatalf("%q: decoded fast, but encoding/json refuses it: %v", b, err)
	}
	if slow.Entry == nil {
		slow.Entry = &Entry{}
	}
	if !reflect.DeepEqual(*fast.Entry, *slow.Entry) || !bytes.Equal(fast.PathRaw, slow.PathRaw) || !bytes.Equal(fast.LinkRaw, slow.LinkRaw) ||
		slow.Manifest != nil || slow.Trailer != nil {
		t.Fatalf("%q:\nfast %+v %q %q\njson %+v %q %q", b, *fast.Entry, fast.PathRaw, fast.LinkRaw, *slow.Entry, slow.PathRaw, slow.LinkRaw)
	}
	return true
}

func randomName(r *rand.Rand) string {
	parts := []string{"a", "é", "日本", "\x00", "\"", "\\", "/", "\n", "\t", "\x7f", "\u2028", "<&>", "\U0001F600", "\xe9", "\xff\xfe", "\xc3", "\xed\xa0\x80", " "}
	var b strings.Builder
	for range 1 + r.IntN(6) {
		b.WriteString(parts[r.IntN(len(parts))])
	}
	return b.String()
}

// TestEntryLinesAsWritten: every line the Writer writes for random entries (names
// with escapes, unicode, invalid UTF-8; times in several zones; large and negative
// numbers) takes the fast path and decodes as encoding/json decodes it.
func TestEntryLinesAsWritten(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	zones := []*time.Location{time.UTC, time.FixedZone("x", 2*3600), time.FixedZone("y", -(9*3600 + 30*60)), time.Local}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Name: "a", Chain: []string{"x", "y", "a"}})
	if err != nil {
		t.Fatal(err)
	}
	var entries []Entry
	for i := range 3000 {
		e := Entry{Path: fmt.Sprintf("p%05d/", i) + randomName(r),
			Type: []string{TypeFile, TypeDir, TypeSymlink, TypeHardlink, TypeDeleted}[r.IntN(5)]}
		if r.IntN(2) == 0 {
			e.Size = r.Int64N(1 << 50)
			e.Mode = uint32(r.IntN(0o10000))
			e.Inode = r.Uint64()
			e.UID, e.GID = r.IntN(1<<31)-r.IntN(2)*(1<<31), r.IntN(70000)
			e.SHA = strings.Repeat("ab", 32)
			e.In = r.IntN(3)
		}
		if r.IntN(3) > 0 {
			e.MTime = time.Unix(r.Int64N(4e9)-1e9, r.Int64N(1e9)*int64(r.IntN(2))).In(zones[r.IntN(len(zones))])
			e.CTime = time.Unix(r.Int64N(4e9), r.Int64N(1e9)).In(zones[r.IntN(len(zones))])
		}
		if r.IntN(3) == 0 {
			e.Link = randomName(r)
		}
		if err := w.Add(e); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	if err := w.Close(Trailer{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	for _, l := range lines[1 : len(lines)-1] {
		if !sameLine(t, []byte(l)) {
			t.Fatalf("a line as Writer writes it missed the fast path: %q", l)
		}
	}
	// And through the Reader: every entry back as written.
	rd, err := NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range entries {
		got, err := rd.Next()
		if err != nil {
			t.Fatal(err)
		}
		if got.Path != want.Path || got.Link != want.Link || got.Size != want.Size || got.Inode != want.Inode || got.UID != want.UID ||
			!got.MTime.Equal(want.MTime) || !got.CTime.Equal(want.CTime) {
			t.Fatalf("entry %d: got %+v, want %+v", i, got, want)
		}
	}
}

// TestEntryLinesOther: lines the Writer does not write go to encoding/json.
func TestEntryLinesOther(t *testing.T) {
	for _, l := range []string{
		`{"manifest":{"version":1}}`, `{"trailer":{"entries":1}}`, `{}`, `{ "path":"a"}`, `{"path": "a"}`,
		`{"path":"a","size":1.5}`, `{"path":"a","size":1e3}`, `{"path":"a","size":null}`, `{"PATH":"a"}`,
		`{"path":"a","mode":-1}`, `{"path":"a","inode":-1}`, `{"path":"a\ud800"}`, "{\"path\":\"a\xff\"}",
		`{"path":"a","mtime":"2024-01-02T03:04:05.10Z"}`, `{"path":"a","pathRaw":"!!"}`, `{"path":"a","size":01}`,
		`{"path":"a",}`, `{"path":"a"} `, `{"path":"a","x":1}`, `{"path":"a","size":99999999999999999999}`,
	} {
		var fl line
		var e Entry
		if decodeEntryLine([]byte(l), &fl, &e) {
			t.Errorf("%s: decoded fast, want encoding/json to decide", l)
		}
	}
}

// FuzzEntryLine: whatever the fast decoder accepts, encoding/json decodes the same.
func FuzzEntryLine(f *testing.F) {
	for _, s := range []string{
		`{"path":"a/b","type":"file","size":3,"mode":420,"mtime":"2024-01-02T03:04:05.123456789Z","inode":7,"uid":1000,"gid":1000,"sha256":"ab","in":0}`,
		`{"path":"a/caf\ufffd","type":"symlink","link":"x\"y\\z\n","pathRaw":"YS9jYWbp","linkRaw":"eP8=","in":1}`,
		`{"path":"\ud83d\ude00","type":"dir","mtime":"2024-01-02T03:04:05+02:00","ctime":"1969-12-31T23:59:59.5-09:30","in":0}`,
		`{"path":"a","uid":-2,"gid":-0,"in":0}`,
		// Times near the edges of what the UTC form allows, and types read as constants.
		`{"path":"a","type":"hardlink","mtime":"2024-02-29T23:59:59.000000001Z","ctime":"0000-01-01T00:00:00Z","in":0}`,
		`{"path":"a","type":"deleted","mtime":"2023-02-29T00:00:00Z","ctime":"2024-01-02T03:04:05.100Z","in":0}`,
		`{"path":"a","type":"other","mtime":"2024-01-02T24:00:00Z","ctime":"2024-01-02T03:04:60Z","in":0}`,
		`{"path":"a","type":"fil\u0065","mtime":"2024-13-02T03:04:05.Z","ctime":"9999-12-31T23:59:59.9999999999Z","in":0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sameLine(t, b)
	})
}

// BenchmarkReader reads a manifest of 10,000 typical entries (b.N times).
func BenchmarkReader(b *testing.B) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, Header{Name: "a", Chain: []string{"a"}})
	mt := time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)
	for i := range 10000 {
		_ = w.Add(Entry{Path: fmt.Sprintf("usr/share/doc/package-%05d/changelog.Debian.gz", i), Type: TypeFile, Size: 1234,
			Mode: 0o644, MTime: mt, CTime: mt, Inode: 1234567, SHA: strings.Repeat("ab", 32)})
	}
	_ = w.Close(Trailer{})
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
}

// jsonLine is the line encoding/json writes for l (as Writer did before appendEntryLine).
func jsonLine(t testing.TB, l *line) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestEntryLineEncoding: appendEntryLine writes what encoding/json writes, byte for
// byte, for random entries.
func TestEntryLineEncoding(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	zones := []*time.Location{time.UTC, time.FixedZone("x", 2*3600), time.FixedZone("y", -(9*3600 + 30*60)), time.Local}
	for range 5000 {
		e := Entry{Path: randomName(r), Type: randomName(r)}
		if r.IntN(2) == 0 {
			e.Size, e.Mode, e.Inode = r.Int64N(1<<62)-r.Int64N(1<<62), uint32(r.Uint32()), r.Uint64()
			e.UID, e.GID, e.In = r.IntN(1<<31)-r.IntN(1<<31), r.IntN(70000), r.IntN(5)
			e.SHA, e.Link = randomName(r), randomName(r)
		}
		if r.IntN(3) > 0 {
			e.MTime = time.Unix(r.Int64N(2e11)-6e10, r.Int64N(1e9)*int64(r.IntN(2))).In(zones[r.IntN(len(zones))])
		}
		if r.IntN(3) > 0 {
			e.CTime = time.Unix(r.Int64N(4e9), r.Int64N(1e9)).In(zones[r.IntN(len(zones))])
		}
		l := line{Entry: &e}
		if r.IntN(3) == 0 {
			l.PathRaw, l.LinkRaw = []byte(e.Path), []byte(randomName(r))
		}
		got, ok := appendEntryLine(nil, &l)
		if y := e.MTime.Year(); e.MTime.IsZero() || (y >= 0 && y <= 9999) {
			if want := jsonLine(t, &l); !ok || !bytes.Equal(got, want) {
				t.Fatalf("entry %+v:\n got %s\nwant %s", e, got, want)
			}
		} else if ok {
			t.Fatalf("year %d: encoded, want encoding/json to refuse it", y)
		}
	}
}

// FuzzJSONString: strings are escaped as encoding/json escapes them.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"plain", "caf\xe9", "\x00\x1f\x7f\"\\/<>&", "\u2028\u2029\U0001F600", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := Entry{Path: s, Type: TypeFile}
		l := line{Entry: &e}
		got, _ := appendEntryLine(nil, &l)
		if want := jsonLine(t, &l); !bytes.Equal(got, want) {
			t.Fatalf("%q:\n got %s\nwant %s", s, got, want)
		}
	})
}
