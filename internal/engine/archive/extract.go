package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ErrUnsafePath is returned (wrapped) for an archive entry whose name or link target
// would place a file outside the target directory.
var ErrUnsafePath = errors.New("unsafe path: outside the target directory")

// ErrExists is returned (wrapped) when a file to restore already exists and Overwrite
// is off.
var ErrExists = errors.New("already exists (set overwrite to replace it)")

// ErrContent is returned (wrapped) when restored content does not match its manifest hash.
var ErrContent = errors.New("content does not match the manifest")

// Want is a Select decision.
type Want struct {
	Extract bool
	SHA256  string // expected content hash (hex) for files; "" skips the check
}

// ExtractOptions configure an Extractor.
type ExtractOptions struct {
	Overwrite bool // replace existing files
	Owners    bool // restore uid/gid (needs root)
	// Select decides per entry (cleaned name, header) whether to extract it; nil
	// extracts everything. An error stops the extraction.
	Select func(name string, h *tar.Header) (Want, error)
	// OnFile is called after each entry is restored, with its content size.
	OnFile func(name string, size int64)
	// OnSkip is called for entries not restored for a reason other than Select (device
	// files, which backapp never writes).
	OnSkip func(name, reason string)
}

type dirMeta struct {
	name  string
	mode  fs.FileMode
	mtime time.Time
	uid   int
	gid   int
}

// Extractor restores tar streams under one directory. Every file operation goes through
// an os.Root, so neither `..`, nor absolute names, nor symlinks (archived or already
// there) can make it write outside the target. Files are written under a temporary
// name and renamed into place only once complete and verified.
type Extractor struct {
	target string
	root   *os.Root
	o      ExtractOptions
	dirs   []dirMeta
	buf    []byte
	// Files and Bytes count what was restored.
	Files, Bytes int64
}

// NewExtractor creates target if needed and opens it as the root of the restore.
func NewExtractor(target string, o ExtractOptions) (*Extractor, error) {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return nil, fmt.Errorf("restore target: %w", err)
	}
	abs, err := filepath.Abs(target)
	if err != nil {
		return nil, fmt.Errorf("restore target: %w", err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("restore target: %w", err)
	}
	return &Extractor{target: abs, root: root, o: o, buf: make([]byte, 1<<20)}, nil
}

// SetSelect replaces ExtractOptions.Select (between archives of a chain).
func (x *Extractor) SetSelect(f func(name string, h *tar.Header) (Want, error)) { x.o.Select = f }

// Close releases the target directory. Call Finish first.
func (x *Extractor) Close() error { return x.root.Close() }

// CleanName validates an archive entry name and returns it cleaned (slash-separated,
// relative, no trailing slash); "" for the archive root ("./").
func CleanName(name string) (string, error) {
	n := strings.TrimPrefix(name, "./")
	if strings.ContainsRune(n, 0) || strings.Contains(n, `\`) && filepath.Separator == '\\' {
		return "", fmt.Errorf("archive entry %q: %w", name, ErrUnsafePath)
	}
	if strings.HasPrefix(n, "/") || filepath.IsAbs(n) || filepath.VolumeName(n) != "" {
		return "", fmt.Errorf("archive entry %q: absolute name: %w", name, ErrUnsafePath)
	}
	for _, c := range strings.Split(n, "/") {
		if c == ".." {
			return "", fmt.Errorf("archive entry %q: %w", name, ErrUnsafePath)
		}
	}
	c := path.Clean(n)
	if c == "." {
		return "", nil
	}
	return c, nil
}

// Extract restores the entries of the tar stream r. It stops at the first error.
func (x *Extractor) Extract(ctx context.Context, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", truncated(err))
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, err := CleanName(h.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		want := Want{Extract: true}
		if x.o.Select != nil {
			if want, err = x.o.Select(name, h); err != nil {
				return err
			}
		}
		if !want.Extract {
			continue
		}
		if err := x.entry(name, h, tr, want); err != nil {
			return err
		}
	}
}

func truncated(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("archive truncated: %w", err)
	}
	return err
}

func (x *Extractor) entry(name string, h *tar.Header, tr io.Reader, want Want) error {
	if dir := path.Dir(name); dir != "." {
		if err := x.root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("restore %s: create parent: %w", name, unsafeErr(err))
		}
	}
	switch h.Typeflag {
	case tar.TypeDir:
		return x.dir(name, h)
	case tar.TypeReg, tar.TypeGNUSparse, '7':
		return x.file(name, h, tr, want)
	case tar.TypeSymlink:
		return x.symlink(name, h)
	case tar.TypeLink:
		return x.hardlink(name, h)
	default:
		if x.o.OnSkip != nil {
			x.o.OnSkip(name, fmt.Sprintf("entry type %q not restored", h.Typeflag))
		}
		return nil
	}
}

// unsafeErr marks errors of os.Root that mean "a path escapes the root".
func unsafeErr(err error) error {
	if err != nil && strings.Contains(err.Error(), "path escapes from parent") {
		return fmt.Errorf("%w: %w", ErrUnsafePath, err)
	}
	return err
}

// clear makes room for name: it fails when something exists and Overwrite is off, and
// removes a non-directory otherwise. It reports whether name is an existing directory.
func (x *Extractor) clear(name string, keepDir bool) (bool, error) {
	fi, err := x.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("restore %s: %w", name, unsafeErr(err))
	}
	if fi.IsDir() && keepDir {
		return true, nil
	}
	if !x.o.Overwrite {
		return false, fmt.Errorf("restore %s: %w", name, ErrExists)
	}
	if fi.IsDir() {
		return false, fmt.Errorf("restore %s: a directory is in the way", name)
	}
	if err := x.root.Remove(name); err != nil {
		return false, fmt.Errorf("restore %s: %w", name, err)
	}
	return false, nil
}

func (x *Extractor) dir(name string, h *tar.Header) error {
	exists, err := x.clear(name, true)
	if err != nil {
		return err
	}
	if !exists {
		if err := x.root.Mkdir(name, 0o700); err != nil {
			return fmt.Errorf("restore %s: %w", name, unsafeErr(err))
		}
	}
	x.dirs = append(x.dirs, dirMeta{name: name, mode: FileMode(h.Mode), mtime: h.ModTime, uid: h.Uid, gid: h.Gid})
	x.done(name, 0)
	return nil
}

func (x *Extractor) done(name string, size int64) {
	x.Files++
	x.Bytes += size
	if x.o.OnFile != nil {
		x.o.OnFile(name, size)
	}
}

func tmpName(name string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return path.Join(path.Dir(name), ".backapp-tmp-"+hex.EncodeToString(b[:]))
}

func (x *Extractor) file(name string, h *tar.Header, tr io.Reader, want Want) error {
	if _, err := x.clear(name, false); err != nil {
		return err
	}
	tmp := tmpName(name)
	f, err := x.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("restore %s: %w", name, unsafeErr(err))
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			_ = x.root.Remove(tmp)
		}
	}()
	sum := sha256.New()
	n, err := x.copySparse(f, tr, sum)
	if err != nil {
		return fmt.Errorf("restore %s: %w", name, err)
	}
	if n != h.Size {
		return fmt.Errorf("restore %s: got %d of %d bytes: archive truncated", name, n, h.Size)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); want.SHA256 != "" && got != want.SHA256 {
		return fmt.Errorf("restore %s: %w (sha256 %s, want %s)", name, ErrContent, got, want.SHA256)
	}
	if err := f.Truncate(n); err != nil { // extends over a trailing hole
		return fmt.Errorf("restore %s: %w", name, err)
	}
	if x.o.Owners {
		if err := f.Chown(h.Uid, h.Gid); err != nil {
			return fmt.Errorf("restore %s: chown: %w", name, err)
		}
	}
	if err := f.Chmod(FileMode(h.Mode)); err != nil {
		return fmt.Errorf("restore %s: chmod: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("restore %s: %w", name, err)
	}
	if err := x.root.Chtimes(tmp, h.ModTime, h.ModTime); err != nil {
		return fmt.Errorf("restore %s: set times: %w", name, err)
	}
	if err := x.root.Rename(tmp, name); err != nil {
		return fmt.Errorf("restore %s: %w", name, unsafeErr(err))
	}
	ok = true
	x.done(name, n)
	return nil
}

// copySparse copies r to f, seeking over all-zero blocks so holes stay holes.
func (x *Extractor) copySparse(f *os.File, r io.Reader, sum hash.Hash) (int64, error) {
	const block = 64 << 10
	var off int64
	for {
		n, err := io.ReadFull(r, x.buf)
		if n > 0 {
			sum.Write(x.buf[:n])
			for i := 0; i < n; i += block {
				b := x.buf[i:min(i+block, n)]
				if !allZero(b) {
					if _, werr := f.WriteAt(b, off+int64(i)); werr != nil {
						return off, werr
					}
				}
			}
			off += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return off, nil
		}
		if err != nil {
			return off, fmt.Errorf("read archive: %w", truncated(err))
		}
	}
}

var zeroBlock = make([]byte, 64<<10)

// allZero uses bytes.Equal (assembly) so that even race-instrumented builds scan fast.
func allZero(b []byte) bool { return bytes.Equal(b, zeroBlock[:len(b)]) }

func (x *Extractor) symlink(name string, h *tar.Header) error {
	if _, err := x.clear(name, false); err != nil {
		return err
	}
	if err := x.root.Symlink(h.Linkname, name); err != nil {
		return fmt.Errorf("restore %s: %w", name, unsafeErr(err))
	}
	if x.o.Owners {
		if err := x.root.Lchown(name, h.Uid, h.Gid); err != nil {
			return fmt.Errorf("restore %s: chown: %w", name, err)
		}
	}
	if err := lchtimes(filepath.Join(x.target, filepath.FromSlash(name)), h.ModTime); err != nil {
		return fmt.Errorf("restore %s: set times: %w", name, err)
	}
	x.done(name, 0)
	return nil
}

func (x *Extractor) hardlink(name string, h *tar.Header) error {
	target, err := CleanName(h.Linkname)
	if err != nil || target == "" {
		return fmt.Errorf("restore %s: hard link to %q: %w", name, h.Linkname, ErrUnsafePath)
	}
	if _, err := x.clear(name, false); err != nil {
		return err
	}
	if err := x.root.Link(target, name); err != nil {
		return fmt.Errorf("restore %s: hard link to %s: %w", name, target, unsafeErr(err))
	}
	x.done(name, 0)
	return nil
}

// Finish applies directory modes, owners and times, deepest first, once every entry is
// restored (creating entries inside a directory changes its mtime).
func (x *Extractor) Finish() error {
	slices.SortStableFunc(x.dirs, func(a, b dirMeta) int { return strings.Count(b.name, "/") - strings.Count(a.name, "/") })
	var errs []error
	for _, d := range x.dirs {
		if x.o.Owners {
			if err := x.root.Lchown(d.name, d.uid, d.gid); err != nil {
				errs = append(errs, fmt.Errorf("restore %s: chown: %w", d.name, err))
			}
		}
		if err := x.root.Chmod(d.name, d.mode); err != nil {
			errs = append(errs, fmt.Errorf("restore %s: chmod: %w", d.name, err))
		}
		if err := x.root.Chtimes(d.name, d.mtime, d.mtime); err != nil {
			errs = append(errs, fmt.Errorf("restore %s: set times: %w", d.name, err))
		}
	}
	x.dirs = nil
	return errors.Join(errs...)
}
