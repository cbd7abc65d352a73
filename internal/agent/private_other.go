//go:build !windows

package agent

// makePrivate does nothing here: mode 0600 (0700 for directories) is the restriction.
func makePrivate(string, bool) error { return nil }
