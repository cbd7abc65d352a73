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
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	// files, which backapp never writes; names the target cannot hold, when skipped).
	OnSkip func(name, reason string)
	// TempPrefix starts the names of the temporary files the extractor creates beside
	// the entries it restores (see NewTempPrefix); "" picks a fresh one. A caller that
	// records it before the restore can remove what a crash left (SweepTemp).
	TempPrefix string
	// TempDir holds the directories' metadata of a tree of very many directories
	// until Finish applies it; "": the system's.
	TempDir string
	// Unportable says what to do with names the target's file system cannot hold
	// (winnames.go); OnRename is called for each entry written under another name.
	Unportable UnportableNames
	OnRename   func(name, as string)
}

// TempPrefixBase starts every temporary name an extractor uses.
const TempPrefixBase = ".backapp-tmp-"

// NewTempPrefix returns a fresh prefix for ExtractOptions.TempPrefix: TempPrefixBase,
// 16 random hex digits and a dash.
func NewTempPrefix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return TempPrefixBase + hex.EncodeToString(b[:]) + "-"
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
// there) can make it write outside the target.
//
// Nothing that exists is removed before its replacement is complete and verified: a
// file, symlink or hard link is made under a temporary name (TempPrefix) beside its
// final one and renamed over what is there, so at every instant a path holds either
// what was there before or the verified new entry, whatever fails or when the process
// dies. Temporary names are removed when an entry fails; only a crash leaves them.
//
// Creating a file costs several system calls, and creating files is most of a restore's
// time. Small files are therefore read into memory by Extract, verified, and written by
// a few worker goroutines; on Linux, where nothing exists under the name, straight under
// their final name with O_EXCL and their metadata set through the descriptor
// (createSmall). Directories, links, large files and, when overwriting, every check on
// what already exists stay in archive order.
type Extractor struct {
	target  string
	root    *os.Root
	rootDir *os.File // the target opened as a directory, for createSmall
	rootOwn newOwner // for files created in rootDir
	umask   uint32   // the process's, when the extractor was made
	o       ExtractOptions
	dirs    dirList // for Finish
	buf     []byte
	// open holds roots of recently used directories (most recent last), each opened
	// from root by its full name, so that an entry costs one-component system calls
	// relative to its directory instead of a walk from the target down for every call.
	open    []*openDir
	tmpBase string // prefix of temporary names
	tmpN    atomic.Uint64

	jobs    chan fileJob // small files for the workers; nil outside Extract
	workers sync.WaitGroup
	busy    sync.WaitGroup // jobs queued or being written
	free    chan []byte    // buffers of up to tinyFile bytes, for small files
	freeBig chan []byte    // buffers of smallFile bytes

	names *hostNames // archive names → names the target can hold (winnames.go)

	mu      sync.Mutex
	pending map[string]bool // names being written by workers
	err     error           // first worker error
	// failed holds the entries Select chose that were not restored, with their error
	// (nil: not written because of another entry's error or a cancel).
	failed map[string]error
	// Files (every entry but directories: regular files, links), Dirs and Bytes count
	// what was restored (read them after Extract returns).
	Files, Dirs, Bytes int64
}

// writeback is startWriteback; tests count its calls through it.
var writeback = startWriteback

// smallFile is the largest file handed to the workers; larger ones are streamed by
// Extract itself. queued bounds the files waiting, so memory stays under
// (queued + workers) × smallFile. Files of up to tinyFile bytes, most of a tree of
// small files, are read into buffers of that size, kept for the next ones.
const (
	smallFile = 256 << 10
	tinyFile  = 16 << 10
	queued    = 32
)

func extractWorkers() int { return min(max(2*runtime.GOMAXPROCS(0), 2), 8) }

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
	rootDir, err := root.Open(".")
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("restore target: %w", err)
	}
	tmp := o.TempPrefix
	if tmp == "" {
		tmp = NewTempPrefix()
	}
	if !strings.HasPrefix(tmp, TempPrefixBase) || strings.ContainsAny(tmp, `/\`) {
		rootDir.Close()
		root.Close()
		return nil, fmt.Errorf("restore target: temporary prefix %q does not start with %s or holds a separator", tmp, TempPrefixBase)
	}
	return &Extractor{target: abs, root: root, rootDir: rootDir, umask: processUmask(), o: o, buf: make([]byte, 1<<20),
		dirs: dirList{dir: o.TempDir}, tmpBase: tmp, names: newHostNames(hostRules(), o.Unportable),
		pending: map[string]bool{}, free: make(chan []byte, queued+16), freeBig: make(chan []byte, 8)}, nil
}

// openDir is a cached directory root. users counts the workers' jobs that still use
// it, so that evicting it from the cache closes it only once they are done.
type openDir struct {
	name    string
	root    *os.Root
	dir     *os.File // the same directory, for createSmall
	owner   newOwner
	users   int // guarded by Extractor.mu
	evicted bool
}

// smallMeta is what createSmall sets on a file beside its content.
type smallMeta struct {
	mode     uint32 // chmod bits, as in a tar header
	uid, gid int
	mtime    time.Time
}

// newOwner is the owner that files created in one directory get: the process's ids,
// or the directory's group when it is set-group-ID (or always, on a grpid mount).
// Restoring as root, most archived files have that owner already, so createSmall
// learns it from the first file it creates there and skips chown for the others that
// match: one system call fewer per file.
type newOwner struct {
	v atomic.Uint64 // known | uid<<32 | gid; 0 until learned
}

const known = 1 << 63

// maxOpenDirs bounds the directory roots kept open. Archives come in depth-first
// order, so a handful covers the current path and its recent siblings.
const maxOpenDirs = 32

// dirRoot returns the cached root for the directory dir (cleaned, "" for the target),
// creating it and its parents (0755) when missing. The directory is opened from the
// target's root by its full name, so symlinks on the way resolve exactly as for a call
// on the target's root: never outside it.
func (x *Extractor) dirRoot(dir string) (*openDir, error) {
	for i := len(x.open) - 1; i >= 0; i-- {
		if d := x.open[i]; d.name == dir {
			copy(x.open[i:], x.open[i+1:]) // most recently used last
			x.open[len(x.open)-1] = d
			return d, nil
		}
	}
	// A file being written by a worker under this name (or an ancestor's) must be in
	// place first, so that resolving the directory sees it.
	for d := dir; ; d = path.Dir(d) {
		if x.isPending(d) {
			x.wait()
			break
		}
		if !strings.Contains(d, "/") {
			break
		}
	}
	r, err := x.openDirRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err = x.root.MkdirAll(dir, 0o755); err == nil {
			r, err = x.root.OpenRoot(dir)
		}
	}
	if err != nil {
		return nil, unsafeErr(err)
	}
	f, err := r.Open(".")
	if err != nil {
		r.Close()
		return nil, err
	}
	if len(x.open) == maxOpenDirs {
		x.release(x.open[0], true)
		x.open = append(x.open[:0], x.open[1:]...)
	}
	d := &openDir{name: dir, root: r, dir: f}
	x.open = append(x.open, d)
	return d, nil
}

// openDirRoot opens dir as a root: one system call from its parent's cached root when
// dir is a plain directory there, else resolved from the target's root by its full
// name. (From the parent, a symlink may only lead within the parent: what that refuses
// is tried again from the target's root, which decides.)
func (x *Extractor) openDirRoot(dir string) (*os.Root, error) {
	if i := strings.LastIndexByte(dir, '/'); i > 0 {
		if p, err := x.dirRoot(dir[:i]); err == nil {
			if r, err := p.root.OpenRoot(dir[i+1:]); err == nil {
				return r, nil
			}
		}
	}
	return x.root.OpenRoot(dir)
}

// release drops a use of d (evict: the cache's own) and closes it once unused.
func (x *Extractor) release(d *openDir, evict bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if evict {
		d.evicted = true
	} else {
		d.users--
	}
	if d.evicted && d.users == 0 {
		d.dir.Close()
		d.root.Close()
	}
}

// forget evicts the cached roots of name and of directories below it, once name is
// removed or replaced: later entries must resolve it again.
func (x *Extractor) forget(name string) {
	kept := x.open[:0]
	for _, d := range x.open {
		if d.name == name || strings.HasPrefix(d.name, name+"/") {
			x.release(d, true)
			continue
		}
		kept = append(kept, d)
	}
	clear(x.open[len(kept):])
	x.open = kept
}

// parent returns the root of name's directory and name's last component.
func (x *Extractor) parent(name string) (*os.Root, *openDir, string, error) {
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		return x.root, nil, base, nil
	}
	d, err := x.dirRoot(dir)
	if err != nil {
		return nil, nil, "", fmt.Errorf("restore %s: create parent: %w", name, err)
	}
	return d.root, d, base, nil
}

func (x *Extractor) isPending(name string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.pending[name]
}

// wait returns once every queued file is written.
func (x *Extractor) wait() { x.busy.Wait() }

func (x *Extractor) notRestored(name string, err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.notRestoredLocked(name, err)
}

func (x *Extractor) notRestoredLocked(name string, err error) {
	if x.failed == nil {
		x.failed = map[string]error{}
	}
	x.failed[name] = err
}

// NotRestored returns, after Extract returned an error, the entries it chose (Select)
// but did not restore, each with its own error or nil when it was left unwritten
// because another entry failed or the context was cancelled. Entries after those were
// not read at all.
func (x *Extractor) NotRestored() map[string]error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return maps.Clone(x.failed)
}

func (x *Extractor) workerErr() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.err
}

// SetSelect replaces ExtractOptions.Select (between archives of a chain).
func (x *Extractor) SetSelect(f func(name string, h *tar.Header) (Want, error)) { x.o.Select = f }

// Close releases the target directory. Call Finish first.
func (x *Extractor) Close() error {
	x.dirs.close()
	for _, d := range x.open {
		x.release(d, true)
	}
	x.open = nil
	x.rootDir.Close()
	return x.root.Close()
}

// CleanName validates an archive entry name and returns it cleaned (slash-separated,
// relative, no trailing slash); "" for the archive root ("./").
func CleanName(name string) (string, error) {
	n := strings.TrimPrefix(name, "./")
	// A backslash is no separator in an archive name: on Windows the restore escapes it
	// (winnames.go), so it is a name Windows cannot hold, not a path escape.
	if strings.ContainsRune(n, 0) {
		return "", fmt.Errorf("archive entry %q: %w", name, ErrUnsafePath)
	}
	// "C:x" or "\\srv\x" are names here, not volumes: on Windows their ':' and '\' are
	// escaped before any file is opened (winnames.go), and os.Root refuses escapes.
	if strings.HasPrefix(n, "/") {
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

// Extract restores the entries of the tar stream r. It stops at the first error, and
// returns once every file it started is written (or removed after an error).
func (x *Extractor) Extract(ctx context.Context, r io.Reader) (err error) {
	x.jobs = make(chan fileJob, queued)
	for range extractWorkers() {
		x.workers.Add(1)
		go x.worker(ctx)
	}
	defer func() {
		close(x.jobs)
		x.workers.Wait()
		x.jobs = nil
		if werr := x.workerErr(); werr != nil {
			err = werr // the first error, in archive order or nearly
		}
	}()
	return x.extract(ctx, r)
}

func (x *Extractor) extract(ctx context.Context, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := x.workerErr(); err != nil {
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
				x.notRestored(name, err)
				return err
			}
		}
		if !want.Extract {
			continue
		}
		if name, err = x.hostName(name, h); err != nil {
			return err
		} else if name == "" {
			continue
		}
		if err := x.entry(name, h, tr, want); err != nil {
			x.notRestored(name, err)
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
	if x.isPending(name) { // the same name twice: keep archive order
		x.wait()
	}
	pr, d, base, err := x.parent(name)
	if err != nil {
		return err
	}
	switch h.Typeflag {
	case tar.TypeDir:
		return x.dir(d, pr, name, base, h)
	case tar.TypeReg, tar.TypeGNUSparse, '7':
		if h.Size <= smallFile {
			return x.queueFile(d, pr, name, base, h, tr, want)
		}
		return x.file(pr, name, base, h, tr, want)
	case tar.TypeSymlink:
		return x.symlink(pr, name, base, h)
	case tar.TypeLink:
		x.wait() // its target may be a file being written
		return x.hardlink(pr, name, base, h)
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

// existing says what is in the way of restoring name (base in its directory's root pr).
type existing int

const (
	nothing existing = iota
	aDir             // a directory, kept for a directory entry
	replace          // a non-directory, to be replaced (Overwrite is on)
)

// check looks at what is under name: it fails when something exists and Overwrite is
// off, and when a directory is where a non-directory goes (keepDir off). It removes
// nothing: what is there is replaced by a rename once its successor is ready.
func (x *Extractor) check(pr *os.Root, name, base string, keepDir bool) (existing, error) {
	fi, err := pr.Lstat(base)
	if errors.Is(err, fs.ErrNotExist) {
		return nothing, nil
	}
	if err != nil {
		return nothing, fmt.Errorf("restore %s: %w", name, unsafeErr(err))
	}
	if fi.IsDir() && keepDir {
		return aDir, nil
	}
	if !x.o.Overwrite {
		return nothing, fmt.Errorf("restore %s: %w", name, ErrExists)
	}
	if fi.IsDir() {
		return nothing, fmt.Errorf("restore %s: a directory is in the way", name)
	}
	x.forget(name) // a symlink to a directory may have been cached as one
	return replace, nil
}

func (x *Extractor) dir(d *openDir, pr *os.Root, name, base string, h *tar.Header) error {
	ex, err := x.check(pr, name, base, true)
	if err != nil {
		return err
	}
	switch ex {
	case nothing:
		if err := pr.Mkdir(base, 0o700); err != nil {
			return fmt.Errorf("restore %s: %w", name, unsafeErr(err))
		}
	case replace:
		dir := x.rootDir
		if d != nil {
			dir = d.dir
		}
		if err := x.replaceWithDir(pr, dir, base); err != nil {
			return fmt.Errorf("restore %s: %w", name, unsafeErr(err))
		}
	}
	if err := x.dirs.add(dirMeta{name: name, mode: FileMode(h.Mode), mtime: h.ModTime, uid: h.Uid, gid: h.Gid}); err != nil {
		return fmt.Errorf("restore %s: %w", name, err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.Dirs++
	if x.o.OnFile != nil {
		x.o.OnFile(name, 0)
	}
	return nil
}

func (x *Extractor) done(name string, size int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.Files++
	x.Bytes += size
	if x.o.OnFile != nil {
		x.o.OnFile(name, size)
	}
}

// tmpName returns a fresh temporary name (one component): random per extractor, then
// a counter. O_EXCL still refuses anything already there.
func (x *Extractor) tmpName() string {
	return x.tmpBase + strconv.FormatUint(x.tmpN.Add(1), 10)
}

// replaceWithDir puts an empty directory in the place of the non-directory base of pr
// (dir, the same directory opened). Where the system can swap two names at once the old
// entry is swapped out for a new directory made under a temporary name, then removed;
// elsewhere it is renamed to a temporary name, the directory made and the old entry
// removed: for the instant between the two the path holds neither.
func (x *Extractor) replaceWithDir(pr *os.Root, dir *os.File, base string) error {
	tmp := x.tmpName()
	if err := pr.Mkdir(tmp, 0o700); err != nil {
		return err
	}
	if err := exchange(dir, tmp, base); err == nil {
		return pr.Remove(tmp) // the old entry, now under tmp
	}
	if err := pr.Remove(tmp); err != nil {
		return err
	}
	if err := pr.Rename(base, tmp); err != nil {
		return err
	}
	if err := pr.Mkdir(base, 0o700); err != nil {
		if rerr := pr.Rename(tmp, base); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	return pr.Remove(tmp)
}

func (x *Extractor) file(pr *os.Root, name, base string, h *tar.Header, tr io.Reader, want Want) error {
	if _, err := x.check(pr, name, base, false); err != nil {
		return err
	}
	return x.writeFile(pr, name, base, h, want, func(f *os.File, sum hash.Hash) (int64, bool, error) {
		return x.copySparse(f, tr, sum)
	})
}

// fileJob is a small file read into memory, for a worker to write.
type fileJob struct {
	dir        *openDir // nil: the target's root
	root       *os.Root
	name, base string
	h          *tar.Header
	want       Want
	data       []byte
	replace    bool // something is under the name: write a temporary file and rename it over
}

// queueFile reads a small file's content and hands it to a worker.
func (x *Extractor) queueFile(d *openDir, pr *os.Root, name, base string, h *tar.Header, tr io.Reader, want Want) error {
	ex := nothing
	if x.o.Overwrite || !smallFast { // else createSmall's O_EXCL does the check
		var err error
		if ex, err = x.check(pr, name, base, false); err != nil {
			return err
		}
	}
	pool, size := x.free, tinyFile
	if h.Size > tinyFile {
		pool, size = x.freeBig, smallFile
	}
	var buf []byte
	select {
	case buf = <-pool:
	default:
		buf = make([]byte, size)
	}
	n, err := io.ReadFull(tr, buf[:h.Size])
	if err != nil {
		x.putBuf(buf)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("restore %s: got %d of %d bytes: archive truncated", name, n, h.Size)
		}
		return fmt.Errorf("restore %s: read archive: %w", name, truncated(err))
	}
	x.mu.Lock()
	x.pending[name] = true
	if d != nil {
		d.users++
	}
	x.mu.Unlock()
	x.busy.Add(1)
	hc := *h
	x.jobs <- fileJob{dir: d, root: pr, name: name, base: base, h: &hc, want: want, data: buf[:n], replace: ex == replace}
	return nil
}

// putBuf keeps a small file's buffer for the next one, or drops it when enough are kept.
func (x *Extractor) putBuf(b []byte) {
	pool := x.free
	if cap(b) > tinyFile {
		pool = x.freeBig
	}
	select {
	case pool <- b[:0]:
	default:
	}
}

func (x *Extractor) worker(ctx context.Context) {
	defer x.workers.Done()
	for j := range x.jobs {
		// After another entry's error the files queued are still written: their
		// content is read and verified, and Extract returns once they are in place.
		err := ctx.Err()
		written := false
		if err == nil {
			if smallFast && !j.replace {
				err = x.writeSmall(j)
				if errors.Is(err, ErrExists) && x.o.Overwrite { // it appeared since check
					j.replace = true
				}
			}
			if !smallFast || j.replace {
				err = x.writeFile(j.root, j.name, j.base, j.h, j.want, func(f *os.File, sum hash.Hash) (int64, bool, error) {
					sum.Write(j.data)
					tail, err := writeBlocks(f.WriteAt, 0, j.data)
					return int64(len(j.data)), tail, err
				})
			}
			written = err == nil
		}
		x.putBuf(j.data)
		x.mu.Lock()
		delete(x.pending, j.name)
		if err != nil && x.err == nil {
			x.err = err
		}
		if x.err != nil && (err != nil || !written) {
			x.notRestoredLocked(j.name, err)
		}
		x.mu.Unlock()
		if j.dir != nil {
			x.release(j.dir, false)
		}
		x.busy.Done()
	}
}

// writeSmall checks a small file's content against its manifest hash, then writes it
// with createSmall: only where nothing exists under its name.
func (x *Extractor) writeSmall(j fileJob) error {
	if j.want.SHA256 != "" {
		sum := sha256.Sum256(j.data)
		if err := checkSum(j.name, sum[:], j.want.SHA256); err != nil {
			return err
		}
	}
	dir, owner := x.rootDir, &x.rootOwn
	if j.dir != nil {
		dir, owner = j.dir.dir, &j.dir.owner
	}
	if !x.o.Owners {
		owner = nil
	}
	m := smallMeta{mode: uint32(j.h.Mode & 0o7777), uid: j.h.Uid, gid: j.h.Gid, mtime: j.h.ModTime}
	err := createSmall(dir, j.base, j.data, m, owner, x.umask)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("restore %s: %w", j.name, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("restore %s: %w", j.name, err)
	}
	x.done(j.name, j.h.Size)
	return nil
}

// checkSum compares a file's content hash with the manifest's (hex).
func checkSum(name string, sum []byte, want string) error {
	if got := hex.EncodeToString(sum); got != want {
		return fmt.Errorf("restore %s: %w (sha256 %s, want %s)", name, ErrContent, got, want)
	}
	return nil
}

// writeFile writes a file under a temporary name in pr through content (which returns the
// bytes written and whether the last block was written), checks its hash, sets its
// metadata and renames it to base, over whatever is there. On any error the temporary
// file is removed and base is untouched.
func (x *Extractor) writeFile(pr *os.Root, name, base string, h *tar.Header, want Want, content func(*os.File, hash.Hash) (int64, bool, error)) error {
	tmp := x.tmpName()
	f, err := pr.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("restore %s: %w", name, unsafeErr(err))
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			_ = pr.Remove(tmp)
		}
	}()
	sum := sha256.New()
	n, tail, err := content(f, sum)
	if err != nil {
		return fmt.Errorf("restore %s: %w", name, err)
	}
	if n != h.Size {
		return fmt.Errorf("restore %s: got %d of %d bytes: archive truncated", name, n, h.Size)
	}
	if want.SHA256 != "" {
		if err := checkSum(name, sum.Sum(nil), want.SHA256); err != nil {
			return err
		}
	}
	if !tail { // extends over a trailing hole
		if err := f.Truncate(n); err != nil {
			return fmt.Errorf("restore %s: %w", name, err)
		}
	}
	if n > smallFile {
		writeback(f)
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
	if err := pr.Chtimes(tmp, h.ModTime, h.ModTime); err != nil {
		return fmt.Errorf("restore %s: set times: %w", name, err)
	}
	if err := pr.Rename(tmp, base); err != nil {
		return fmt.Errorf("restore %s: %w", name, unsafeErr(err))
	}
	ok = true
	x.done(name, n)
	return nil
}

// copySparse copies r to f, seeking over all-zero blocks so holes stay holes. tail
// reports whether the last block was written (no trailing hole to extend over).
func (x *Extractor) copySparse(f *os.File, r io.Reader, sum hash.Hash) (n int64, tail bool, err error) {
	var off int64
	tail = true
	for {
		n, err := io.ReadFull(r, x.buf)
		if n > 0 {
			sum.Write(x.buf[:n])
			t, werr := writeBlocks(f.WriteAt, off, x.buf[:n])
			if werr != nil {
				return off, false, werr
			}
			tail = t
			off += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return off, tail, nil
		}
		if err != nil {
			return off, false, fmt.Errorf("read archive: %w", truncated(err))
		}
	}
}

// writeBlocks writes b at off through writeAt, skipping all-zero 64 KiB blocks (one
// write per run of other blocks); it reports whether the last block was written. An
// empty b counts as written (nothing to extend).
func writeBlocks(writeAt func([]byte, int64) (int, error), off int64, b []byte) (bool, error) {
	const block = 64 << 10
	tail := true
	start := 0 // of the run of blocks to write
	for i := 0; i < len(b); i += block {
		blk := b[i:min(i+block, len(b))]
		tail = !allZero(blk)
		if !tail {
			if start < i {
				if _, err := writeAt(b[start:i], off+int64(start)); err != nil {
					return false, err
				}
			}
			start = i + len(blk)
		}
	}
	if start < len(b) {
		if _, err := writeAt(b[start:], off+int64(start)); err != nil {
			return false, err
		}
	}
	return tail, nil
}

var zeroBlock = make([]byte, 64<<10)

// allZero uses bytes.Equal (assembly) so that even race-instrumented builds scan fast.
func allZero(b []byte) bool { return bytes.Equal(b, zeroBlock[:len(b)]) }

// symlink makes a symlink under base, or, when something is there, under a temporary
// name renamed over it once its owner and times are set.
func (x *Extractor) symlink(pr *os.Root, name, base string, h *tar.Header) (err error) {
	ex, err := x.check(pr, name, base, false)
	if err != nil {
		return err
	}
	at := base
	if ex == replace {
		at = x.tmpName()
		defer func() {
			if err != nil {
				_ = pr.Remove(at)
			}
		}()
	}
	if err := pr.Symlink(h.Linkname, at); err != nil {
		return fmt.Errorf("restore %s: %w", name, unsafeErr(err))
	}
	if x.o.Owners {
		if err := pr.Lchown(at, h.Uid, h.Gid); err != nil {
			return fmt.Errorf("restore %s: chown: %w", name, err)
		}
	}
	if err := lchtimes(filepath.Join(x.target, filepath.FromSlash(path.Dir(name)), at), h.ModTime); err != nil {
		return fmt.Errorf("restore %s: set times: %w", name, err)
	}
	if at != base {
		if err := pr.Rename(at, base); err != nil {
			return fmt.Errorf("restore %s: %w", name, unsafeErr(err))
		}
	}
	x.done(name, 0)
	return nil
}

// hardlink links name to its target, or, when something is there, links a temporary
// name and renames it over.
func (x *Extractor) hardlink(pr *os.Root, name, base string, h *tar.Header) error {
	target, err := CleanName(h.Linkname)
	if err != nil || target == "" {
		return fmt.Errorf("restore %s: hard link to %q: %w", name, h.Linkname, ErrUnsafePath)
	}
	ex, err := x.check(pr, name, base, false)
	if err != nil {
		return err
	}
	if ex == nothing {
		if err := x.root.Link(target, name); err != nil {
			return fmt.Errorf("restore %s: hard link to %s: %w", name, target, unsafeErr(err))
		}
		x.done(name, 0)
		return nil
	}
	tmp := path.Join(path.Dir(name), x.tmpName())
	if err := x.root.Link(target, tmp); err != nil {
		return fmt.Errorf("restore %s: hard link to %s: %w", name, target, unsafeErr(err))
	}
	err = pr.Rename(path.Base(tmp), base)
	// Renaming a link over another link to the same file does nothing (POSIX): the
	// temporary name is then still there.
	if rerr := x.root.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("restore %s: %w", name, unsafeErr(err))
	}
	x.done(name, 0)
	return nil
}

// Finish applies directory modes, owners and times, deepest first, once every entry is
// restored (creating entries inside a directory changes its mtime).
func (x *Extractor) Finish() error {
	// Deepest first; siblings together, so that each parent is opened once.
	var errs []error
	var parent *os.Root
	parentName := ""
	defer func() {
		if parent != nil {
			parent.Close()
		}
	}()
	err := x.dirs.each(func(d dirMeta) {
		pr, base := x.root, d.name
		if i := strings.LastIndexByte(d.name, '/'); i > 0 {
			if parent == nil || parentName != d.name[:i] {
				if parent != nil {
					parent.Close()
					parent = nil
				}
				r, err := x.root.OpenRoot(d.name[:i])
				if err != nil {
					errs = append(errs, fmt.Errorf("restore %s: %w", d.name, unsafeErr(err)))
					return
				}
				parent, parentName = r, d.name[:i]
			}
			pr, base = parent, d.name[i+1:]
		}
		if x.o.Owners {
			if err := pr.Lchown(base, d.uid, d.gid); err != nil {
				errs = append(errs, fmt.Errorf("restore %s: chown: %w", d.name, err))
			}
		}
		if err := pr.Chmod(base, d.mode); err != nil {
			errs = append(errs, fmt.Errorf("restore %s: chmod: %w", d.name, err))
		}
		if err := pr.Chtimes(base, d.mtime, d.mtime); err != nil {
			errs = append(errs, fmt.Errorf("restore %s: set times: %w", d.name, err))
		}
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("restore: directories' modes and times: %w", err))
	}
	return errors.Join(errs...)
}
