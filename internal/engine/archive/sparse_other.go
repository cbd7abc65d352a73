//go:build !linux

package archive

import (
	"io"
	"io/fs"
	"os"
)

func openNoATime(p string) (*os.File, error) { return os.Open(p) }

func (w *Writer) copyContent(dst io.Writer, f *os.File, fi fs.FileInfo) (int64, error) {
	return w.copyRange(dst, f, fi.Size())
}
