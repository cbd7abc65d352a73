// Package archive writes scanned files as a PAX tar stream (type, mode, mtime, owner,
// symlink targets, hard links, long and non-ASCII names, empty directories), hashing
// file contents on the way, and extracts tar streams into a directory without ever
// writing outside it.
package archive

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"strconv"

	"github.com/backapp/backapp/internal/engine/manifest"
	"github.com/backapp/backapp/internal/engine/scan"
)

// Writer writes tar entries. It is not safe for concurrent use.
type Writer struct {
	tw     *tar.Writer
	buf    []byte
	zero   []byte
	users  map[int]string
	groups map[int]string
	// OnRead is called with the number of content bytes read from disk.
	OnRead func(n int64)
	// OnEntry is called with an entry's name just before its first byte is written.
	// Each entry's bytes (header, content, padding) are written before the next
	// entry's, so a resumable backup knows which entry any offset of the stream is in.
	OnEntry func(name string)
}

func (w *Writer) begin(name string) {
	if w.OnEntry != nil {
		w.OnEntry(name)
	}
}

// end pads the entry to a whole block now rather than with the next header, so that
// no entry's bytes are written while another is being written.
func (w *Writer) end(name string) error {
	if err := w.tw.Flush(); err != nil {
		return fmt.Errorf("tar %s: %w", name, err)
	}
	return nil
}

// NewWriter returns a Writer writing to w. Close ends the tar stream, not w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{tw: tar.NewWriter(w), buf: make([]byte, 1<<20), zero: make([]byte, 1<<20),
		users: map[int]string{}, groups: map[int]string{}}
}

// Close writes the tar trailer.
func (w *Writer) Close() error { return w.tw.Close() }

// TarMode converts permission and special bits to tar's mode field.
func TarMode(m fs.FileMode) int64 {
	v := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 04000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 02000
	}
	if m&fs.ModeSticky != 0 {
		v |= 01000
	}
	return v
}

// FileMode converts tar's mode field to an fs.FileMode with permission and special bits.
func FileMode(v int64) fs.FileMode {
	m := fs.FileMode(v & 0777)
	if v&04000 != 0 {
		m |= fs.ModeSetuid
	}
	if v&02000 != 0 {
		m |= fs.ModeSetgid
	}
	if v&01000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

func (w *Writer) header(n scan.Node, typ byte) *tar.Header {
	h := &tar.Header{
		Typeflag: typ,
		Name:     n.Name,
		Mode:     TarMode(n.Info.Mode()),
		ModTime:  n.Info.ModTime(),
		Uid:      n.Stat.UID,
		Gid:      n.Stat.GID,
		Uname:    w.uname(n.Stat.UID),
		Gname:    w.gname(n.Stat.GID),
		Format:   tar.FormatPAX,
	}
	return h
}

func (w *Writer) uname(id int) string {
	if s, ok := w.users[id]; ok {
		return s
	}
	s := ""
	if u, err := user.LookupId(strconv.Itoa(id)); err == nil {
		s = u.Username
	}
	w.users[id] = s
	return s
}

func (w *Writer) gname(id int) string {
	if s, ok := w.groups[id]; ok {
		return s
	}
	s := ""
	if g, err := user.LookupGroupId(strconv.Itoa(id)); err == nil {
		s = g.Name
	}
	w.groups[id] = s
	return s
}

// Entry returns the manifest entry describing n (without content hash or archive index).
func Entry(n scan.Node) manifest.Entry {
	e := manifest.Entry{
		Path:  n.Name,
		Type:  n.Type,
		Mode:  uint32(TarMode(n.Info.Mode())),
		MTime: n.Info.ModTime().UTC(),
		CTime: n.Stat.CTime.UTC(),
		Inode: n.Stat.Ino,
		UID:   n.Stat.UID,
		GID:   n.Stat.GID,
		Link:  n.Link,
	}
	if n.Type == manifest.TypeFile {
		e.Size = n.Info.Size()
	}
	return e
}

// WriteDir writes a directory entry.
func (w *Writer) WriteDir(n scan.Node) error {
	h := w.header(n, tar.TypeDir)
	h.Name += "/"
	w.begin(n.Name)
	if err := w.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("tar %s: %w", n.Name, err)
	}
	return w.end(n.Name)
}

// WriteSymlink writes a symlink entry.
func (w *Writer) WriteSymlink(n scan.Node) error {
	h := w.header(n, tar.TypeSymlink)
	h.Linkname = n.Link
	w.begin(n.Name)
	if err := w.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("tar %s: %w", n.Name, err)
	}
	return w.end(n.Name)
}

// WriteHardlink writes n as a hard link to target, an earlier entry of this archive.
func (w *Writer) WriteHardlink(n scan.Node, target string) error {
	h := w.header(n, tar.TypeLink)
	h.Linkname = target
	w.begin(n.Name)
	if err := w.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("tar %s: %w", n.Name, err)
	}
	return w.end(n.Name)
}

// FileResult is what WriteFile stored.
type FileResult struct {
	Node   scan.Node // refreshed from the open file
	Size   int64
	SHA256 string
	// Issue is set when the file could not be stored faithfully: it vanished or could
	// not be opened (nothing was written), or it changed or failed while being read
	// (its entry was written, padded to the size in its header).
	Issue   *scan.Issue
	Written bool // whether a tar entry was written
}

var errChanged = errors.New("file changed while being read")

// WriteRead writes a regular file that ReadWhole read into data, with sum its SHA-256:
// the same entry WriteFile writes for it, without touching the file again.
func (w *Writer) WriteRead(n scan.Node, data []byte, sum [sha256.Size]byte) (FileResult, error) {
	h := w.header(n, tar.TypeReg)
	h.Size = int64(len(data))
	w.begin(n.Name)
	if err := w.tw.WriteHeader(h); err != nil {
		return FileResult{Node: n}, fmt.Errorf("tar %s: %w", n.Name, err)
	}
	if _, err := w.tw.Write(data); err != nil {
		return FileResult{Node: n}, fmt.Errorf("tar %s: %w", n.Name, err)
	}
	if w.OnRead != nil {
		w.OnRead(h.Size)
	}
	if err := w.end(n.Name); err != nil {
		return FileResult{Node: n}, err
	}
	return FileResult{Node: n, Size: h.Size, SHA256: hex.EncodeToString(sum[:]), Written: true}, nil
}

// WriteFile writes a regular file's header and content. Problems with the file itself
// are returned in FileResult.Issue; the error is for the tar stream (fatal).
func (w *Writer) WriteFile(n scan.Node) (FileResult, error) {
	res := FileResult{Node: n}
	f, err := openNoATime(n.Path)
	if err != nil {
		op := "open"
		if errors.Is(err, fs.ErrNotExist) {
			op = "vanished"
		}
		res.Issue = &scan.Issue{Path: n.Path, Op: op, Err: err}
		return res, nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		res.Issue = &scan.Issue{Path: n.Path, Op: "stat", Err: err}
		return res, nil
	}
	if !fi.Mode().IsRegular() {
		res.Issue = &scan.Issue{Path: n.Path, Op: "changed", Err: errors.New("no longer a regular file")}
		return res, nil
	}
	n.Info = fi
	n.Stat = scan.StatOf(fi)
	res.Node = n
	h := w.header(n, tar.TypeReg)
	h.Size = fi.Size()
	w.begin(n.Name)
	if err := w.tw.WriteHeader(h); err != nil {
		return res, fmt.Errorf("tar %s: %w", n.Name, err)
	}
	res.Written = true
	sum := sha256.New()
	dst := io.MultiWriter(w.tw, sum)
	got, rerr := w.copyContent(dst, f, fi)
	if got < h.Size {
		// Keep the tar stream valid: pad to the size announced in the header.
		for rem := h.Size - got; rem > 0; {
			k := min(rem, int64(len(w.zero)))
			if _, err := dst.Write(w.zero[:k]); err != nil {
				return res, fmt.Errorf("tar %s: %w", n.Name, err)
			}
			rem -= k
		}
		if rerr == nil {
			rerr = fmt.Errorf("%w: shrank from %d to %d bytes", errChanged, h.Size, got)
		}
	}
	if err := w.end(n.Name); err != nil {
		return res, err
	}
	res.Size = h.Size
	res.SHA256 = hex.EncodeToString(sum.Sum(nil))
	if rerr != nil {
		var we *writeError
		if errors.As(rerr, &we) {
			return res, fmt.Errorf("tar %s: %w", n.Name, we.err)
		}
		op := "read"
		if errors.Is(rerr, errChanged) {
			op = "changed"
		}
		res.Issue = &scan.Issue{Path: n.Path, Op: op, Err: rerr}
		return res, nil
	}
	if after, err := f.Stat(); err == nil {
		st := scan.StatOf(after)
		if after.Size() != fi.Size() || !after.ModTime().Equal(fi.ModTime()) || !st.CTime.Equal(n.Stat.CTime) {
			res.Issue = &scan.Issue{Path: n.Path, Op: "changed", Err: errChanged}
		}
	}
	return res, nil
}

type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

// copyRange copies exactly n bytes of f from its current offset (or fewer at EOF).
func (w *Writer) copyRange(dst io.Writer, f *os.File, n int64) (int64, error) {
	var done int64
	for done < n {
		k := min(n-done, int64(len(w.buf)))
		r, err := f.Read(w.buf[:k])
		if r > 0 {
			if _, werr := dst.Write(w.buf[:r]); werr != nil {
				return done, &writeError{werr}
			}
			done += int64(r)
			if w.OnRead != nil {
				w.OnRead(int64(r))
			}
		}
		if err == io.EOF {
			return done, nil
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// writeZeros writes n zero bytes (a hole of a sparse file).
func (w *Writer) writeZeros(dst io.Writer, n int64) error {
	for n > 0 {
		k := min(n, int64(len(w.zero)))
		if _, err := dst.Write(w.zero[:k]); err != nil {
			return &writeError{err}
		}
		n -= k
	}
	return nil
}
