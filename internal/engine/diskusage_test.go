package engine_test

import (
	"io/fs"
	"syscall"
	"testing"
)

func diskUsage(t *testing.T, fi fs.FileInfo) int64 {
	t.Helper()
	return fi.Sys().(*syscall.Stat_t).Blocks * 512
}
