package archive

import (
	"os"

	"golang.org/x/sys/unix"
)

// exchange swaps the entries a and b of the directory dir in one step
// (renameat2 RENAME_EXCHANGE); it fails where the filesystem cannot.
func exchange(dir *os.File, a, b string) error {
	raw, err := dir.SyscallConn()
	if err != nil {
		return err
	}
	if cerr := raw.Control(func(fd uintptr) {
		err = unix.Renameat2(int(fd), a, int(fd), b, unix.RENAME_EXCHANGE)
	}); cerr != nil {
		return cerr
	}
	return err
}
