package archive

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// SweepTemp removes, under target, every entry whose name starts with prefix: what an
// extractor with that TempPrefix left when its process died. It follows no symlink
// and returns how many it removed. A missing target is no error.
func SweepTemp(target, prefix string) (int, error) {
	if !strings.HasPrefix(prefix, TempPrefixBase) || strings.ContainsAny(prefix, `/\`) {
		return 0, errors.New("sweep: not a temporary prefix: " + prefix)
	}
	removed := 0
	var errs []error
	err := filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != target && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			return nil
		}
		if p == target || !strings.HasPrefix(d.Name(), prefix) {
			return nil
		}
		// A temporary name is a file, link or an empty directory that never got content.
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		} else if err == nil {
			removed++
		}
		if d.IsDir() {
			return filepath.SkipDir
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return removed, errors.Join(append(errs, err)...)
}
