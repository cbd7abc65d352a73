package engine

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"filippo.io/age"
	"github.com/bmatcuk/doublestar/v4"

	"github.com/backapp/backapp/internal/engine/archive"
	"github.com/backapp/backapp/internal/engine/manifest"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/engine/upload"
)

// ArchiveRef locates one stored archive and its manifest.
type ArchiveRef struct {
	Name     string         // as in manifest chains; checked when set
	Archive  upload.URLFunc // GET URLs of the archive
	Manifest upload.URLFunc // GET URLs of its manifest; nil restores the whole archive without one
	SHA256   string         // expected SHA-256 (hex) of the stored archive; "" uses the manifest's
	Size     int64          // expected size; 0 or negative: unknown
	// ManifestSHA256 is the expected SHA-256 (hex) of the stored manifest, if known.
	ManifestSHA256 string
}

// RestoreOptions describe a restore.
type RestoreOptions struct {
	Target string // directory to restore into; created if missing
	// Chain lists the archives full → incrementals up to the point in time to restore
	// (the last one). A single full archive is a chain of one.
	Chain []ArchiveRef
	// Identities open encrypted archives and manifests (see seal.ParseIdentities and
	// seal.PassphraseIdentity). Each object is unwrapped by them once per restore.
	Identities []age.Identity
	// Include restricts the restore to paths (a directory includes what is below it)
	// or doublestar globs, matched against archive names (absolute paths without the
	// leading slash; a leading slash in a pattern is ignored). Empty: everything.
	Include   []string
	Overwrite bool // replace existing files instead of failing
	// SkipOwners leaves files owned by the restoring user even when running as root;
	// otherwise ownership is restored when the process runs as root.
	SkipOwners bool
	// TempPrefix starts the temporary names made beside restored entries (see
	// archive.ExtractOptions.TempPrefix); "" picks a fresh one.
	TempPrefix string
	// TempDir holds a large manifest, and the metadata of very many directories, while
	// the restore runs; "": the system's.
	TempDir string
	// Unportable says what to do with names the target's file system cannot hold
	// (on Windows CON, a:b, q?, …; names differing only in case): restore them under
	// escaped names (the default) or skip them. Either way they are listed in the
	// result, and the rest is restored.
	Unportable archive.UnportableNames

	Download upload.Options
	// Progress is called after each archive and about every ProgressEvery (0: half a
	// second) while one is extracted, possibly from several goroutines (never at once).
	Progress      func(RestoreProgress)
	ProgressEvery time.Duration
	Log           *slog.Logger
}

// RestoreProgress counts a restore's work.
type RestoreProgress struct {
	Archive         int // index in the chain being read
	BytesDownloaded int64
	Files           int64
	Bytes           int64
}

// RestoreResult describes a restore. Files and Bytes count what is in place under the
// target, also when the restore fails.
type RestoreResult struct {
	Files, Bytes int64
	Header       manifest.Header // of the last manifest (zero without manifests)
	// Renamed lists entries written under another name (Path → RestoredAs, relative
	// to the target), Skipped those left out (Path, Reason): the first maxNotes of
	// each; RenamedCount and SkippedCount count them all.
	Renamed, Skipped           []NameNote
	RenamedCount, SkippedCount int
}

// NameNote is an archive entry restored under another name, or skipped, and why.
type NameNote struct {
	Path       string // archive name
	RestoredAs string // written name, relative to the target ("" when skipped)
	Reason     string
}

// maxNotes bounds the renamed and skipped entries a result lists.
const maxNotes = 1000

// ErrChainMismatch is returned (wrapped) when the archives given do not form the chain
// that the last manifest names.
var ErrChainMismatch = errors.New("archives do not match the manifest's chain")

// OpenManifest downloads, decrypts and decompresses a manifest object. The caller
// closes the returned closer when done reading.
func OpenManifest(ctx context.Context, name string, src upload.URLFunc, wantSHA string, ids []age.Identity, o upload.Options) (*manifest.Reader, io.Closer, error) {
	dl := upload.NewDownload(ctx, name+" manifest", src, wantSHA, -1, o)
	plain, _, err := seal.NewReader(dl, ids)
	if err != nil {
		dl.Close()
		return nil, nil, fmt.Errorf("open manifest of %s: %w", name, err)
	}
	r, err := manifest.NewReader(plain)
	if err != nil {
		plain.Close()
		dl.Close()
		return nil, nil, fmt.Errorf("open manifest of %s: %w", name, err)
	}
	return r, closers{plain, dl}, nil
}

type closers []io.Closer

func (c closers) Close() error {
	for _, x := range c {
		x.Close()
	}
	return nil
}

type includer []string

func newIncluder(pats []string) (includer, error) {
	var inc includer
	for _, p := range pats {
		p = strings.Trim(strings.TrimSpace(p), "/")
		if p == "" {
			continue
		}
		if !doublestar.ValidatePattern(p) {
			return nil, fmt.Errorf("bad pattern %q", p)
		}
		inc = append(inc, p)
	}
	return inc, nil
}

// match reports whether name is wanted. A name that is not valid UTF-8 also matches
// patterns written against its display form (manifest.Display), which is what the
// pages show and send.
func (inc includer) match(name string) bool {
	if len(inc) == 0 {
		return true
	}
	if d := manifest.Display(name); d != name && inc.match(d) {
		return true
	}
	for _, p := range inc {
		if ok, _ := doublestar.Match(p, name); ok {
			return true
		}
		if ok, _ := doublestar.Match(p+"/**", name); ok {
			return true
		}
	}
	return false
}

// Restore restores the tree of the last archive of o.Chain into o.Target. With
// manifests it first downloads the last manifest whole and checks it against its
// recorded SHA-256, before anything is written; then it reads only the archives that
// hold wanted entries, and from each only those entries whose last version it holds,
// so deleted and superseded files are never written. Every entry is checked against
// that manifest (type, size, link, content hash) before it reaches its name, and every
// archive against its SHA-256 once read to the end. Existing entries are replaced by
// a rename, never removed first (see archive.Extractor). On failure the result counts
// what is in place and the error names what was not restored. Each encrypted object's
// file key is unwrapped once however often it is read (seal.RememberKeys): one scrypt
// run per object for a passphrase.
func Restore(ctx context.Context, o RestoreOptions) (res RestoreResult, err error) {
	if len(o.Chain) == 0 {
		return res, errors.New("restore: no archives")
	}
	if o.Target == "" {
		return res, errors.New("restore: no target directory")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	inc, err := newIncluder(o.Include)
	if err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	// The manifests are read several times (to check the chain, then once per
	// archive), each reading a new age header to unwrap: for a passphrase an scrypt
	// run of a second or so. Each object's file key is found once.
	var forget func()
	o.Identities, forget = seal.RememberKeys(o.Identities)
	defer forget()
	last := o.Chain[len(o.Chain)-1]
	var lm *treeManifest
	if last.Manifest != nil {
		if lm, err = fetchTree(ctx, o); err != nil {
			if errors.Is(err, ErrChainMismatch) {
				return res, err
			}
			return res, fmt.Errorf("restore: nothing restored: %w", err)
		}
		defer lm.Close()
	}
	// Progress: after each archive, and while one is extracted at most every
	// ProgressEvery (from the extractor's per-entry callback, which runs with the
	// extractor's counters locked, on whichever goroutine wrote the entry).
	var (
		x            *archive.Extractor
		archiveIndex atomic.Int64
		downloaded   atomic.Int64
		lastReport   atomic.Int64
	)
	progress := func(files, bytes int64) {
		o.Progress(RestoreProgress{Archive: int(archiveIndex.Load()), BytesDownloaded: downloaded.Load(), Files: files, Bytes: bytes})
	}
	var onFile func(string, int64)
	progressEvery := o.ProgressEvery
	if progressEvery <= 0 {
		progressEvery = 500 * time.Millisecond
	}
	if o.Progress != nil {
		onFile = func(string, int64) {
			now := time.Now().UnixNano()
			if last := lastReport.Load(); now-last >= int64(progressEvery) && lastReport.CompareAndSwap(last, now) {
				progress(x.Files, x.Bytes)
			}
		}
	}
	var notes RestoreResult // Renamed and Skipped, filled by the extractor's callbacks
	x, err = archive.NewExtractor(o.Target, archive.ExtractOptions{
		Overwrite: o.Overwrite,
		Owners:    !o.SkipOwners && os.Geteuid() == 0,
		OnSkip: func(name, why string) {
			o.Log.Warn("restore: entry skipped", "path", name, "why", why)
			if notes.SkippedCount++; len(notes.Skipped) < maxNotes {
				notes.Skipped = append(notes.Skipped, NameNote{Path: name, Reason: why})
			}
		},
		Unportable: o.Unportable,
		OnRename: func(name, as string) {
			o.Log.Warn("restore: entry renamed: the target's file system cannot hold its name", "path", name, "as", as)
			if notes.RenamedCount++; len(notes.Renamed) < maxNotes {
				notes.Renamed = append(notes.Renamed, NameNote{Path: name, RestoredAs: as})
			}
		},
		OnFile:     onFile,
		TempPrefix: o.TempPrefix,
		TempDir:    o.TempDir,
	})
	if err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	defer x.Close()
	// What was restored when it fails: every wanted entry of the archives before
	// failedIn, and of archive failedIn those up to lastChosen that the extractor did
	// not report as failed.
	failedIn := -1
	lastChosen := ""
	var linkTargets map[string]bool
	defer func() {
		res.Files, res.Bytes = x.Files, x.Bytes
		res.Renamed, res.Skipped, res.RenamedCount, res.SkippedCount = notes.Renamed, notes.Skipped, notes.RenamedCount, notes.SkippedCount
		if err != nil && lm != nil && failedIn >= 0 {
			err = fmt.Errorf("%w; %s", err, notRestored(lm, o, inc, linkTargets, failedIn, lastChosen, x))
		} else if err != nil && failedIn >= 0 {
			err = fmt.Errorf("%w; restored %d files", err, x.Files)
		}
	}()
	report := func() {
		if o.Progress != nil {
			progress(x.Files, x.Bytes)
		}
	}
	dlo := o.Download.DownloadForMemory(memoryLimit())
	dlo.OnProgress = func(n int64) { downloaded.Add(n) }
	finish := func() error { // once every archive is extracted
		if err := x.Finish(); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if err := syncFS(o.Target); err != nil {
			return fmt.Errorf("restore: write the restored files to disk: %w", err)
		}
		report()
		return nil
	}

	if last.Manifest == nil {
		if len(o.Chain) > 1 {
			return res, errors.New("restore: a chain of archives needs their manifests")
		}
		x.SetSelect(func(name string, h *tar.Header) (archive.Want, error) {
			return archive.Want{Extract: inc.match(name)}, nil
		})
		failedIn = 0
		if err := restoreArchive(ctx, x, last, last.SHA256, o.Identities, dlo); err != nil {
			return res, fmt.Errorf("restore: %w", err)
		}
		failedIn = 1
		if err := finish(); err != nil {
			return res, err
		}
		return res, nil
	}

	// Pass 1 reads the whole manifest: to count what each archive of a chain must give
	// (archives with nothing to give are skipped), to find the hard link targets a
	// subset needs, and for the archive's digest when the caller has none. A whole
	// single archive of known digest needs none of it: pass 2 checks the chain and
	// counts as it goes, and the manifest is read once instead of twice.
	var h manifest.Header
	need := make([]int64, len(o.Chain))
	linkTargets = map[string]bool{}
	lastSHA := ""
	pass1 := len(o.Chain) > 1 || len(inc) > 0 || last.SHA256 == ""
	if pass1 {
		mr, mc, err := lm.open(last.Name, o.Identities)
		if err != nil {
			return res, fmt.Errorf("restore: %w", err)
		}
		h = mr.Header
		res.Header = h
		if err := checkChain(h, o.Chain); err != nil {
			mc.Close()
			return res, err
		}
		for {
			e, err := mr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				mc.Close()
				return res, fmt.Errorf("restore: manifest of %s: %w", h.Name, err)
			}
			if e.Type == manifest.TypeDeleted || !inc.match(e.Path) {
				continue
			}
			need[e.In]++
			if e.Type == manifest.TypeHardlink && len(inc) > 0 {
				linkTargets[e.Link] = true
			}
		}
		lastSHA = mr.Trailer.ArchiveSHA256
		mc.Close()
		if len(linkTargets) > 0 { // hard link targets outside the subset are restored too
			need = make([]int64, len(h.Chain))
			if err := forEach(lm, last.Name, o.Identities, func(e manifest.Entry) {
				if e.Type != manifest.TypeDeleted && (inc.match(e.Path) || linkTargets[e.Path]) {
					need[e.In]++
				}
			}); err != nil {
				return res, err
			}
		}
	}

	// Pass 2: each archive in order, merged with the last manifest.
	for k, ref := range o.Chain {
		if pass1 && need[k] == 0 {
			continue
		}
		archiveIndex.Store(int64(k))
		mr, mc, err := lm.open(last.Name, o.Identities)
		if err != nil {
			return res, fmt.Errorf("restore: %w", err)
		}
		if !pass1 {
			h = mr.Header
			res.Header = h
			if err := checkChain(h, o.Chain); err != nil {
				mc.Close()
				return res, err
			}
		}
		failedIn, lastChosen = k, ""
		entries := readAhead(mr)
		var cur manifest.Entry
		curOK := false
		var got, listed int64 // entries extracted; entries the manifest lists for archive k
		wanted := func(e manifest.Entry) bool {
			return e.In == k && e.Type != manifest.TypeDeleted && (inc.match(e.Path) || linkTargets[e.Path])
		}
		x.SetSelect(func(name string, th *tar.Header) (archive.Want, error) {
			for !curOK || manifest.ComparePaths(cur.Path, name) < 0 {
				e, err := entries.Next()
				if err == io.EOF {
					return archive.Want{}, nil
				}
				if err != nil {
					return archive.Want{}, fmt.Errorf("manifest of %s: %w", h.Name, err)
				}
				cur, curOK = e, true
				if wanted(e) {
					listed++
				}
			}
			if cur.Path != name || !wanted(cur) {
				return archive.Want{}, nil
			}
			if err := matches(cur, th); err != nil {
				return archive.Want{}, err
			}
			got++
			lastChosen = name
			return archive.Want{Extract: true, SHA256: cur.SHA}, nil
		})
		want := ref.SHA256
		if want == "" && k == len(o.Chain)-1 {
			want = lastSHA
		}
		err = restoreArchive(ctx, x, ref, want, o.Identities, dlo)
		for err == nil { // what the manifest lists after the archive's last entry
			e, nerr := entries.Next()
			if nerr == io.EOF {
				break
			}
			if nerr != nil {
				err = fmt.Errorf("manifest of %s: %w", h.Name, nerr)
				break
			}
			if wanted(e) {
				listed++
			}
		}
		entries.Close()
		mc.Close()
		if err != nil {
			return res, fmt.Errorf("restore: %w", err)
		}
		if got != listed {
			return res, fmt.Errorf("restore: archive %s holds %d of the %d entries its manifest lists: archive corrupted or wrong", h.Chain[k], got, listed)
		}
		report()
	}
	failedIn = len(o.Chain)
	if err := finish(); err != nil {
		return res, err
	}
	return res, nil
}

// matches checks an archive entry's header against its (verified) manifest entry,
// before the extractor writes it: the archive is trusted for nothing the manifest
// says otherwise. Content is checked by the extractor against e.SHA.
func matches(e manifest.Entry, h *tar.Header) error {
	ok := false
	switch e.Type {
	case manifest.TypeDir:
		ok = h.Typeflag == tar.TypeDir
	case manifest.TypeFile:
		ok = (h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeGNUSparse || h.Typeflag == '7') && h.Size == e.Size
	case manifest.TypeSymlink:
		ok = h.Typeflag == tar.TypeSymlink && h.Linkname == e.Link
	case manifest.TypeHardlink:
		ok = h.Typeflag == tar.TypeLink && h.Linkname == e.Link
	}
	if !ok {
		return fmt.Errorf("restore %s: %w (the archive's entry is of type %q, size %d, link %q; the manifest's a %s of size %d, link %q)",
			e.Path, archive.ErrContent, h.Typeflag, h.Size, h.Linkname, e.Type, e.Size, e.Link)
	}
	return nil
}

// notRestored describes what a failed restore restored and what not: from the
// manifest, every wanted entry but directories of the archives before failedIn is in
// place, and of archive failedIn those up to lastChosen that the extractor did not
// report as failed.
func notRestored(lm *treeManifest, o RestoreOptions, inc includer, linkTargets map[string]bool, failedIn int, lastChosen string, x *archive.Extractor) string {
	failed := x.NotRestored()
	const named = 5
	var total, missing int64
	var names []string
	err := forEach(lm, "", o.Identities, func(e manifest.Entry) {
		if e.Type == manifest.TypeDeleted || e.Type == manifest.TypeDir || !inc.match(e.Path) && !linkTargets[e.Path] {
			return
		}
		total++
		ferr, isFailed := failed[e.Path]
		if e.In < failedIn || e.In == failedIn && lastChosen != "" && manifest.ComparePaths(e.Path, lastChosen) <= 0 && !isFailed {
			return
		}
		missing++
		if len(names) < named {
			n := manifest.Display(e.Path)
			if why := reason(ferr); why != "" {
				n += " (" + why + ")"
			}
			names = append(names, n)
		}
	})
	if err != nil {
		return fmt.Sprintf("restored %d files", x.Files)
	}
	s := fmt.Sprintf("restored %d of %d files", x.Files, total)
	if missing == 0 {
		return s
	}
	s += "; not restored: " + strings.Join(names, ", ")
	if more := missing - int64(len(names)); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}

// reason is a short word on why the extractor did not restore an entry.
func reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, archive.ErrContent):
		return "checksum mismatch"
	case errors.Is(err, archive.ErrExists):
		return "already exists"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case strings.Contains(err.Error(), "archive truncated"):
		return "archive truncated"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// checkChain checks that the manifest h is the last of chain.
func checkChain(h manifest.Header, chain []ArchiveRef) error {
	if len(h.Chain) != len(chain) {
		return fmt.Errorf("restore: %w: manifest of %s names %d archives, got %d", ErrChainMismatch, h.Name, len(h.Chain), len(chain))
	}
	for i, ref := range chain {
		if ref.Name != "" && ref.Name != h.Chain[i] {
			return fmt.Errorf("restore: %w: archive %d is %s, the manifest says %s", ErrChainMismatch, i, ref.Name, h.Chain[i])
		}
	}
	return nil
}

// syncFS is syncFilesystem; tests see through it that a restore syncs.
var syncFS = syncFilesystem

func forEach(lm *treeManifest, name string, ids []age.Identity, fn func(manifest.Entry)) error {
	mr, mc, err := lm.open(name, ids)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer mc.Close()
	for {
		e, err := mr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("restore: manifest of %s: %w", name, err)
		}
		fn(e)
	}
}

// restoreArchive streams one archive through the extractor and reads it to its end, so
// that its SHA-256 and its compression and encryption checksums are verified.
func restoreArchive(ctx context.Context, x *archive.Extractor, ref ArchiveRef, wantSHA string, ids []age.Identity, o upload.Options) error {
	size := ref.Size
	if size <= 0 {
		size = -1
	}
	name := ref.Name
	if name == "" {
		name = "archive"
	}
	dl := upload.NewDownload(ctx, name, ref.Archive, wantSHA, size, o)
	defer dl.Close()
	plain, _, err := seal.NewReader(dl, ids)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer plain.Close()
	if err := x.Extract(ctx, plain); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if _, err := io.Copy(io.Discard, plain); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if _, err := io.Copy(io.Discard, dl); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
