//go:build linux

package archive

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
)

const (
	seekData = 3 // SEEK_DATA
	seekHole = 4 // SEEK_HOLE
)

// openNoATime opens p for reading without updating its access time where allowed,
// and without blocking should a FIFO have taken the scanned file's place (the caller
// then finds it is no longer a regular file).
func openNoATime(p string) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOATIME|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.EPERM) { // O_NOATIME needs ownership
		return os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	}
	return f, err
}

// copyContent copies size bytes of f, reading only its data regions (SEEK_DATA /
// SEEK_HOLE) and producing zeros for holes, so a mostly empty sparse file costs no
// disk reads. A file whose allocated blocks cover its size (fi, from fstat) has no
// holes, and is read straight through without the three seeks per file.
func (w *Writer) copyContent(dst io.Writer, f *os.File, fi fs.FileInfo) (int64, error) {
	size := fi.Size()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Blocks*512 >= size {
		return w.copyRange(dst, f, size)
	}
	var off int64
	for off < size {
		data, err := f.Seek(off, seekData)
		if err != nil {
			if errors.Is(err, syscall.ENXIO) { // only a hole remains
				data = size
			} else if off == 0 {
				// SEEK_DATA unsupported: read everything.
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					return 0, err
				}
				return w.copyRange(dst, f, size)
			} else {
				return off, err
			}
		}
		data = min(data, size)
		if data > off {
			if err := w.writeZeros(dst, data-off); err != nil {
				return off, err
			}
			off = data
		}
		if off >= size {
			break
		}
		hole, err := f.Seek(off, seekHole)
		if err != nil {
			return off, err
		}
		hole = min(hole, size)
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return off, err
		}
		want := hole - off
		n, err := w.copyRange(dst, f, want)
		off += n
		if err != nil {
			return off, err
		}
		if n < want { // EOF before the hole: the file shrank
			return off, nil
		}
	}
	return off, nil
}
