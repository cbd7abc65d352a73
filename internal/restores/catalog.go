package restores

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/engine/manifest"
	"github.com/backapp/backapp/internal/runs"
	"github.com/backapp/backapp/internal/store"
)

// Entry is one file, directory or link of a backup as the browser shows it.
type Entry struct {
	Name  string    `json:"name"` // base name
	Path  string    `json:"path"` // absolute path on the backed-up machine
	Type  string    `json:"type"` // file | dir | symlink | hardlink
	Size  int64     `json:"size"`
	MTime time.Time `json:"mtime,omitzero"`
	Link  string    `json:"link,omitempty"` // symlink target
}

// IsDir reports whether the entry is a directory.
func (e Entry) IsDir() bool { return e.Type == manifest.TypeDir }

// node is what a catalog keeps of a manifest entry: about half of manifest.Entry.
type node struct {
	Path  string
	Type  string // one of the manifest.Type* constants (shared, not one string per entry)
	Link  string
	Size  int64
	MTime time.Time
	In    int
}

func nodeOf(e manifest.Entry) node {
	typ := e.Type
	switch typ {
	case manifest.TypeFile:
		typ = manifest.TypeFile
	case manifest.TypeDir:
		typ = manifest.TypeDir
	case manifest.TypeSymlink:
		typ = manifest.TypeSymlink
	case manifest.TypeHardlink:
		typ = manifest.TypeHardlink
	}
	return node{Path: e.Path, Type: typ, Link: e.Link, Size: e.Size, MTime: e.MTime, In: e.In}
}

// catalog is a run's manifest decoded for browsing: every path of the tree at the
// run's time (deletions left out) plus the directories leading to the sources.
type catalog struct {
	header  manifest.Header
	entries []node             // ComparePaths order
	byPath  map[string]int32   // archive name → index in entries
	kids    map[string][]int32 // parent archive name ("" for /) → children, by name
	synth   map[string]bool    // directories made up to reach the sources
	once    sync.Once          // kids are sorted on first use
}

func (c *catalog) lookup(p string) (node, bool) {
	i, ok := c.byPath[p]
	if !ok {
		return node{}, false
	}
	return c.entries[i], true
}

func parentOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

func decodeCatalog(mr *manifest.Reader) (*catalog, error) {
	c := &catalog{header: mr.Header, byPath: map[string]int32{}, kids: map[string][]int32{}, synth: map[string]bool{}}
	// Names that are not valid UTF-8 are found under their display form too (each
	// invalid byte as U+FFFD, manifest.Display): the pages only ever show and send that
	// form. Two such names that display alike are both listed; a lookup finds the first.
	add := func(e node) {
		i := int32(len(c.entries))
		c.entries = append(c.entries, e)
		c.byPath[e.Path] = i
		if d := manifest.Display(e.Path); d != e.Path {
			if _, ok := c.byPath[d]; !ok {
				c.byPath[d] = i
			}
		}
		parent := manifest.Display(parentOf(e.Path))
		c.kids[parent] = append(c.kids[parent], i)
	}
	for {
		e, err := mr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if e.Type == manifest.TypeDeleted {
			continue
		}
		// Directories above a source are not in the manifest; make them up so the
		// tree can be browsed from /.
		for p := parentOf(e.Path); p != ""; p = parentOf(p) {
			if _, ok := c.byPath[p]; ok {
				break
			}
			var missing []string
			for q := p; q != ""; q = parentOf(q) {
				if _, ok := c.byPath[q]; ok {
					break
				}
				missing = append(missing, q)
			}
			for _, q := range slices.Backward(missing) {
				c.synth[q] = true
				add(node{Path: q, Type: manifest.TypeDir})
			}
			break
		}
		if i, ok := c.byPath[e.Path]; ok && c.synth[e.Path] {
			c.entries[i] = nodeOf(e)
			delete(c.synth, e.Path)
			continue
		}
		add(nodeOf(e))
	}
	return c, nil
}

func (c *catalog) sortKids() {
	c.once.Do(func() {
		for _, ks := range c.kids {
			slices.SortFunc(ks, func(a, b int32) int {
				return strings.Compare(path.Base(c.entries[a].Path), path.Base(c.entries[b].Path))
			})
		}
	})
}

func view(e node) Entry {
	v := Entry{Name: path.Base(e.Path), Path: "/" + e.Path, Type: e.Type, Size: e.Size, MTime: e.MTime}
	if e.Type == manifest.TypeSymlink {
		v.Link = e.Link
	}
	return v
}

// catalogCache keeps decoded catalogs, least recently used out first, within a
// budget of entries. A run's catalog never changes once the run completed.
type catalogCache struct {
	mu     sync.Mutex
	max    int
	used   int
	lru    *list.List // of *cacheItem, most recent first
	byRun  map[string]*list.Element
	flight map[string]*flight
}

type cacheItem struct {
	runID string
	cat   *catalog
}

type flight struct {
	done chan struct{}
	cat  *catalog
	err  error
}

func newCatalogCache(max int) *catalogCache {
	return &catalogCache{max: max, lru: list.New(), byRun: map[string]*list.Element{}, flight: map[string]*flight{}}
}

// get returns the catalog of runID, loading it once however many ask at a time.
func (cc *catalogCache) get(runID string, load func() (*catalog, error)) (*catalog, error) {
	cc.mu.Lock()
	if el, ok := cc.byRun[runID]; ok {
		cc.lru.MoveToFront(el)
		cc.mu.Unlock()
		return el.Value.(*cacheItem).cat, nil
	}
	if f, ok := cc.flight[runID]; ok {
		cc.mu.Unlock()
		<-f.done
		return f.cat, f.err
	}
	f := &flight{done: make(chan struct{})}
	cc.flight[runID] = f
	cc.mu.Unlock()

	f.cat, f.err = load()
	close(f.done)

	cc.mu.Lock()
	defer cc.mu.Unlock()
	delete(cc.flight, runID)
	if f.err == nil && len(f.cat.entries) <= cc.max {
		cc.byRun[runID] = cc.lru.PushFront(&cacheItem{runID, f.cat})
		cc.used += len(f.cat.entries)
		for cc.used > cc.max {
			el := cc.lru.Back()
			it := el.Value.(*cacheItem)
			cc.lru.Remove(el)
			delete(cc.byRun, it.runID)
			cc.used -= len(it.cat.entries)
		}
	}
	return f.cat, f.err
}

// ErrNoCatalog is the kind of error (Conflict) for a run whose catalog is not kept.
func errNoCatalog(run store.Run) error {
	return apperr.New(apperr.Conflict, "backup %s has no file catalog (it predates catalogs, or its agent could not send it), so its files cannot be listed", run.ID)
}

// catalog loads the run's tree (runs.Trees: its manifest, or the sealed catalog copy
// of an encrypted run, merged with those of its chain when it is a delta) and decodes
// it for browsing.
func (s *Service) catalog(ctx context.Context, run store.Run) (*catalog, error) {
	if run.Status != store.RestoreCompleted {
		return nil, apperr.New(apperr.Conflict, "backup %s is %s; only completed backups can be browsed", run.ID, run.Status)
	}
	return s.cache.get(run.ID, func() (*catalog, error) {
		trees := runs.Trees{Store: s.st, Dests: s.dests, Keys: s.keys, Max: s.maxCat}
		mr, closer, err := trees.Open(ctx, run)
		if errors.Is(err, runs.ErrNoCatalog) {
			return nil, errNoCatalog(run)
		}
		if err != nil {
			return nil, err
		}
		defer closer.Close()
		c, err := decodeCatalog(mr)
		if err != nil {
			return nil, fmt.Errorf("read the catalog of run %s: %w", run.ID, err)
		}
		return c, nil
	})
}

// Listing is one directory of a backup.
type Listing struct {
	Run     store.Run
	Dir     string  // absolute, "/" for the root
	Parents []Entry // from / down to Dir's parent, for breadcrumbs
	Entries []Entry // directories first, then by name
	// Sources are the backed-up directories, as the manifest names them.
	Sources []string
}

// Browse lists directory dir ("/" or "" for the root) of the run as it was at the
// run's time. A missing catalog is a Conflict with a message that says why.
func (s *Service) Browse(ctx context.Context, run store.Run, dir string) (Listing, error) {
	c, err := s.catalog(ctx, run)
	if err != nil {
		return Listing{}, err
	}
	p := strings.Trim(path.Clean("/"+dir), "/")
	if p != "" {
		e, ok := c.lookup(p)
		if !ok || e.Type != manifest.TypeDir {
			return Listing{}, apperr.Invalidf("dir", "%q is not a directory of backup %s", "/"+p, run.ID)
		}
	}
	c.sortKids()
	out := Listing{Run: run, Dir: "/" + p, Sources: c.header.Sources}
	for q := parentOf(p); p != ""; q = parentOf(q) {
		if q == "" {
			break
		}
		out.Parents = append(out.Parents, view(c.entries[c.byPath[q]]))
	}
	slices.Reverse(out.Parents)
	for _, i := range c.kids[p] {
		out.Entries = append(out.Entries, view(c.entries[i]))
	}
	slices.SortStableFunc(out.Entries, func(a, b Entry) int {
		switch {
		case a.IsDir() && !b.IsDir():
			return -1
		case !a.IsDir() && b.IsDir():
			return 1
		}
		return 0
	})
	return out, nil
}

// Search returns up to limit entries whose path contains q (case-insensitive), in
// path order, and whether there were more.
func (s *Service) Search(ctx context.Context, run store.Run, q string, limit int) ([]Entry, bool, error) {
	c, err := s.catalog(ctx, run)
	if err != nil {
		return nil, false, err
	}
	q = strings.ToLower(strings.TrimSpace(q))
	if q == "" {
		return nil, false, nil
	}
	var out []Entry
	for i, e := range c.entries {
		if c.synth[e.Path] || !strings.Contains(strings.ToLower(e.Path), q) {
			continue
		}
		if len(out) == limit {
			return out, true, nil
		}
		out = append(out, view(c.entries[i]))
	}
	return out, false, nil
}
