//go:build unix

package engine_test

import (
	"io/fs"
	"syscall"
	"testing"
)

// diskUsage is the space fi's file takes on disk.
func diskUsage(t *testing.T, fi fs.FileInfo) int64 {
	t.Helper()
	return fi.Sys().(*syscall.Stat_t).Blocks * 512
}

// linkInfo returns fi's inode number and link count.
func linkInfo(fi fs.FileInfo) (ino, nlink uint64) {
	st := fi.Sys().(*syscall.Stat_t)
	return uint64(st.Ino), uint64(st.Nlink)
}
