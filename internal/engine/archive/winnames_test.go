package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

// windowsRules are NTFS's: the tests apply them on every platform (and under wine they
// are the host's own).
var windowsRules = nameRules{windows: true, fold: true}

func TestHostNameElements(t *testing.T) {
	n := newHostNames(windowsRules, RenameUnportable)
	for _, tc := range []struct{ in, want string }{
		{"plain.txt", "plain.txt"},
		{"ünïcødé ファイル", "ünïcødé ファイル"},
		{"CON", "CO%4E"},
		{"con.tar.gz", "co%6E.tar.gz"},
		{"nul.txt", "nu%6C.txt"},
		{"NUL .txt", "NU%4C .txt"},
		{"COM1", "COM%31"},
		{"CONFIG", "CONFIG"},
		{"a:b", "a%3Ab"},
		{"a|b", "a%7Cb"},
		{"q?", "q%3F"},
		{"star*", "star%2A"},
		{`"`, "%22"},
		{"<>", "%3C%3E"},
		{`back\slash`, "back%5Cslash"},
		{"tab\there", "tab%09here"},
		{"end.", "end%2E"},
		{"end ", "end%20"},
		{"100%:", "100%25%3A"},
		{"100%", "100%"},
	} {
		if got := n.element(tc.in); got != tc.want {
			t.Errorf("element(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// every name of a Linux backup that Windows cannot hold, beside files it can.
func unportableArchive(t *testing.T) []byte {
	return tarOf(t,
		ent{name: "CON", body: "con", typ: tar.TypeReg},
		ent{name: "README", body: "upper", typ: tar.TypeReg},
		ent{name: "a:b", body: "colon", typ: tar.TypeReg},
		ent{name: "a|b", body: "pipe", typ: tar.TypeReg},
		ent{name: `back\slash`, body: "backslash", typ: tar.TypeReg},
		ent{name: "d:x/", typ: tar.TypeDir},
		ent{name: "d:x/inner.txt", body: "inner", typ: tar.TypeReg},
		ent{name: "d:x/sub/deep.txt", body: "deep", typ: tar.TypeReg},
		ent{name: "e:y/q|z", body: "no entry for its directory", typ: tar.TypeReg},
		ent{name: "end.", body: "dot", typ: tar.TypeReg},
		ent{name: "link-to-colon", link: "a:b", typ: tar.TypeLink},
		ent{name: "nul.txt", body: "nul", typ: tar.TypeReg},
		ent{name: "ok.txt", body: "fine", typ: tar.TypeReg},
		ent{name: "q?", body: "question", typ: tar.TypeReg},
		ent{name: "readme", body: "lower", typ: tar.TypeReg},
		ent{name: "star*", body: "star", typ: tar.TypeReg},
		ent{name: "sub/", typ: tar.TypeDir},
		ent{name: "sub/\"", body: "quote", typ: tar.TypeReg},
		ent{name: "sub/<>", body: "angles", typ: tar.TypeReg},
		ent{name: "sub/fine.txt", body: "fine too", typ: tar.TypeReg},
	)
}

// extractUnportable restores unportableArchive under Windows' rules and returns what
// the target holds (written name → content) and what was reported.
func extractUnportable(t *testing.T, mode UnportableNames, sel func(string, *tar.Header) (Want, error)) (files, renamed, skipped map[string]string) {
	t.Helper()
	target := t.TempDir()
	renamed, skipped = map[string]string{}, map[string]string{}
	x := newExtractor(t, target, ExtractOptions{Unportable: mode, Select: sel,
		OnRename: func(name, as string) { renamed[name] = as },
		OnSkip:   func(name, why string) { skipped[name] = why }})
	x.names = newHostNames(windowsRules, mode)
	if err := x.Extract(context.Background(), bytes.NewReader(unportableArchive(t))); err != nil {
		t.Fatalf("extract: %v", err)
	}
	if err := x.Finish(); err != nil {
		t.Fatal(err)
	}
	files = map[string]string{}
	filepath.WalkDir(target, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(target, p)
			b, _ := os.ReadFile(p)
			files[filepath.ToSlash(rel)] = string(b)
		}
		return err
	})
	return files, renamed, skipped
}

// A Linux backup restored on Windows: every file is written, those whose names Windows
// cannot hold under escaped names, each reported; nothing aborts, nothing is a path
// escape.
func TestRestoreUnportableNamesRenamed(t *testing.T) {
	files, renamed, skipped := extractUnportable(t, RenameUnportable, nil)
	want := map[string]string{
		"CO%4E": "con", "README": "upper", "a%3Ab": "colon", "a%7Cb": "pipe", "back%5Cslash": "backslash",
		"d%3Ax/inner.txt": "inner", "d%3Ax/sub/deep.txt": "deep", "e%3Ay/q%7Cz": "no entry for its directory", "end%2E": "dot", "link-to-colon": "colon",
		"nu%6C.txt": "nul", "ok.txt": "fine", "q%3F": "question", "readme (2)": "lower", "star%2A": "star",
		"sub/%22": "quote", "sub/%3C%3E": "angles", "sub/fine.txt": "fine too",
	}
	if !maps.Equal(files, want) {
		t.Errorf("restored files:\n got  %v\n want %v", files, want)
	}
	wantRenamed := map[string]string{
		"CON": "CO%4E", "a:b": "a%3Ab", "a|b": "a%7Cb", `back\slash`: "back%5Cslash", "d:x": "d%3Ax", "end.": "end%2E",
		"e:y": "e%3Ay", "e:y/q|z": "e%3Ay/q%7Cz",
		"nul.txt": "nu%6C.txt", "q?": "q%3F", "readme": "readme (2)", "star*": "star%2A", `sub/"`: "sub/%22", "sub/<>": "sub/%3C%3E",
	}
	if !maps.Equal(renamed, wantRenamed) {
		t.Errorf("reported renames:\n got  %v\n want %v", renamed, wantRenamed)
	}
	if len(skipped) != 0 {
		t.Errorf("skipped %v, want nothing", skipped)
	}
}

func TestRestoreUnportableNamesSkipped(t *testing.T) {
	files, renamed, skipped := extractUnportable(t, SkipUnportable, nil)
	want := map[string]string{"README": "upper", "ok.txt": "fine", "sub/fine.txt": "fine too"}
	if !maps.Equal(files, want) {
		t.Errorf("restored files:\n got  %v\n want %v", files, want)
	}
	wantSkipped := []string{"CON", "a:b", "a|b", `back\slash`, "d:x", "e:y", "end.", "link-to-colon", "nul.txt", "q?", "readme", "star*", `sub/"`, "sub/<>"}
	if got := slices.Sorted(maps.Keys(skipped)); !slices.Equal(got, wantSkipped) {
		t.Errorf("reported skipped:\n got  %v\n want %v", got, wantSkipped)
	}
	if len(renamed) != 0 {
		t.Errorf("renamed %v in skip mode", renamed)
	}
}

// A selective restore looks only at what was selected: the other names, however
// unportable, neither fail it nor get reported.
func TestRestoreUnportableNamesSelective(t *testing.T) {
	sel := func(name string, h *tar.Header) (Want, error) {
		return Want{Extract: name == "ok.txt" || name == "sub" || name == "sub/fine.txt"}, nil
	}
	files, renamed, skipped := extractUnportable(t, SkipUnportable, sel)
	if want := map[string]string{"ok.txt": "fine", "sub/fine.txt": "fine too"}; !maps.Equal(files, want) {
		t.Errorf("restored files %v, want %v", files, want)
	}
	if len(renamed)+len(skipped) != 0 {
		t.Errorf("reported %v %v for names not selected", renamed, skipped)
	}
}

func TestParseUnportableNames(t *testing.T) {
	for in, want := range map[string]UnportableNames{"": RenameUnportable, "rename": RenameUnportable, "skip": SkipUnportable} {
		if got, err := ParseUnportableNames(in); err != nil || got != want {
			t.Errorf("ParseUnportableNames(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseUnportableNames("drop"); err == nil {
		t.Error("ParseUnportableNames(drop): no error")
	}
}

// On macOS (APFS, HFS+) names that differ only in case or in Unicode normalization are
// one file: the second is renamed, not written over the first.
func TestRestoreNormalizationCollision(t *testing.T) {
	target := t.TempDir()
	renamed := map[string]string{}
	x := newExtractor(t, target, ExtractOptions{OnRename: func(name, as string) { renamed[name] = as }})
	x.names = newHostNames(nameRules{windows: runtime.GOOS == "windows", fold: true, unicode: true}, RenameUnportable)
	nfc, nfd := "caf\u00e9", "cafe\u0301"
	data := tarOf(t, ent{name: nfc, body: "nfc", typ: tar.TypeReg}, ent{name: nfd, body: "nfd", typ: tar.TypeReg},
		ent{name: "a:b", body: "colon is fine on macOS", typ: tar.TypeReg})
	if err := x.Extract(context.Background(), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{nfd: nfd + " (2)"}
	if runtime.GOOS == "windows" {
		want["a:b"] = "a%3Ab"
	}
	if !maps.Equal(renamed, want) {
		t.Errorf("renamed %q, want %q", renamed, want)
	}
	for name, body := range map[string]string{nfc: "nfc", nfd + " (2)": "nfd", "a:b": "colon is fine on macOS"} {
		if runtime.GOOS == "windows" && name == "a:b" {
			continue // the host's own rules escape it there
		}
		if b, err := os.ReadFile(filepath.Join(target, name)); err != nil || string(b) != body {
			t.Errorf("%q: %q, %v; want %q", name, b, err, body)
		}
	}
}
