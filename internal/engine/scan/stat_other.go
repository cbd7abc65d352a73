//go:build !unix

package scan

import "io/fs"

func statOf(fi fs.FileInfo) Stat { return Stat{CTime: fi.ModTime(), Nlink: 1} }

// StatOf returns the Stat of fi (exported for the archive writer's re-check).
func StatOf(fi fs.FileInfo) Stat { return statOf(fi) }
