//go:build linux

package engine

import "golang.org/x/sys/unix"

const prefetchSupported = true

// prefetch asks the kernel to read a regular file's content into the page cache
// (POSIX_FADV_WILLNEED starts the reads and returns). It never blocks on a FIFO that
// took the file's place (O_NONBLOCK) and leaves access times alone where it may.
func prefetch(path string) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOATIME|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err == unix.EPERM { // O_NOATIME needs ownership
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return
	}
	_ = unix.Fadvise(fd, 0, st.Size, unix.FADV_WILLNEED)
}
