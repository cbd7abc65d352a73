//go:build !windows

package agent

import (
	"fmt"
	"os"
)

// makePrivate does nothing here: mode 0600 (0700 for directories) is the restriction.
func makePrivate(string, bool) error { return nil }

// tightenDir makes directory dir mode 0700 when its group or others may use it (it
// was created by hand, or by an older agent, or given with --state-dir), and returns
// the mode it had; changed is false when it was private already. What is inside
// needs no change: without search permission on dir nobody else reaches it.
func tightenDir(dir string) (was os.FileMode, changed bool, err error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return 0, false, err
	}
	was = fi.Mode().Perm()
	if was&0o077 == 0 {
		return was, false, nil
	}
	if err := os.Chmod(dir, was&0o700|0o700); err != nil {
		return was, false, fmt.Errorf("%s has mode %#o (others may read it) and cannot be made 0700: %w", dir, was, err)
	}
	return was, true, nil
}
