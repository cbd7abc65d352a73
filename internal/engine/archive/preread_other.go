//go:build !linux

package archive

import "github.com/backapp/backapp/internal/engine/scan"

// PreReadSupported says whether ReadWhole can read files ahead of the writer here:
// not yet outside Linux, where the writer reads every file itself.
const PreReadSupported = false

// ReadWhole always reports false here: see the Linux version.
func ReadWhole(scan.Node, []byte) (ok, cached bool) { return false, false }

// Prefetch does nothing here: see the Linux version.
func Prefetch(string) {}
