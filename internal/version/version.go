// Package version holds the build's version and commit, set by the linker.
package version

// Set with -ldflags "-X github.com/backapp/backapp/internal/version.Version=…".
var (
	Version = "dev"
	Commit  = "unknown"
)

// String is "VERSION (COMMIT)".
func String() string { return Version + " (" + Commit + ")" }
