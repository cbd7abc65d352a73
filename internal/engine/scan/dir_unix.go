//go:build unix

package scan

import (
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

var openDir = openDirAt

// openDirAt reads a directory as os.ReadDir does and keeps it open to lstat its
// entries relative to it (fstatat): the kernel then resolves one name per entry, not
// every directory of the path, which was a third of an unchanged run's stat time.
func openDirAt(path string) (*dir, error) {
	var fd int
	err := ignoringEINTR(func() (err error) {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	ents, err := f.ReadDir(-1)
	if err != nil {
		f.Close()
		return nil, err
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return &dir{entries: ents, lister: &atDir{f: f, fd: fd}}, nil
}

type atDir struct {
	f  *os.File // owns fd
	fd int
}

func (d *atDir) lstat(cs []child, last bool) {
	infos := make([]fileInfo, len(cs))
	spread(len(cs), func(lo, hi int) {
		var st unix.Stat_t
		for i := lo; i < hi; i++ {
			c := &cs[i]
			err := ignoringEINTR(func() error { return unix.Fstatat(d.fd, c.name, &st, unix.AT_SYMLINK_NOFOLLOW) })
			if err != nil {
				c.err = &fs.PathError{Op: "lstat", Path: c.path, Err: err}
				continue
			}
			fi := &infos[i]
			fillFileInfo(fi, c.name, &st)
			c.fi, c.st = fi, fi.stat
		}
	})
	if last {
		d.close()
	}
}

func (d *atDir) close() {
	if d.f != nil {
		d.f.Close()
		d.f = nil
	}
}

// fillFileInfo sets fi as os.Lstat sets its FileInfo from the same stat.
func fillFileInfo(fi *fileInfo, name string, st *unix.Stat_t) {
	fi.name = name
	fi.size = st.Size
	fi.mtime = time.Unix(int64(st.Mtim.Sec), int64(st.Mtim.Nsec))
	m := uint32(st.Mode)
	fi.mode = fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFBLK, sIFWHT:
		fi.mode |= fs.ModeDevice
	case unix.S_IFCHR:
		fi.mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		fi.mode |= fs.ModeDir
	case unix.S_IFIFO:
		fi.mode |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		fi.mode |= fs.ModeSymlink
	case unix.S_IFSOCK:
		fi.mode |= fs.ModeSocket
	}
	if m&unix.S_ISGID != 0 {
		fi.mode |= fs.ModeSetgid
	}
	if m&unix.S_ISUID != 0 {
		fi.mode |= fs.ModeSetuid
	}
	if m&unix.S_ISVTX != 0 {
		fi.mode |= fs.ModeSticky
	}
	fi.stat = Stat{Dev: uint64(st.Dev), Ino: uint64(st.Ino), Nlink: uint64(st.Nlink), UID: int(st.Uid), GID: int(st.Gid),
		CTime: time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec))}
}

func ignoringEINTR(f func() error) error {
	for {
		if err := f(); err != syscall.EINTR {
			return err
		}
	}
}

// fileInfo is the fs.FileInfo of a file the walk statted itself; Sys returns its *Stat.
type fileInfo struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
	stat  Stat
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.size }
func (fi *fileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi *fileInfo) ModTime() time.Time { return fi.mtime }
func (fi *fileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi *fileInfo) Sys() any           { return &fi.stat }
