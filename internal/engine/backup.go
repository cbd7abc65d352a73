// Package engine is the backup and restore pipeline shared by the agent and by the
// server's own backups: scan → tar → compress → encrypt → multipart upload to
// pre-signed URLs, with a manifest beside every archive, and the reverse for restores.
// It streams end to end: an archive is never held in memory or on local disk.
//
// A backup needs two upload.Sessions (archive and manifest objects); a restore needs
// GET URLs (upload.URLFunc) for the archives and manifests of a chain. Package
// destination provides both on a storage.Destination; the agent provides them over the
// server's API.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/backapp/backapp/internal/engine/archive"
	"github.com/backapp/backapp/internal/engine/manifest"
	"github.com/backapp/backapp/internal/engine/scan"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/engine/upload"
)

// ErrorPolicy says what a backup does with a file it cannot read.
type ErrorPolicy string

const (
	// Skip reports the file and goes on (the default); the run's Issues list it.
	Skip ErrorPolicy = "skip"
	// Fail stops the run at the first such file.
	Fail ErrorPolicy = "fail"
)

// BackupOptions describe one backup run.
type BackupOptions struct {
	// Name identifies this archive in manifests' chains (the archive's object key).
	Name             string
	Sources          []string // absolute paths of files or directories
	Include, Exclude []string // patterns for every source, see package scan
	// SourcePatterns adds patterns for one source (keyed by its path as in Sources) to
	// Include and Exclude, so one source's exclusions do not apply to another.
	SourcePatterns map[string]Patterns
	FollowSymlinks bool
	OnError        ErrorPolicy // "" means Skip
	// ReadAhead is how many goroutines read the next small files whole and hash them
	// while the writer stores the current one, on full backups (Linux, see walkAhead);
	// 0 means 4, negative none. Incrementals read ahead nothing: most of their files
	// are unchanged and never read.
	ReadAhead int

	Seal seal.Options // compression and encryption

	// Previous is the manifest of the previous run of the chain (see OpenManifest) for
	// an incremental backup; nil for a full one.
	Previous *manifest.Reader
	// Delta makes an incremental's manifest a delta (manifest.Header.Delta): only the
	// entries stored in this archive and the deletions, not the whole tree. An
	// incremental that stores nothing then uploads no archive at all: the archive
	// upload is aborted and Result.NoArchive set. Off, every manifest lists the whole
	// tree (as servers before deltas expect).
	Delta bool

	Archive  upload.Session // the archive object
	Manifest upload.Session // the manifest object beside it
	// Catalog, when set, also receives the manifest zstd-compressed but not encrypted
	// (the copy the agent sends to the server's catalog and keeps for the next run).
	Catalog io.Writer
	// Checkpoint, when set, makes the backup resumable after the process dies (see
	// checkpoint.go): it needs zstd or gzip (not "none"), and no Catalog (the spool is
	// the catalog copy).
	Checkpoint *CheckpointOptions

	Upload upload.Options // HTTP client, concurrency, retries, bandwidth limit
	// Progress is called about every ProgressEvery and once at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration // 0: one second
	// OnIssue is called for every file reported (skipped, changed, unreadable, special).
	OnIssue func(scan.Issue)
	Log     *slog.Logger
	Now     func() time.Time
}

// Progress counts a run's work so far.
type Progress struct {
	FilesScanned  int64 // entries walked
	BytesScanned  int64 // sizes of the files walked
	FilesStored   int64 // entries written to the archive (new or changed)
	BytesRead     int64 // file content read from disk
	BytesUploaded int64 // stored bytes acknowledged by the destination
	// BytesSent is what went to the destination so far, parts in flight included (at
	// least BytesUploaded): it moves as data moves, not a part at a time.
	BytesSent int64
	Issues    int64
	Done      bool
}

// Result describes a completed backup.
type Result struct {
	// Archive is the stored archive; zero with NoArchive.
	Archive upload.Result
	// NoArchive: a delta incremental found nothing to store, and its archive upload
	// was aborted; the manifest records the run (and any deletions).
	NoArchive bool
	Manifest  upload.Result
	Trailer   manifest.Trailer
	Header    manifest.Header
	Issues    []scan.Issue // the first 1000 issues
	Progress  Progress
}

type counters struct {
	filesScanned, bytesScanned, filesStored, bytesRead, bytesUploaded, bytesSent, issues atomic.Int64
}

func (c *counters) snapshot() Progress {
	return Progress{FilesScanned: c.filesScanned.Load(), BytesScanned: c.bytesScanned.Load(),
		FilesStored: c.filesStored.Load(), BytesRead: c.bytesRead.Load(),
		BytesUploaded: c.bytesUploaded.Load(), BytesSent: max(c.bytesSent.Load(), c.bytesUploaded.Load()),
		Issues: c.issues.Load()}
}

// Backup runs one backup: it walks the sources, writes the archive and its manifest
// through the upload sessions and completes both, or aborts both and returns the error.
func Backup(ctx context.Context, o BackupOptions) (res Result, err error) {
	if o.Archive == nil || o.Manifest == nil {
		return res, errors.New("backup: archive and manifest upload sessions are required")
	}
	if o.Name == "" {
		return res, errors.New("backup: archive name is required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnError == "" {
		o.OnError = Skip
	}
	if o.OnError != Skip && o.OnError != Fail {
		return res, fmt.Errorf("backup: unknown error policy %q: want skip or fail", o.OnError)
	}
	limit := memoryLimit()
	if o.Seal.Concurrency == 0 {
		o.Seal.Concurrency = compressors(limit)
	}
	sopts, err := o.Seal.Normalize()
	if err != nil {
		return res, fmt.Errorf("backup: %w", err)
	}
	matcher, err := scan.NewMatcher(o.Include, o.Exclude)
	if err != nil {
		return res, fmt.Errorf("backup: %w", err)
	}
	sources, err := scan.Sources(o.Sources)
	if err != nil {
		return res, fmt.Errorf("backup: %w", err)
	}
	perSource, err := sourceMatchers(o)
	if err != nil {
		return res, fmt.Errorf("backup: %w", err)
	}
	chain := []string{o.Name}
	if o.Previous != nil {
		for _, c := range o.Previous.Header.Chain {
			if c == o.Name {
				return res, fmt.Errorf("backup: archive name %q already in the previous chain", o.Name)
			}
		}
		chain = append(append([]string{}, o.Previous.Header.Chain...), o.Name)
	}
	hdr := manifest.Header{Name: o.Name, Chain: chain, Created: o.Now().UTC(), Codec: sopts.Codec, Sources: sources}
	if o.Delta && o.Previous != nil {
		hdr.Delta, hdr.Base = true, o.Previous.Header.FullBase()
	}
	var ck *checkpointer
	var resume *Checkpoint
	if o.Checkpoint != nil {
		if sopts.Codec == seal.None || o.Catalog != nil || o.Checkpoint.Spool == nil || o.Checkpoint.Save == nil {
			return res, errors.New("backup: a resumable backup needs zstd or gzip, a spool, a Save function and no Catalog")
		}
		sopts.Frames = true
		ck = newCheckpointer(*o.Checkpoint)
		if err := ck.openSpool(); err != nil {
			return res, fmt.Errorf("backup: %w", err)
		}
		if resume = o.Checkpoint.Resume; resume != nil {
			hdr = resume.Header
			if hdr.Name != o.Name {
				return res, fmt.Errorf("backup: checkpoint of %q given to resume %q", hdr.Name, o.Name)
			}
			if hdr.Codec != sopts.Codec || (resume.Age != nil) != sopts.Encrypted() {
				return res, fmt.Errorf("backup: %w: it was taken with other compression or encryption", ErrCheckpointStale)
			}
			sopts.ResumeAge = resume.Age
			ck.frame = resume.TarOffset / seal.FrameSize
			for _, p := range resume.Parts {
				if p.Number < resume.Next {
					ck.done[p.Number] = p
				}
			}
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var c counters
	uo := o.Upload.UploadForMemory(limit)
	uo.OnProgress = func(n int64) { c.bytesUploaded.Add(n) }
	uo.OnSent = func(n int64) { c.bytesSent.Add(n) }
	if ck != nil {
		uo.AlignWrites, uo.OnCut, uo.OnPart = seal.MaxWrite(sopts), ck.cut, ck.stored
		if resume != nil {
			uo.Resume = &upload.Resume{Next: resume.Next, Size: resume.Size, Sum: resume.Sum, Done: resume.Parts}
		}
	}
	arch := upload.NewWriter(ctx, o.Archive, uo)
	mo := o.Upload
	mo.FirstPart, mo.Concurrency, mo.OnProgress, mo.OnSent = 5<<20, 1, nil, nil
	mup := upload.NewWriter(ctx, o.Manifest, mo)
	aborted := false
	noArchive := false // the archive upload was discarded: nothing stored
	var sealed *seal.Writer
	abort := func(cause error) error {
		if aborted {
			return cause
		}
		aborted = true
		cancel()
		if noArchive {
			return errors.Join(cause, ignoreSame(cause, mup.Abort(cause)))
		}
		// The compressor's goroutine first: its writes fail on the cancelled context,
		// while Abort closes the upload's queue, which a Write still in flight would
		// send on (a panic).
		if sealed != nil {
			sealed.Close()
		}
		return errors.Join(arch.Abort(cause), ignoreSame(cause, mup.Abort(cause)))
	}

	// Progress reporting.
	var wg sync.WaitGroup
	stopProgress := make(chan struct{})
	if o.Progress != nil {
		every := o.ProgressEvery
		if every <= 0 {
			every = time.Second
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-stopProgress:
					return
				case <-t.C:
					o.Progress(c.snapshot())
				}
			}
		}()
	}
	defer func() {
		close(stopProgress)
		wg.Wait()
		p := c.snapshot()
		p.Done = true
		res.Progress = p
		if o.Progress != nil {
			o.Progress(p)
		}
	}()

	var sealDst io.Writer = arch
	if ck != nil {
		sealDst = frameSink{k: ck, w: arch}
	}
	sealed, err = seal.NewWriter(sealDst, sopts)
	if err != nil {
		return res, abort(fmt.Errorf("backup: %w", err))
	}
	if ck != nil {
		ck.setAgeState(sealed.AgeState)
	}
	mopts := seal.Options{Codec: seal.Zstd, Level: 3, Recipients: sopts.Recipients, Passphrase: sopts.Passphrase,
		ScryptWorkFactor: sopts.ScryptWorkFactor, Concurrency: 1}
	var msealed io.WriteCloser
	var mw *manifest.Writer
	var catalog *zstd.Encoder
	switch {
	case ck != nil && resume != nil:
		mw = manifest.ResumeWriter(ck.enc, resume.ManifestLast, resume.ManifestN)
	case ck != nil:
		// The manifest is spooled and sealed at the end (see checkpoint.go).
		if mw, err = manifest.NewWriter(ck.enc, hdr); err != nil {
			return res, abort(fmt.Errorf("backup: %w", err))
		}
	default:
		if msealed, err = seal.NewWriter(mup, mopts); err != nil {
			return res, abort(fmt.Errorf("backup: manifest: %w", err))
		}
		var mdst io.Writer = msealed
		if o.Catalog != nil {
			catalog, err = zstd.NewWriter(o.Catalog, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1),
				zstd.WithWindowSize(seal.StreamWindow), zstd.WithLowerEncoderMem(true))
			if err != nil {
				return res, abort(fmt.Errorf("backup: catalog: %w", err))
			}
			mdst = io.MultiWriter(msealed, catalog)
		}
		if mw, err = manifest.NewWriter(mdst, hdr); err != nil {
			return res, abort(fmt.Errorf("backup: %w", err))
		}
	}
	tap := &tarTap{w: sealed}
	tw := archive.NewWriter(tap)
	tw.OnRead = func(n int64) { c.bytesRead.Add(n) }

	b := &backup{o: o, c: &c, tw: tw, mw: mw, in: len(chain) - 1, prev: o.Previous, hdr: hdr, delta: hdr.Delta,
		links: map[[2]uint64]linkInfo{}, kept: map[[2]uint64]string{}}
	if ck != nil {
		tw.OnEntry = tap.begin
		tap.snapshot = func(off int64, entry string, start int64, crc uint32) error {
			if err := ck.err(); err != nil {
				return err
			}
			if err := b.mw.Flush(); err != nil {
				return err
			}
			size, err := ck.cutSpool()
			if err != nil {
				return err
			}
			cp := b.state(off, entry, start, crc)
			cp.SpoolSize = size
			ck.addSnapshot(cp)
			return nil
		}
		if resume != nil {
			b.restore(resume)
			tap.off, tap.entry, tap.start = resume.EntryStart, resume.Entry, resume.EntryStart
			tap.skipTo, tap.wantCRC = resume.TarOffset, resume.EntryCRC
		}
	}
	if b.prev != nil {
		if err := b.advance(); err != nil {
			return res, abort(fmt.Errorf("backup: previous manifest: %w", err))
		}
	}
	readAhead := o.ReadAhead
	if readAhead == 0 {
		readAhead = 4
	}
	if o.Previous != nil || resume != nil {
		readAhead = 0
	}
	err = walkAhead(ctx, sources, scan.Options{Matcher: matcher, SourceMatchers: perSource, FollowSymlinks: o.FollowSymlinks},
		readAhead, b.node, b.issue)
	if err == nil && b.resumeAt != "" {
		err = fmt.Errorf("%w: %s is gone", ErrCheckpointStale, b.resumeAt)
	}
	if err == nil && resume != nil && !tap.skipped {
		err = fmt.Errorf("%w: %s is shorter than before the interruption", ErrCheckpointStale, resume.Entry)
	}
	if err == nil {
		err = b.deleteUntil("")
	}
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, context.Canceled) {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return res, abort(fmt.Errorf("backup: %w", err))
	}
	var ares upload.Result
	if b.delta && b.trailer.Stored == 0 && resume == nil {
		// Nothing changed (or only deletions): no archive object. What was buffered
		// (an age header, an empty frame) never left this process.
		sealed.Close()
		noArchive = true
		if err := arch.Abort(errNoArchive); err != errNoArchive { // joined with the abort's error
			aborted = true
			return res, errors.Join(fmt.Errorf("backup: discard the empty archive: %w", err), mup.Abort(err))
		}
		res.NoArchive = true
	} else {
		if err := tw.Close(); err != nil {
			return res, abort(fmt.Errorf("backup: finish tar: %w", err))
		}
		if err := sealed.Close(); err != nil {
			return res, abort(fmt.Errorf("backup: finish compression: %w", err))
		}
		if ares, err = arch.Close(); err != nil {
			aborted = true // arch aborted itself
			return res, errors.Join(fmt.Errorf("backup: upload archive: %w", err), mup.Abort(err))
		}
		res.Archive = ares
	}
	if ck != nil {
		if err := ck.err(); err != nil {
			return res, abort(fmt.Errorf("backup: %w", err))
		}
	}
	b.trailer.ArchiveSHA256, b.trailer.ArchiveSize = ares.SHA256, ares.Size
	b.trailer.Issues = c.issues.Load()
	if err := mw.Close(b.trailer); err != nil {
		return res, abort(fmt.Errorf("backup: %w", err))
	}
	if ck != nil {
		if msealed, err = sealSpool(ck, mup, mopts); err != nil {
			return res, abort(fmt.Errorf("backup: manifest: %w", err))
		}
	}
	if err := msealed.Close(); err != nil {
		return res, abort(fmt.Errorf("backup: finish manifest: %w", err))
	}
	if catalog != nil {
		if err := catalog.Close(); err != nil {
			return res, abort(fmt.Errorf("backup: catalog: %w", err))
		}
	}
	mres, err := mup.Close()
	if err != nil {
		aborted = true
		return res, fmt.Errorf("backup: upload manifest (the archive %s is stored but has no manifest): %w", o.Name, err)
	}
	res.Manifest = mres
	res.Trailer = b.trailer
	res.Header = hdr
	res.Issues = b.issues
	return res, nil
}

// errNoArchive is the cause given to the archive upload of a run that stored nothing.
var errNoArchive = errors.New("nothing changed: no archive")

func ignoreSame(cause, err error) error {
	if err == nil || errors.Is(err, cause) {
		return nil
	}
	return err
}

type linkInfo struct {
	name string
	sha  string
	size int64
}

type backup struct {
	o   BackupOptions
	hdr manifest.Header
	// resumeAt is the entry a resumed backup stopped in: entries before it are
	// skipped (they are in the archive already).
	resumeAt string
	c        *counters
	tw       *archive.Writer
	mw       *manifest.Writer
	in       int
	delta    bool // the manifest lists only what this archive stores, and deletions
	prev     *manifest.Reader
	pe       manifest.Entry // current entry of prev
	peOK     bool
	links    map[[2]uint64]linkInfo // inodes with several links stored in this archive
	kept     map[[2]uint64]string   // inodes with several links kept unchanged: first path
	trailer  manifest.Trailer
	issues   []scan.Issue
}

// issue applies the error policy to a file that cannot be backed up.
func (b *backup) issue(i scan.Issue) error {
	if b.resumeAt != "" {
		return nil // before the checkpoint: reported when first met
	}
	b.c.issues.Add(1)
	if len(b.issues) < 1000 {
		b.issues = append(b.issues, i)
	}
	if b.o.OnIssue != nil {
		b.o.OnIssue(i)
	}
	b.o.Log.Warn("backup: file skipped", "path", i.Path, "op", i.Op, "err", i.Err)
	if i.Warning || b.o.OnError == Skip {
		return nil
	}
	return fmt.Errorf("%w (error policy: fail)", i)
}

// advance moves to the next live entry of the previous manifest.
func (b *backup) advance() error {
	for {
		e, err := b.prev.Next()
		if err == io.EOF {
			b.peOK = false
			return nil
		}
		if err != nil {
			return err
		}
		if e.Type != manifest.TypeDeleted {
			b.pe, b.peOK = e, true
			return nil
		}
	}
}

// deleteUntil records as deleted every previous entry before path ("" means all).
func (b *backup) deleteUntil(path string) error {
	for b.peOK && (path == "" || manifest.ComparePaths(b.pe.Path, path) < 0) {
		if err := b.mw.Add(manifest.Entry{Path: b.pe.Path, Type: manifest.TypeDeleted, In: b.in}); err != nil {
			return err
		}
		b.trailer.Deleted++
		if err := b.advance(); err != nil {
			return fmt.Errorf("previous manifest: %w", err)
		}
	}
	return nil
}

func sameStat(p manifest.Entry, e manifest.Entry) bool {
	return p.MTime.Equal(e.MTime) && p.CTime.Equal(e.CTime) && p.Inode == e.Inode &&
		p.Size == e.Size && p.Mode == e.Mode && p.UID == e.UID && p.GID == e.GID &&
		(p.Type != manifest.TypeSymlink || p.Link == e.Link)
}

func (b *backup) node(n scan.Node, read *readFile) error {
	if b.resumeAt != "" {
		switch c := manifest.ComparePaths(n.Name, b.resumeAt); {
		case c < 0:
			return nil
		case c > 0:
			return fmt.Errorf("%w: %s is gone", ErrCheckpointStale, b.resumeAt)
		}
		b.resumeAt = ""
		// The previous manifest's entries before this one were merged already.
		for b.prev != nil && b.peOK && manifest.ComparePaths(b.pe.Path, n.Name) < 0 {
			if err := b.advance(); err != nil {
				return fmt.Errorf("previous manifest: %w", err)
			}
		}
	}
	b.c.filesScanned.Add(1)
	if n.Type == manifest.TypeFile {
		b.c.bytesScanned.Add(n.Info.Size())
	}
	e := archive.Entry(n)
	e.In = b.in
	var prev *manifest.Entry
	if b.prev != nil {
		if err := b.deleteUntil(n.Name); err != nil {
			return err
		}
		if b.peOK && b.pe.Path == n.Name {
			p := b.pe
			prev = &p
			if err := b.advance(); err != nil {
				return fmt.Errorf("previous manifest: %w", err)
			}
		}
	}
	key := [2]uint64{n.Stat.Dev, n.Stat.Ino}
	multi := n.Type == manifest.TypeFile && n.Stat.Nlink > 1

	// Unchanged since the previous run: keep the previous entry (content stays in the
	// archive that holds it).
	if prev != nil && sameStat(*prev, e) {
		same := false
		switch {
		case prev.Type == n.Type && !multi:
			same = true
		case multi && prev.Type == manifest.TypeFile && b.kept[key] == "":
			same = true
			b.kept[key] = n.Name
		case multi && prev.Type == manifest.TypeHardlink && b.kept[key] == prev.Link:
			same = true
		}
		if same {
			b.trailer.Entries++
			if b.delta {
				return nil
			}
			return b.mw.Add(*prev)
		}
	}

	switch n.Type {
	case manifest.TypeDir:
		if err := b.tw.WriteDir(n); err != nil {
			return err
		}
	case manifest.TypeSymlink:
		if err := b.tw.WriteSymlink(n); err != nil {
			return err
		}
	case manifest.TypeFile:
		if li, ok := b.links[key]; ok && multi {
			if err := b.tw.WriteHardlink(n, li.name); err != nil {
				return err
			}
			e.Type, e.Link, e.SHA, e.Size = manifest.TypeHardlink, li.name, li.sha, li.size
			break
		}
		var fr archive.FileResult
		var err error
		if read != nil && read.Wait() {
			fr, err = b.tw.WriteRead(n, read.Data, read.Sum)
		} else {
			fr, err = b.tw.WriteFile(n)
		}
		if err != nil {
			return err
		}
		if fr.Written {
			b.trailer.ContentBytes += fr.Size
		}
		if fr.Issue != nil {
			// Not in the manifest: the next run sees the file as new and stores it.
			return b.issue(*fr.Issue)
		}
		e = archive.Entry(fr.Node)
		e.In, e.SHA, e.Size = b.in, fr.SHA256, fr.Size
		if multi {
			b.links[key] = linkInfo{name: n.Name, sha: fr.SHA256, size: fr.Size}
		}
	}
	b.c.filesStored.Add(1)
	b.trailer.Entries++
	b.trailer.Stored++
	return b.mw.Add(e)
}

// Patterns are one source's include and exclude patterns.
type Patterns struct {
	Include, Exclude []string
}

// sourceMatchers compiles each source's own patterns together with the common ones,
// keyed by the source's cleaned absolute path (as scan.Sources returns it).
func sourceMatchers(o BackupOptions) (map[string]*scan.Matcher, error) {
	if len(o.SourcePatterns) == 0 {
		return nil, nil
	}
	out := make(map[string]*scan.Matcher, len(o.SourcePatterns))
	for src, p := range o.SourcePatterns {
		abs, err := filepath.Abs(src)
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", src, err)
		}
		m, err := scan.NewMatcher(append(slices.Clip(o.Include), p.Include...), append(slices.Clip(o.Exclude), p.Exclude...))
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", src, err)
		}
		out[abs] = m
	}
	return out, nil
}

// sealSpool ends the spool and writes the manifest it holds, sealed, to the manifest
// upload; the caller closes the returned writer.
func sealSpool(k *checkpointer, mup io.Writer, mopts seal.Options) (io.WriteCloser, error) {
	if err := k.enc.Close(); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if _, err := k.o.Spool.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	zr, err := zstd.NewReader(k.o.Spool, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	defer zr.Close()
	msealed, err := seal.NewWriter(mup, mopts)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(msealed, zr); err != nil {
		msealed.Close()
		return nil, fmt.Errorf("spool: %w", err)
	}
	return msealed, nil
}
