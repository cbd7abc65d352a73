package engine

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFilesystem waits until everything written to dir's filesystem is on disk
// (syncfs). A restore reports completion only after it: the kernel would otherwise
// write the restored files out up to half a minute later, and a machine that loses
// power in between loses files the user was told were restored.
func syncFilesystem(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	raw, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) { serr = unix.Syncfs(int(fd)) }); err != nil {
		return err
	}
	return serr
}
