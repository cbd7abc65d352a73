//go:build unix

package scan

import (
	"io/fs"
	"syscall"
)

func statOf(fi fs.FileInfo) Stat {
	if s, ok := fi.Sys().(*Stat); ok { // the walk's own fileInfo
		return *s
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Stat{CTime: fi.ModTime(), Nlink: 1}
	}
	return Stat{
		Dev:   uint64(st.Dev),
		Ino:   uint64(st.Ino),
		Nlink: uint64(st.Nlink),
		UID:   int(st.Uid),
		GID:   int(st.Gid),
		CTime: ctime(st),
	}
}

// StatOf returns the Stat of fi (exported for the archive writer's re-check).
func StatOf(fi fs.FileInfo) Stat { return statOf(fi) }
