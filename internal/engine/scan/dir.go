package scan

import (
	"io/fs"
	"os"
)

// dir is a directory being walked: its entries sorted by name (as os.ReadDir gives
// them), and how to lstat them.
type dir struct {
	entries []fs.DirEntry
	lister
}

type lister interface {
	// lstat stats each child by its path, as os.Lstat does (the same FileInfo and
	// errors); last says no more lstat calls follow, so what the directory holds
	// open can go.
	lstat(cs []child, last bool)
	close()
}

// openDirByPath reads a directory with os.ReadDir and lstats its entries by their
// full paths: the walk on platforms without openDirAt.
func openDirByPath(path string) (*dir, error) {
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	return &dir{entries: ents, lister: byPath{}}, nil
}

type byPath struct{}

func (byPath) lstat(cs []child, _ bool) {
	spread(len(cs), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			c := &cs[i]
			if c.fi, c.err = os.Lstat(c.path); c.err == nil {
				c.st = statOf(c.fi)
			}
		}
	})
}

func (byPath) close() {}
