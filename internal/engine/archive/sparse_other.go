//go:build !linux

package archive

import (
	"io"
	"os"
)

func openNoATime(p string) (*os.File, error) { return os.Open(p) }

func (w *Writer) copyContent(dst io.Writer, f *os.File, size int64) (int64, error) {
	return w.copyRange(dst, f, size)
}
