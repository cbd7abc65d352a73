//go:build linux

package archive

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/backapp/backapp/internal/engine/scan"
)

// PreReadSupported says whether ReadWhole can read files ahead of the writer here.
const PreReadSupported = true

// ReadWhole reads the regular file the walk found as n — len(buf) bytes, its size —
// whole into buf, so that another goroutine than the writer opens, reads and closes
// it, and the writer stores it with WriteRead. It reports false when the file is not
// exactly what the walk saw, before and after the read (the same inode, type, size,
// mode, owner, mtime and ctime), cannot be opened or read, or has holes: the writer
// then reads it itself with WriteFile, which reports whatever went wrong. With the
// walk's stat matching the open file's on every field the archive records, n's Info
// stands for the file's fstat, as it does in WriteFile. A FIFO that took the file's
// place never blocks it (O_NONBLOCK), and access times are left alone where allowed.
// cached reports whether the content was all in the page cache when the read began
// (preadv2 RWF_NOWAIT): a caller can tell a cold tree from a warm one by it.
func ReadWhole(n scan.Node, buf []byte) (ok, cached bool) {
	fd, err := openRaw(n.Path)
	if err != nil {
		return false, false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || !sameAsWalked(n, &st, len(buf)) || st.Blocks*512 < st.Size {
		return false, false
	}
	done := 0
	if len(buf) > 0 {
		k, err := readNoWait(fd, buf)
		if err == nil && k > 0 {
			done = k
		}
	}
	cached = done == len(buf)
	for done < len(buf) {
		k, err := unix.Read(fd, buf[done:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || k <= 0 {
			return false, cached
		}
		done += k
	}
	return unix.Fstat(fd, &st) == nil && sameAsWalked(n, &st, len(buf)), cached
}

// readNoWait reads what of b is in the page cache from the file position on, without
// waiting for the disk (preadv2 with RWF_NOWAIT, Linux 4.14): EAGAIN when the first
// byte is not cached, a short count when only part is. Kernels and filesystems without
// it answer an error, and the file reads as not cached.
func readNoWait(fd int, b []byte) (int, error) {
	iov := unix.Iovec{Base: &b[0]}
	iov.SetLen(len(b))
	// The offset -1 reads from, and moves, the file position, as read(2) does.
	n, _, e := unix.Syscall6(unix.SYS_PREADV2, uintptr(fd), uintptr(unsafe.Pointer(&iov)), 1,
		^uintptr(0), ^uintptr(0), unix.RWF_NOWAIT)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// sameAsWalked reports whether st is the stat of the regular file of size bytes the
// walk described as n, on every field the archive and the manifest record.
func sameAsWalked(n scan.Node, st *unix.Stat_t, size int) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == int64(size) && n.Info.Size() == int64(size) &&
		int64(st.Mode&0o7777) == TarMode(n.Info.Mode()) &&
		uint64(st.Ino) == n.Stat.Ino && uint64(st.Dev) == n.Stat.Dev && uint64(st.Nlink) == n.Stat.Nlink &&
		int(st.Uid) == n.Stat.UID && int(st.Gid) == n.Stat.GID &&
		st.Mtim.Sec == n.Info.ModTime().Unix() && st.Mtim.Nsec == int64(n.Info.ModTime().Nanosecond()) &&
		st.Ctim.Sec == n.Stat.CTime.Unix() && st.Ctim.Nsec == int64(n.Stat.CTime.Nanosecond())
}

// Prefetch asks the kernel to read a regular file's content into the page cache
// (POSIX_FADV_WILLNEED starts the reads and returns), for a reader that comes to it
// later.
func Prefetch(path string) {
	fd, err := openRaw(path)
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

// openRaw opens p for reading as a file descriptor, without an os.File: without
// updating its access time where allowed, and without blocking should a FIFO have
// taken the scanned file's place.
func openRaw(p string) (int, error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOATIME|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err == unix.EPERM { // O_NOATIME needs ownership
		fd, err = unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	}
	return fd, err
}
