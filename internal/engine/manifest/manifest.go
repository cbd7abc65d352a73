// Package manifest reads and writes the manifest stored beside every archive: one JSON
// line per entry (path, type, size, mode, times, owner, link target, content SHA-256 and
// the archive of the chain that holds the content), sorted by path, between a header and
// a trailer. Entries are sorted with ComparePaths so that a manifest can be merged with a
// sorted walk of the file system or with another manifest in bounded memory.
package manifest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Version is the format version of a full manifest (every entry of the tree), and
// VersionDelta that of a delta (Header.Delta: only what changed since the previous run
// of the chain). Readers of version 1 refuse deltas rather than misread them.
const (
	Version      = 1
	VersionDelta = 2
)

// Entry types.
const (
	TypeFile     = "file"
	TypeDir      = "dir"
	TypeSymlink  = "symlink"
	TypeHardlink = "hardlink" // Link names the earlier entry (same archive) with the content
	TypeDeleted  = "deleted"  // present in the previous manifest of the chain, gone now
)

// Entry is one path of the backed-up tree. Path is slash-separated, relative (the
// absolute source path without its leading slash), without a trailing slash.
type Entry struct {
	Path  string    `json:"path"`
	Type  string    `json:"type"`
	Size  int64     `json:"size,omitempty"`
	Mode  uint32    `json:"mode,omitempty"` // permission bits plus setuid/setgid/sticky as in tar (07777)
	MTime time.Time `json:"mtime,omitzero"`
	CTime time.Time `json:"ctime,omitzero"`
	Inode uint64    `json:"inode,omitempty"`
	UID   int       `json:"uid,omitempty"`
	GID   int       `json:"gid,omitempty"`
	Link  string    `json:"link,omitempty"`   // symlink target, or hard link's first path
	SHA   string    `json:"sha256,omitempty"` // hex SHA-256 of the content (files and hard links)
	// In is the index in Header.Chain of the archive that holds this entry's content
	// (its tar entry). An unchanged entry of an incremental points at an earlier archive.
	In int `json:"in"`
}

// Header is the first line of a manifest.
type Header struct {
	Version int       `json:"version"`
	Name    string    `json:"name"`  // this archive's name (object key or run id)
	Chain   []string  `json:"chain"` // names full → … → this one; Chain[len-1] == Name
	Created time.Time `json:"created"`
	Codec   string    `json:"codec"`
	Sources []string  `json:"sources"`
	// Delta: the entries are only those stored in this archive (new or changed) and
	// the deletions, against the previous run of the chain; unchanged entries are left
	// out. The tree at this run's time is Merge of the manifests Chain[Base] (a full
	// one) through this one.
	Delta bool `json:"delta,omitempty"`
	// Base is, for a delta, the index in Chain of the nearest earlier full manifest.
	Base int `json:"base,omitempty"`
}

// FullBase is the index in Chain of the full manifest the tree at this manifest's
// time starts from: Base for a delta, the manifest itself otherwise.
func (h Header) FullBase() int {
	if h.Delta {
		return h.Base
	}
	return len(h.Chain) - 1
}

// Incremental reports whether the archive depends on earlier archives.
func (h Header) Incremental() bool { return len(h.Chain) > 1 }

// Trailer is the last line of a manifest: totals and the stored archive's digest.
type Trailer struct {
	Entries       int64  `json:"entries"`       // entries in the tree (not deletions)
	Stored        int64  `json:"stored"`        // entries whose tar entry is in this archive
	Deleted       int64  `json:"deleted"`       // deletions recorded
	ContentBytes  int64  `json:"contentBytes"`  // file bytes stored in this archive
	ArchiveSize   int64  `json:"archiveSize"`   // bytes of the stored object
	ArchiveSHA256 string `json:"archiveSha256"` // hex SHA-256 of the stored object
	Issues        int64  `json:"issues"`        // files reported and skipped
}

type line struct {
	Manifest *Header  `json:"manifest,omitempty"`
	Trailer  *Trailer `json:"trailer,omitempty"`
	*Entry
	// JSON strings are UTF-8 and file names are bytes: encoding/json turns every
	// invalid byte into U+FFFD, which would make two such names one, or a name that
	// matches neither its file nor its tar entry. A path or link target that is not
	// valid UTF-8 therefore keeps that lossy form in "path" or "link" (for display) and
	// is stored exactly here, base64-encoded; readers take these when present.
	PathRaw []byte `json:"pathRaw,omitempty"`
	LinkRaw []byte `json:"linkRaw,omitempty"`
}

// Display is p as JSON shows it, and so as the catalog and the web pages do: each
// byte that is not part of valid UTF-8 becomes U+FFFD (encoding/json's rule).
func Display(p string) string {
	if utf8.ValidString(p) {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); {
		r, n := utf8.DecodeRuneInString(p[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(p[i : i+n])
		}
		i += n
	}
	return b.String()
}

// ComparePaths orders paths the way a depth-first walk with children sorted by name
// emits them: byte order with '/' below every other byte, so "a/z" < "a-b".
func ComparePaths(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca == '/' {
			return -1
		}
		if cb == '/' {
			return 1
		}
		if ca < cb {
			return -1
		}
		return 1
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

// Writer writes a manifest. Entries must come in ComparePaths order.
type Writer struct {
	w    *bufio.Writer
	enc  *json.Encoder
	buf  []byte // a line, for appendEntryLine
	last string
	n    int64
}

// NewWriter writes h as the first line to w. The caller closes w after Close.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	h.Version = Version
	if h.Delta {
		h.Version = VersionDelta
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	mw := &Writer{w: bw, enc: json.NewEncoder(bw)}
	mw.enc.SetEscapeHTML(false)
	if err := mw.enc.Encode(line{Manifest: &h}); err != nil {
		return nil, fmt.Errorf("write manifest header: %w", err)
	}
	return mw, nil
}

// ResumeWriter continues a manifest of which n entries, the last being last, were
// written to an earlier writer (flushed with Flush); it writes no header.
func ResumeWriter(w io.Writer, last string, n int64) *Writer {
	bw := bufio.NewWriterSize(w, 64<<10)
	mw := &Writer{w: bw, enc: json.NewEncoder(bw), last: last, n: n}
	mw.enc.SetEscapeHTML(false)
	return mw
}

// Position returns the last entry's path and the number of entries written, for
// ResumeWriter.
func (w *Writer) Position() (last string, n int64) { return w.last, w.n }

// Flush writes what is buffered to the underlying writer.
func (w *Writer) Flush() error {
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

// Add appends e; it fails when e is out of order.
func (w *Writer) Add(e Entry) error {
	if w.n > 0 && ComparePaths(w.last, e.Path) >= 0 {
		return fmt.Errorf("manifest entry %q after %q: out of order", e.Path, w.last)
	}
	w.last = e.Path
	w.n++
	l := line{Entry: &e}
	if !utf8.ValidString(e.Path) {
		l.PathRaw = []byte(e.Path)
	}
	if !utf8.ValidString(e.Link) {
		l.LinkRaw = []byte(e.Link)
	}
	var ok bool
	if w.buf, ok = appendEntryLine(w.buf[:0], &l); ok {
		_, err := w.w.Write(w.buf)
		if err != nil {
			return fmt.Errorf("write manifest entry %q: %w", e.Path, err)
		}
		return nil
	}
	if err := w.enc.Encode(l); err != nil {
		return fmt.Errorf("write manifest entry %q: %w", e.Path, err)
	}
	return nil
}

// Close writes the trailer and flushes.
func (w *Writer) Close(t Trailer) error {
	if err := w.enc.Encode(line{Trailer: &t}); err != nil {
		return fmt.Errorf("write manifest trailer: %w", err)
	}
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

// ErrNoTrailer is returned by Reader.Next when the manifest ends without its trailer,
// that is when it was truncated.
var ErrNoTrailer = errors.New("manifest truncated: no trailer")

// Reader reads a manifest written by Writer.
type Reader struct {
	Header  Header
	Trailer *Trailer // set once Next has returned io.EOF

	s    *bufio.Scanner
	last string
	n    int64
	m    *merger // set for a Merge
}

// NewReader reads the header from r (already decrypted and decompressed).
func NewReader(r io.Reader) (*Reader, error) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 16<<20)
	mr := &Reader{s: s}
	if !s.Scan() {
		if err := s.Err(); err != nil {
			return nil, fmt.Errorf("read manifest header: %w", err)
		}
		return nil, fmt.Errorf("read manifest header: %w", io.ErrUnexpectedEOF)
	}
	var l line
	if err := json.Unmarshal(s.Bytes(), &l); err != nil || l.Manifest == nil {
		return nil, fmt.Errorf("read manifest header: not a backapp manifest")
	}
	if l.Manifest.Version != Version && l.Manifest.Version != VersionDelta {
		return nil, fmt.Errorf("read manifest header: unsupported version %d", l.Manifest.Version)
	}
	if (l.Manifest.Version == VersionDelta) != l.Manifest.Delta {
		return nil, fmt.Errorf("read manifest header: version %d with delta %v", l.Manifest.Version, l.Manifest.Delta)
	}
	if len(l.Manifest.Chain) == 0 || l.Manifest.Chain[len(l.Manifest.Chain)-1] != l.Manifest.Name {
		return nil, fmt.Errorf("read manifest header: chain does not end with %q", l.Manifest.Name)
	}
	if l.Manifest.Delta && (l.Manifest.Base < 0 || l.Manifest.Base >= len(l.Manifest.Chain)-1) {
		return nil, fmt.Errorf("read manifest header: delta on archive %d of a chain of %d", l.Manifest.Base, len(l.Manifest.Chain))
	}
	mr.Header = *l.Manifest
	return mr, nil
}

// Next returns the next entry (deletions included), or io.EOF after the trailer.
func (r *Reader) Next() (Entry, error) {
	if r.m != nil {
		return r.m.next(r)
	}
	if r.Trailer != nil {
		return Entry{}, io.EOF
	}
	if !r.s.Scan() {
		if err := r.s.Err(); err != nil {
			return Entry{}, fmt.Errorf("read manifest: %w", err)
		}
		return Entry{}, ErrNoTrailer
	}
	var l line
	var e Entry
	if !decodeEntryLine(r.s.Bytes(), &l, &e) {
		l = line{}
		if err := json.Unmarshal(r.s.Bytes(), &l); err != nil {
			return Entry{}, fmt.Errorf("read manifest entry after %q: %w", r.last, err)
		}
	}
	if l.Trailer != nil {
		r.Trailer = l.Trailer
		return Entry{}, io.EOF
	}
	if l.Entry == nil || l.Path == "" {
		return Entry{}, fmt.Errorf("read manifest entry after %q: no path", r.last)
	}
	if l.PathRaw != nil {
		l.Path = string(l.PathRaw)
	}
	if l.LinkRaw != nil {
		l.Link = string(l.LinkRaw)
	}
	if r.n > 0 && ComparePaths(r.last, l.Path) >= 0 {
		return Entry{}, fmt.Errorf("read manifest: entry %q after %q: out of order", l.Path, r.last)
	}
	if l.In < 0 || l.In >= len(r.Header.Chain) {
		return Entry{}, fmt.Errorf("read manifest: entry %q: archive index %d outside the chain", l.Path, l.In)
	}
	r.last = l.Path
	r.n++
	return *l.Entry, nil
}
