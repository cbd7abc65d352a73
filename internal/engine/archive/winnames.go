package archive

import (
	"archive/tar"
	"fmt"
	"hash/maphash"
	"path"
	"runtime"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/backapp/backapp/internal/winname"
)

// UnportableNames chooses what a restore does with an archive entry whose name the
// target's file system cannot hold: on Windows `CON`, `nul.txt`, `a:b`, `a|b`, `q?`,
// `star*`, `"`, `<>`, a backslash, a trailing dot or space; on Windows and macOS two
// names that differ only in case; on macOS two that differ only in Unicode
// normalization (NFC and NFD spellings of "é").
type UnportableNames string

const (
	// RenameUnportable (the default, also for "") restores the entry under an escaped
	// name: each character Windows refuses (and `%`) as %XX of its UTF-8 bytes, a
	// trailing dot or space likewise, the last letter of a device name likewise
	// ("CON" → "CO%4E", "nul.txt" → "nu%6C.txt"); a name that differs only in case
	// from one restored before it gets " (2)", " (3)", … before its extension.
	RenameUnportable UnportableNames = "rename"
	// SkipUnportable leaves the entry (and what lies under it) out, with a warning.
	SkipUnportable UnportableNames = "skip"
)

// ParseUnportableNames checks a choice given by a user or the server.
func ParseUnportableNames(s string) (UnportableNames, error) {
	switch UnportableNames(s) {
	case "", RenameUnportable:
		return RenameUnportable, nil
	case SkipUnportable:
		return SkipUnportable, nil
	}
	return "", fmt.Errorf("unportable names %q: must be rename or skip", s)
}

// nameRules are the file-name rules of the restore's target.
type nameRules struct {
	windows bool // the characters and device names Windows refuses
	fold    bool // names that differ only in case are one file
	// unicode: names that differ only in Unicode normalization (NFC "é", NFD "é")
	// are one file, as on APFS and HFS+.
	unicode bool
}

// hostRules are the rules of the file systems this program runs on by default: NTFS
// on Windows, case-insensitive APFS on macOS (a case-sensitive APFS volume gets
// names renamed it could have held, and the rename is reported).
func hostRules() nameRules {
	return nameRules{windows: runtime.GOOS == "windows", fold: runtime.GOOS == "windows" || runtime.GOOS == "darwin",
		unicode: runtime.GOOS == "darwin"}
}

// hostNames maps archive names to names the target can hold. The mapping is a function
// of the names seen so far, so an extractor kept over a chain of archives maps a name
// the same way in each of them.
type hostNames struct {
	rules nameRules
	mode  UnportableNames
	seed  maphash.Seed
	// claimed maps the hash of a written path, case folded, to the hash of the archive
	// path written there: a second archive path folding to it is a collision.
	claimed map[uint64]uint64
	// changed holds archive paths (files and directories) written under another name
	// or skipped, so what lies below one is reported once, through it.
	changed map[string]string
	// last caches the previous entry's directory, its written name and changedAt.
	lastDir, lastOut, lastChanged string
}

func newHostNames(rules nameRules, mode UnportableNames) *hostNames {
	if mode == "" {
		mode = RenameUnportable
	}
	return &hostNames{rules: rules, mode: mode, seed: maphash.MakeSeed(), claimed: map[uint64]uint64{}, changed: map[string]string{}}
}

func (n *hostNames) active() bool { return n.rules.windows || n.rules.fold }

// hostName maps name (and a hard link's target) for entry h: the name to write, or ""
// to skip the entry, which is then reported through OnSkip (once, for the topmost
// element skipped). Renames are reported through OnRename, once per entry whose own
// name changed and once for the topmost renamed directory.
func (x *Extractor) hostName(name string, h *tar.Header) (string, error) {
	n := x.names
	if n == nil || !n.active() {
		return name, nil
	}
	out, changedAt := n.mapPath(name)
	if changedAt != "" && n.mode == SkipUnportable {
		if _, done := n.changed[changedAt]; !done {
			n.changed[changedAt] = ""
			if x.o.OnSkip != nil {
				x.o.OnSkip(changedAt, "the target's file system cannot hold this name ("+n.why(changedAt)+"); skipped as asked")
			}
		}
		return "", nil
	}
	if changedAt != "" {
		// The topmost renamed element (a directory whose entry may be in an earlier
		// archive of the chain), and the entry itself when its own name changed.
		x.renamed(changedAt)
		if path.Base(out) != path.Base(name) {
			x.renamed(name)
		}
	}
	if h.Typeflag == tar.TypeLink {
		target, err := CleanName(h.Linkname)
		if err != nil || target == "" {
			return "", fmt.Errorf("restore %s: hard link to %q: %w", name, h.Linkname, ErrUnsafePath)
		}
		t, tChanged := n.mapPath(target)
		if tChanged != "" && n.mode == SkipUnportable {
			if x.o.OnSkip != nil {
				x.o.OnSkip(name, "hard link to "+target+", which was skipped")
			}
			return "", nil
		}
		h.Linkname = t
	}
	return out, nil
}

// renamed reports archive path p as renamed, once.
func (x *Extractor) renamed(p string) {
	n := x.names
	if _, done := n.changed[p]; done {
		return
	}
	as, _ := n.mapPath(p)
	n.changed[p] = as
	if x.o.OnRename != nil {
		x.o.OnRename(p, as)
	}
}

// mapPath maps each element of name; changedAt is the archive path of the topmost
// element written under another name ("" when none is).
func (n *hostNames) mapPath(name string) (out, changedAt string) {
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	var outDir string
	switch {
	case dir == "":
	case dir == n.lastDir:
		outDir, changedAt = n.lastOut, n.lastChanged
	default:
		outDir, changedAt = n.mapPath(dir)
		n.lastDir, n.lastOut, n.lastChanged = dir, outDir, changedAt
	}
	m := n.element(base)
	full := m
	if outDir != "" {
		full = outDir + "/" + m
	}
	if n.rules.fold {
		full = n.claim(name, outDir, m, full)
	}
	if changedAt == "" && path.Base(full) != base {
		changedAt = name
	}
	return full, changedAt
}

// claim makes full (written path of archive path name) unique among written paths
// folded to one case, adding " (2)", " (3)", … before the extension on a collision.
func (n *hostNames) claim(name, outDir, m, full string) string {
	orig := maphash.String(n.seed, name)
	for i := 2; ; i++ {
		folded := strings.ToLower(full)
		if n.rules.unicode {
			folded = norm.NFC.String(folded)
		}
		key := maphash.String(n.seed, folded)
		if c, ok := n.claimed[key]; !ok || c == orig {
			n.claimed[key] = orig
			return full
		}
		ext := path.Ext(m)
		if ext == m {
			ext = ""
		}
		full = fmt.Sprintf("%s (%d)%s", strings.TrimSuffix(m, ext), i, ext)
		if outDir != "" {
			full = outDir + "/" + full
		}
	}
}

// element maps one name element by the Windows rules (when they apply).
func (n *hostNames) element(c string) string {
	if !n.rules.windows || portable(c) {
		return c
	}
	var b strings.Builder
	trail := len(strings.TrimRight(c, ". ")) // a trailing dot or space is escaped
	dev := winname.Device(c) != ""
	devEnd := len(strings.TrimRight(strings.SplitN(c, ".", 2)[0], " ")) // the device name's last letter
	for i, r := range c {
		esc := winname.ForbiddenRune(r) || r == '%' || i >= trail || (dev && i == devEnd-1)
		if !esc {
			b.WriteRune(r)
			continue
		}
		for _, by := range []byte(string(r)) {
			fmt.Fprintf(&b, "%%%02X", by)
		}
	}
	return b.String()
}

// portable reports whether Windows holds c as it is.
func portable(c string) bool {
	if c == "" || strings.HasSuffix(c, ".") || strings.HasSuffix(c, " ") || winname.Device(c) != "" {
		return false
	}
	for _, r := range c {
		if winname.ForbiddenRune(r) {
			return false
		}
	}
	return true
}

// why says what is wrong with the last element of name.
func (n *hostNames) why(name string) string {
	c := path.Base(name)
	switch {
	case n.rules.windows && winname.Device(c) != "":
		return "the Windows device name " + winname.Device(c)
	case n.rules.windows && !portable(c):
		return "a character Windows does not allow, or a trailing dot or space"
	}
	return "another name differing only in case is restored there"
}
