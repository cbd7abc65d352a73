// Package scan walks backup sources in a stable sorted order (the order of
// manifest.ComparePaths), applying include/exclude patterns and the symlink policy, and
// reports files it cannot back up instead of dropping them silently.
//
// # Patterns
//
// Patterns are doublestar globs (`*`, `?`, `[a-z]`, `{a,b}`, and `**` for any number of
// directories). Which name a pattern is matched against depends on its shape:
//
//   - no slash (`*.tmp`, `node_modules`): the base name, at any depth;
//   - a leading slash (`/home/*/.cache`): the absolute path of the file;
//   - any other slash (`build/**`, `**/target`, `src/*.o`): the path relative to the
//     source directory being walked;
//   - a trailing slash (`cache/`) makes the pattern match directories only.
//
// On Windows a pattern may name a drive (`C:\Users\*\AppData`), and a leading slash
// without one means any drive. On Windows and macOS, whose file systems ignore case by
// default, patterns ignore case too.
//
// An excluded directory is not descended into. When include patterns are given, only
// files that match one of them (or lie under a directory that matches one) are kept,
// together with the directories that lead to them; excludes win over includes. A
// source directory itself is never excluded.
package scan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/backapp/backapp/internal/engine/manifest"
)

// Pattern is one compiled include or exclude pattern.
type pattern struct {
	glob    string
	base    bool // match the base name
	abs     bool // match the absolute path
	dirOnly bool
}

// Matcher applies include and exclude patterns.
type Matcher struct {
	include, exclude []pattern
}

// NewMatcher validates and compiles patterns; a bad pattern is an error naming it.
func NewMatcher(include, exclude []string) (*Matcher, error) {
	m := &Matcher{}
	var err error
	if m.include, err = compile(include); err != nil {
		return nil, err
	}
	if m.exclude, err = compile(exclude); err != nil {
		return nil, err
	}
	return m, nil
}

func compile(globs []string) ([]pattern, error) {
	var ps []pattern
	for _, g := range globs {
		g = absPattern(strings.TrimSpace(filepath.ToSlash(g)))
		if g == "" {
			continue
		}
		g = foldCase(g)
		p := pattern{}
		if strings.HasSuffix(g, "/") {
			p.dirOnly = true
			g = strings.TrimRight(g, "/")
		}
		switch {
		case strings.HasPrefix(g, "/"):
			p.abs = true
		case !strings.Contains(g, "/"):
			p.base = true
		}
		if g == "" || !doublestar.ValidatePattern(g) {
			return nil, fmt.Errorf("bad pattern %q", g)
		}
		p.glob = g
		ps = append(ps, p)
	}
	return ps, nil
}

func (p pattern) match(rel, abs string, dir bool) bool {
	if p.dirOnly && !dir {
		return false
	}
	name := rel
	switch {
	case p.base:
		name = path.Base(rel)
	case p.abs:
		name = abs
	}
	ok, _ := doublestar.Match(p.glob, foldCase(name))
	return ok
}

// absPattern gives a pattern that names a Windows volume the form absolute paths have
// when matched ("C:/Users/*/AppData" → "/C/Users/*/AppData", see ArchiveName); on
// Windows a leading slash without a volume means any drive ("/Users" → "/*/Users").
func absPattern(g string) string {
	if runtime.GOOS != "windows" {
		return g
	}
	if vol := filepath.VolumeName(g); vol != "" {
		return "/" + volumeElement(filepath.ToSlash(vol)) + "/" + strings.TrimLeft(g[len(vol):], "/")
	}
	if strings.HasPrefix(g, "/") {
		return "/*" + g
	}
	return g
}

func matchAny(ps []pattern, rel, abs string, dir bool) bool {
	for _, p := range ps {
		if p.match(rel, abs, dir) {
			return true
		}
	}
	return false
}

// Excluded reports whether the file at rel (relative to its source, slash-separated)
// and abs (absolute, slash-separated) is excluded.
func (m *Matcher) Excluded(rel, abs string, dir bool) bool {
	return matchAny(m.exclude, rel, abs, dir)
}

// Included reports whether the file matches an include pattern (true when there are none).
func (m *Matcher) Included(rel, abs string, dir bool) bool {
	return len(m.include) == 0 || matchAny(m.include, rel, abs, dir)
}

// Node is one file found by the walk.
type Node struct {
	Name string // archive name: the absolute path, slash-separated, without leading slash
	Path string // path to open
	Type string // manifest.TypeFile, TypeDir or TypeSymlink
	// Info is the lstat (the stat, for a followed link). For entries below a source the
	// walk stats them itself on Unix: Info.Sys is then a *Stat, not a *syscall.Stat_t.
	Info fs.FileInfo
	Stat Stat
	Link string // symlink target
}

// Stat holds the fields of a stat that fs.FileInfo lacks portably.
type Stat struct {
	Dev, Ino, Nlink uint64
	UID, GID        int
	CTime           time.Time
}

// Issue is a file that could not be backed up (or was skipped with a warning).
type Issue struct {
	Path    string
	Op      string // "read dir", "stat", "open", "read", "changed", "special file", "symlink loop"
	Err     error
	Warning bool // a warning (special files) never fails the run
}

func (i Issue) Error() string { return fmt.Sprintf("%s %s: %v", i.Op, i.Path, i.Err) }

// Options configure a walk.
type Options struct {
	Matcher *Matcher // nil: everything
	// SourceMatchers holds the matcher of a source (by its path as Sources returns it)
	// that has patterns of its own; other sources use Matcher.
	SourceMatchers map[string]*Matcher
	FollowSymlinks bool // back up what symlinks point to instead of the links
	// OnIssue is called for every file that is skipped; returning an error stops the walk
	// with that error (the "fail" policy); returning nil skips the file.
	OnIssue func(Issue) error
}

// ErrSourceMissing is returned (wrapped) when a source path does not exist.
var ErrSourceMissing = errors.New("source path does not exist")

// Sources cleans, validates and sorts source paths and drops those inside another. On
// Windows and macOS, where file systems ignore case by default, two spellings of one
// directory ("Z:\tmp\x", "z:\TMP\X") are one source: a path is dropped when it names
// the same directory as a kept one, or lies inside it, by file identity (so a
// case-sensitive volume keeps "/a" and "/A" apart).
func Sources(paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, errors.New("no source paths")
	}
	var out []string
	for _, p := range paths {
		if p == "" {
			continue
		}
		a, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", p, err)
		}
		if _, err := os.Lstat(a); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("source %q: %w", p, ErrSourceMissing)
			}
			return nil, fmt.Errorf("source %q: %w", p, err)
		}
		out = append(out, a)
	}
	// Shorter first among spellings of one path, so an ancestor is kept before what
	// lies inside it, then in archive order.
	slices.SortStableFunc(out, func(a, b string) int {
		if c := manifest.ComparePaths(foldCase(ArchiveName(a)), foldCase(ArchiveName(b))); c != 0 && caseInsensitive {
			return c
		}
		return manifest.ComparePaths(ArchiveName(a), ArchiveName(b))
	})
	var kept []string
	for _, p := range out {
		if !slices.ContainsFunc(kept, func(k string) bool { return within(p, k) }) {
			kept = append(kept, p)
		}
	}
	slices.SortFunc(kept, func(a, b string) int { return manifest.ComparePaths(ArchiveName(a), ArchiveName(b)) })
	return kept, nil
}

// caseInsensitive is true where file systems ignore case by default (NTFS, APFS).
var caseInsensitive = runtime.GOOS == "windows" || runtime.GOOS == "darwin"

// foldCase lower-cases s where file names ignore case.
func foldCase(s string) string {
	if caseInsensitive {
		return strings.ToLower(s)
	}
	return s
}

// within reports whether p is dir or lies inside it. Where case is ignored, a prefix
// that matches only when folded counts when it is the same directory on disk.
func within(p, dir string) bool {
	sep := string(filepath.Separator)
	dir = strings.TrimSuffix(dir, sep)
	if p == dir || strings.HasPrefix(p, dir+sep) {
		return true
	}
	if !caseInsensitive || len(p) < len(dir) || !strings.EqualFold(p[:len(dir)], dir) ||
		(len(p) > len(dir) && p[len(dir):len(dir)+1] != sep) {
		return false
	}
	a, err1 := os.Stat(dir)
	b, err2 := os.Stat(p[:len(dir)])
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// ArchiveName is the name of an absolute path inside archives: slash-separated, without
// leading slash ("/home/a" → "home/a"). A Windows volume becomes the first element, so
// sources on two drives stay apart and plain tar still extracts the archive:
// "C:\data\a" → "C/data/a", "\\srv\share\a" → "UNC/srv/share/a".
func ArchiveName(abs string) string {
	vol := filepath.VolumeName(abs)
	rest := strings.TrimLeft(filepath.ToSlash(abs[len(vol):]), "/")
	v := volumeElement(filepath.ToSlash(vol))
	if v == "" {
		return rest
	}
	if rest == "" {
		return v
	}
	return v + "/" + rest
}

// volumeElement is the archive form of a slash-separated Windows volume name: "C:" →
// "C" (upper case: drive letters ignore case), "//srv/share" → "UNC/srv/share", "" → "".
func volumeElement(vol string) string {
	switch {
	case vol == "":
		return ""
	case len(vol) == 2 && vol[1] == ':':
		return strings.ToUpper(vol[:1])
	}
	vol = strings.TrimLeft(vol, "/")
	// \\?\C: and \\.\C: device paths name a drive too.
	if rest, ok := strings.CutPrefix(vol, "?/"); ok {
		vol = rest
	} else if rest, ok := strings.CutPrefix(vol, "./"); ok {
		vol = rest
	}
	if len(vol) == 2 && vol[1] == ':' {
		return strings.ToUpper(vol[:1])
	}
	if rest, ok := strings.CutPrefix(vol, "UNC/"); ok {
		vol = rest
	}
	return "UNC/" + vol
}

type walker struct {
	ctx     context.Context
	opts    Options
	fn      func(Node) error
	pending []Node // directories waiting for an included descendant
	root    string
	visit   map[[2]uint64]bool // directories on the current path (symlink loops)
}

// Walk calls fn for every node under sources (see Sources), in ComparePaths order of
// Node.Name. Errors from fn and from OnIssue stop the walk.
func Walk(ctx context.Context, sources []string, opts Options, fn func(Node) error) error {
	if opts.Matcher == nil {
		opts.Matcher = &Matcher{}
	}
	if opts.OnIssue == nil {
		opts.OnIssue = func(Issue) error { return nil }
	}
	for _, src := range sources {
		o := opts
		if m, ok := opts.SourceMatchers[src]; ok && m != nil {
			o.Matcher = m
		}
		w := &walker{ctx: ctx, opts: o, fn: fn, root: src, visit: map[[2]uint64]bool{}}
		n, ok, err := w.node(src, ArchiveName(src), true)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := w.walk(n, ".", len(o.Matcher.include) == 0); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) issue(i Issue) error {
	if err := w.opts.OnIssue(i); err != nil {
		return err
	}
	return nil
}

// node stats p; ok is false when the file was skipped (and reported).
func (w *walker) node(p, name string, root bool) (Node, bool, error) {
	fi, err := os.Lstat(p)
	var st Stat
	if err == nil {
		st = statOf(fi)
	}
	return w.finish(Node{Name: name, Path: p}, fi, st, err, root)
}

// finish makes n of the result of an lstat of n.Path (fi and st, or err); ok is false
// when the file was skipped (and reported).
func (w *walker) finish(n Node, fi fs.FileInfo, st Stat, err error, root bool) (Node, bool, error) {
	p := n.Path
	if err != nil {
		op := "stat"
		if errors.Is(err, fs.ErrNotExist) {
			op = "vanished"
		}
		return n, false, w.issue(Issue{Path: p, Op: op, Err: err})
	}
	// A source that is itself a symlink is followed; below it, links are followed only
	// when asked. A dangling link is backed up as the link itself.
	if fi.Mode()&fs.ModeSymlink != 0 && (w.opts.FollowSymlinks || root) {
		if tfi, err := os.Stat(p); err == nil {
			fi, st = tfi, statOf(tfi)
		}
	}
	n.Info = fi
	n.Stat = st
	switch m := fi.Mode(); {
	case m.IsRegular():
		n.Type = manifest.TypeFile
	case m.IsDir():
		n.Type = manifest.TypeDir
	case m&fs.ModeSymlink != 0:
		n.Type = manifest.TypeSymlink
		if n.Link, err = os.Readlink(p); err != nil {
			return n, false, w.issue(Issue{Path: p, Op: "read link", Err: err})
		}
	default:
		return n, false, w.issue(Issue{Path: p, Op: "special file", Err: fmt.Errorf("%s skipped", kind(m)), Warning: true})
	}
	return n, true, nil
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "irregular file"
}

func (w *walker) emit(n Node) error {
	for _, d := range w.pending {
		if err := w.fn(d); err != nil {
			return err
		}
	}
	w.pending = w.pending[:0]
	return w.fn(n)
}

// walk emits n and, for a directory, its children. rel is n's path relative to the
// source (set only when there are patterns, which alone read it); included says
// whether an ancestor matched an include pattern.
func (w *walker) walk(n Node, rel string, included bool) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if n.Type != manifest.TypeDir {
		return w.emit(n)
	}
	// A directory whose identity cannot be read is descended all the same: a backup
	// that leaves data out must never be the price of a failed loop check.
	if key, err := dirID(n); err == nil {
		if w.visit[key] {
			return w.issue(Issue{Path: n.Path, Op: "symlink loop", Err: errors.New("directory already on the path; not descended")})
		}
		w.visit[key] = true
		defer delete(w.visit, key)
	}

	d, err := openDir(n.Path)
	if err != nil {
		op := "read dir"
		if errors.Is(err, fs.ErrNotExist) {
			op = "vanished"
		}
		return w.issue(Issue{Path: n.Path, Op: op, Err: err})
	}
	defer d.close()
	if testHookDirRead != nil {
		testHookDirRead(n.Path)
	}
	pendingLen := len(w.pending)
	if included {
		if err := w.emit(n); err != nil {
			return err
		}
	} else {
		w.pending = append(w.pending, n)
	}
	patterns := len(w.opts.Matcher.include) > 0 || len(w.opts.Matcher.exclude) > 0
	base := filepath.Clean(n.Path)
	// The entries are statted a window at a time, before the window's first child is
	// walked, so that a directory's stats can be spread over two goroutines and memory
	// stays bounded in a directory of millions of files. The directory is sorted by
	// name, which is the ComparePaths order of the children.
	ents := d.entries
	for len(ents) > 0 {
		win := ents[:min(len(ents), statWindow)]
		ents = ents[len(win):]
		cs := make([]child, 0, len(win))
		for _, de := range win {
			if err := w.ctx.Err(); err != nil {
				return err
			}
			c := child{name: de.Name(), path: childPath(base, de.Name())}
			if patterns {
				c.rel = c.name
				if rel != "." {
					c.rel = rel + "/" + c.name
				}
				c.abs = "/" + ArchiveName(c.path)
				isDir := de.IsDir()
				if de.Type()&fs.ModeSymlink != 0 && w.opts.FollowSymlinks {
					if fi, err := os.Stat(c.path); err == nil {
						isDir = fi.IsDir()
					}
				}
				if w.opts.Matcher.Excluded(c.rel, c.abs, isDir) {
					continue
				}
			}
			cs = append(cs, c)
		}
		d.lstat(cs, len(ents) == 0)
		for i := range cs {
			if err := w.ctx.Err(); err != nil {
				return err
			}
			cc := &cs[i]
			c, ok, err := w.finish(Node{Name: n.Name + "/" + cc.name, Path: cc.path}, cc.fi, cc.st, cc.err, false)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			cinc := included || !patterns || w.opts.Matcher.Included(cc.rel, cc.abs, c.Type == manifest.TypeDir)
			if c.Type != manifest.TypeDir && !cinc {
				continue
			}
			if err := w.walk(c, cc.rel, cinc); err != nil {
				return err
			}
		}
	}
	// A directory with no included descendant is dropped.
	if len(w.pending) > pendingLen {
		w.pending = w.pending[:pendingLen]
	}
	return nil
}

// statWindow is how many entries of a directory are statted before the first of them
// is walked.
const statWindow = 1024

// testHookDirRead, when set, is called after a directory's entries are read and
// before they are statted.
var testHookDirRead func(dir string)

// child is an entry of the directory being walked, with its lstat.
type child struct {
	name, path string
	rel, abs   string // the names patterns match, when there are patterns
	fi         fs.FileInfo
	st         Stat
	err        error
}

// childPath is filepath.Join(dir, name) for a clean dir and a name from a directory
// listing, without Join's cleaning on the platforms where concatenating is the same.
func childPath(dir, name string) string {
	if filepath.Separator != '/' {
		return filepath.Join(dir, name)
	}
	if strings.HasSuffix(dir, "/") {
		return dir + name
	}
	return dir + "/" + name
}

// spread runs f over [0, n) in two halves on two goroutines when there are enough
// entries and processors to gain from it, else on the caller's alone.
func spread(n int, f func(lo, hi int)) {
	if n < spreadMin || runtime.GOMAXPROCS(0) < 2 {
		f(0, n)
		return
	}
	h := n / 2
	var wg sync.WaitGroup
	wg.Go(func() { f(h, n) })
	f(0, h)
	wg.Wait()
}

// spreadMin is the smallest window whose stats are spread over two goroutines: below
// it, handing work over costs about what it saves.
const spreadMin = 64
