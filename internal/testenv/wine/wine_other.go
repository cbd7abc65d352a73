//go:build !windows

package wine

// Running is false outside Windows builds.
func Running() bool { return false }
