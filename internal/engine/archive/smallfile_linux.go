package archive

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// createSmall writes a small file whose content is already in memory and verified: it
// is created under its final name with O_EXCL (which never follows a symlink, so the
// one-component name base cannot lead outside dir) and given its mode (chmod bits, as
// in a tar header), owner and times through the open descriptor. That is four or five
// system calls, against eight and a rename for a file written under a temporary name,
// and creating files is most of a restore's time. A file that cannot be completed is
// removed; only a crash while the bytes are being written (microseconds, for at most
// smallFile bytes) could leave one short, and it then keeps the time of the restore,
// not the archived mtime. Something already there is an error that matches
// fs.ErrExist.
func createSmall(dir *os.File, base string, data []byte, m smallMeta, owner *newOwner, umask uint32) (err error) {
	raw, err := dir.SyscallConn()
	if err != nil {
		return err
	}
	var fd int
	if cerr := raw.Control(func(dfd uintptr) {
		for {
			fd, err = unix.Openat(int(dfd), base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, m.mode&0o777)
			if err != syscall.EINTR {
				return
			}
		}
	}); cerr != nil {
		return cerr
	}
	if err != nil {
		return err
	}
	err = fillSmall(fd, data, m, owner, umask)
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		_ = raw.Control(func(dfd uintptr) { _ = unix.Unlinkat(int(dfd), base, 0) })
	}
	return err
}

// smallFast: small files are written by createSmall.
const smallFast = true

func fillSmall(fd int, data []byte, m smallMeta, owner *newOwner, umask uint32) error {
	tail, err := writeBlocks(func(b []byte, off int64) (int, error) { return len(b), pwriteAll(fd, b, off) }, 0, data)
	if err != nil {
		return err
	}
	if !tail { // ends in a hole
		if err := unix.Ftruncate(fd, int64(len(data))); err != nil {
			return err
		}
	}
	if owner != nil && !owner.is(fd, m.uid, m.gid) {
		if err := unix.Fchown(fd, m.uid, m.gid); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	// The mode given to open lost the umask's bits, and chown clears set-id bits.
	if m.mode&0o7000 != 0 || m.mode&0o777&umask != 0 {
		if err := unix.Fchmod(fd, m.mode); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if err := futimens(fd, m.mtime); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// is reports whether the file fd, just created in the directory, already has the
// owner uid:gid, learning the owner that files created there get from the first one.
func (o *newOwner) is(fd, uid, gid int) bool {
	if uid < 0 || gid < 0 || uid > math.MaxUint32 || gid > math.MaxUint32 {
		return false
	}
	v := o.v.Load()
	if v == 0 {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil {
			return false
		}
		v = known | uint64(st.Uid)<<32 | uint64(st.Gid)
		o.v.Store(v)
	}
	return v == known|uint64(uid)<<32|uint64(gid)
}

func pwriteAll(fd int, b []byte, off int64) error {
	for len(b) > 0 {
		n, err := unix.Pwrite(fd, b, off)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return syscall.EIO
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}

// processUmask is the umask open applies, read from /proc/self/status (Linux 4.7 and
// later) rather than by changing it, which, even briefly, would affect files other
// goroutines create. Where it cannot be read every bit counts as masked, so chmod
// always runs.
func processUmask() uint32 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0o7777
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "Umask:"); ok {
			if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
				return uint32(m)
			}
		}
	}
	return 0o7777
}

// futimens sets a file's access and modification times through its descriptor
// (utimensat with a NULL path, as the C library's futimens does).
func futimens(fd int, t time.Time) error {
	ts := [2]unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
