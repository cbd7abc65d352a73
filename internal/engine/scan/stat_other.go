//go:build !unix

package scan

import "io/fs"

func statOf(fi fs.FileInfo) Stat {
	if s, ok := fi.Sys().(*Stat); ok { // the walk's own fileInfo
		return *s
	}
	return Stat{CTime: fi.ModTime(), Nlink: 1}
}

// StatOf returns the Stat of fi (exported for the archive writer's re-check).
func StatOf(fi fs.FileInfo) Stat { return statOf(fi) }
