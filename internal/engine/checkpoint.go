package engine

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/backapp/backapp/internal/engine/manifest"
	"github.com/backapp/backapp/internal/engine/scan"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/engine/seal/ageenc"
	"github.com/backapp/backapp/internal/engine/upload"
)

// A resumable backup (BackupOptions.Checkpoint) can continue after the process was
// killed, from its last durable checkpoint, in the same multipart upload. The archive
// is tar → zstd in independent frames (or gzip in independent members) of
// seal.FrameSize → age (optional) → multipart upload, and part boundaries are made to
// fall between frames (upload.Options.AlignWrites), so at a part boundary:
//
//   - the tar stream is at a multiple of FrameSize: a known offset within a known
//     entry (each entry's bytes are written whole before the next one's);
//   - the compressor holds nothing: the next frame starts afresh;
//   - the encryption's state is known (package seal/ageenc): the payload key, the
//     chunks sealed and the compressed bytes of the chunk being filled;
//   - the upload's running SHA-256 is a marshalled crypto/sha256 state, and the parts
//     before the boundary are stored, with their ETags.
//
// The manifest is not uploaded while the walk runs but written to a spool file (zstd
// frames, closed at every checkpoint so the file can be cut back to one) and uploaded,
// sealed, at the end; the spool is also the catalog copy. Resuming re-walks the
// sources, skipping the entries before the checkpoint's, regenerates that entry from
// its start and drops its bytes up to the checkpoint's offset, checking them against
// the checkpoint's CRC-32C: if the entry changed or vanished meanwhile, the checkpoint
// cannot be continued exactly and Backup fails with ErrCheckpointStale (the caller
// starts the backup over, in the same upload). Parts stored after the checkpoint are
// not uploaded again when the resumed stream produces the same bytes.
//
// The encryption state is key material: the caller stores checkpoints as privately as
// the sources' contents (the agent: 0600 in its state directory, removed with the run).

// ErrCheckpointStale is returned (wrapped) by a resumed Backup when the sources no
// longer match the checkpoint (the entry it stopped in changed or vanished): start
// the backup over.
var ErrCheckpointStale = errors.New("the checkpoint no longer matches the sources")

// Checkpoint is a durable point of a resumable backup; it is JSON, saved by the
// caller (CheckpointOptions.Save) and given back to resume (CheckpointOptions.Resume).
type Checkpoint struct {
	Header manifest.Header `json:"header"`

	// The tar stream: TarOffset is a multiple of seal.FrameSize, within the entry
	// Entry that starts at EntryStart; EntryCRC is the CRC-32C of its bytes up to
	// TarOffset.
	TarOffset  int64  `json:"tarOffset"`
	Entry      string `json:"entry"`
	EntryStart int64  `json:"entryStart"`
	EntryCRC   uint32 `json:"entryCrc"`

	// The archive upload: part Next starts at the checkpoint; Parts lists every part
	// stored (also those after the checkpoint); Size and Sum are the bytes before it
	// and their SHA-256 state.
	Next  int           `json:"next"`
	Size  int64         `json:"size"`
	Sum   []byte        `json:"sum"`
	Parts []upload.Part `json:"parts"`

	// Age is the encryption's state at the checkpoint (encrypted backups): it holds
	// the archive's payload key.
	Age *ageenc.State `json:"age,omitempty"`

	// The manifest spool: its length at the checkpoint, and the writer's position.
	SpoolSize    int64  `json:"spoolSize"`
	ManifestLast string `json:"manifestLast"`
	ManifestN    int64  `json:"manifestN"`

	Trailer  manifest.Trailer `json:"trailer"`
	Progress Progress         `json:"progress"`
	Links    []linkState      `json:"links,omitempty"`
	Kept     []keptState      `json:"kept,omitempty"`
	Issues   []issueState     `json:"issues,omitempty"`
}

type linkState struct {
	Dev, Ino uint64
	Name     string
	SHA      string
	Size     int64
}

type keptState struct {
	Dev, Ino uint64
	Name     string
}

type issueState struct {
	Path, Op, Err string
	Warning       bool
}

// CheckpointOptions make a backup resumable.
type CheckpointOptions struct {
	// Spool holds the manifest while the backup runs (zstd frames; afterwards the
	// zstd-compressed, unencrypted manifest, like BackupOptions.Catalog's copy). It
	// must be the same file when resuming; the caller keeps or removes it.
	Spool *os.File
	// Save stores a checkpoint durably (write a temporary file, fsync, rename); the
	// spool is synced before. It is called from the upload's goroutines, one call at a
	// time, after each stored part. Its error fails the backup.
	Save func(Checkpoint) error
	// Resume continues from a saved checkpoint; nil starts afresh (the spool is
	// truncated).
	Resume *Checkpoint
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// tarTap sits between the tar writer and the compressor: it counts the tar stream,
// knows which entry each byte belongs to, takes a snapshot at every frame boundary,
// and when resuming drops the regenerated bytes before the checkpoint.
type tarTap struct {
	w        io.Writer
	off      int64  // tar offset of the next byte
	entry    string // entry being written
	start    int64  // its first byte's offset
	crc      uint32 // of its bytes so far
	snapshot func(tarOffset int64, entry string, start int64, crc uint32) error

	skipTo  int64 // resuming: drop bytes before this offset
	wantCRC uint32
	skipped bool // the checkpoint's offset was reached and matched
}

func (t *tarTap) begin(name string) {
	t.entry, t.start, t.crc = name, t.off, 0
}

func (t *tarTap) Write(p []byte) (int, error) {
	n := len(p)
	if !t.skipped && t.skipTo > 0 {
		k := int(min(int64(len(p)), t.skipTo-t.off))
		t.crc = crc32.Update(t.crc, castagnoli, p[:k])
		t.off += int64(k)
		p = p[k:]
		if t.off < t.skipTo {
			return n, nil
		}
		if t.crc != t.wantCRC {
			return 0, fmt.Errorf("%w: %s differs from what was archived before the interruption", ErrCheckpointStale, t.entry)
		}
		t.skipped = true
	}
	for len(p) > 0 {
		next := (t.off/seal.FrameSize + 1) * seal.FrameSize
		k := int(min(int64(len(p)), next-t.off))
		t.crc = crc32.Update(t.crc, castagnoli, p[:k])
		t.off += int64(k)
		if t.off == next && t.snapshot != nil {
			if err := t.snapshot(t.off, t.entry, t.start, t.crc); err != nil {
				return 0, err
			}
		}
		if _, err := t.w.Write(p[:k]); err != nil {
			return 0, err
		}
		p = p[k:]
	}
	return n, nil
}

// countWriter counts what goes to the spool.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// checkpointer ties the three goroutines of a resumable backup together: the walk's
// (snapshots at frame boundaries), the compressor's writer (frames, and the part cuts
// they cause) and the upload workers (stored parts), and saves the latest checkpoint
// whose parts are all stored.
type checkpointer struct {
	o     CheckpointOptions
	spool *countWriter
	enc   *zstd.Encoder // the spool's current frame

	mu    sync.Mutex
	frame int64                 // frames written to the upload so far
	snaps map[int64]Checkpoint  // by frame number (tar offset / FrameSize)
	cuts  map[int]upload.Cut    // by part number, with the frame that ends it in Part's place
	cutAt map[int]int64         // part → frame
	ages  map[int]*ageenc.State // part → encryption state at its end
	// ageState reads the encryption's state (nil: not encrypted) in the compressor's
	// writer goroutine, where cut is called.
	ageState func() *ageenc.State
	done     map[int]upload.Part
	base     int // parts before this are stored (resumed or saved)
	saveErr  error
}

func newCheckpointer(o CheckpointOptions) *checkpointer {
	return &checkpointer{o: o, snaps: map[int64]Checkpoint{}, cutAt: map[int]int64{}, cuts: map[int]upload.Cut{},
		ages: map[int]*ageenc.State{}, done: map[int]upload.Part{}, base: 1, ageState: func() *ageenc.State { return nil }}
}

// openSpool prepares the spool: empty for a new backup, cut back to the checkpoint's
// length when resuming.
func (k *checkpointer) openSpool() error {
	size := int64(0)
	if k.o.Resume != nil {
		size = k.o.Resume.SpoolSize
	}
	if err := k.o.Spool.Truncate(size); err != nil {
		return fmt.Errorf("manifest spool: %w", err)
	}
	if _, err := k.o.Spool.Seek(size, io.SeekStart); err != nil {
		return fmt.Errorf("manifest spool: %w", err)
	}
	k.spool = &countWriter{w: k.o.Spool, n: size}
	enc, err := zstd.NewWriter(k.spool, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(seal.StreamWindow), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return fmt.Errorf("manifest spool: %w", err)
	}
	k.enc = enc
	return nil
}

// cutSpool ends the spool's current zstd frame and returns the spool's length.
func (k *checkpointer) cutSpool() (int64, error) {
	if err := k.enc.Close(); err != nil {
		return 0, fmt.Errorf("manifest spool: %w", err)
	}
	k.enc.Reset(k.spool)
	return k.spool.n, nil
}

// frameSink passes the compressor's frames to the upload and counts them.
type frameSink struct {
	k *checkpointer
	w *upload.Writer
}

func (s frameSink) Write(p []byte) (int, error) {
	s.k.mu.Lock()
	s.k.frame++
	s.k.mu.Unlock()
	return s.w.Write(p)
}

func (k *checkpointer) addSnapshot(cp Checkpoint) {
	k.mu.Lock()
	k.snaps[cp.TarOffset/seal.FrameSize] = cp
	k.mu.Unlock()
}

// cut records that part c.Part ended with the last frame written.
func (k *checkpointer) cut(c upload.Cut) {
	k.mu.Lock()
	k.cuts[c.Part] = c
	k.cutAt[c.Part] = k.frame
	k.ages[c.Part] = k.ageState()
	k.mu.Unlock()
}

// stored records a stored part and saves the newest checkpoint whose parts are all
// stored.
func (k *checkpointer) stored(p upload.Part) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.saveErr != nil {
		return
	}
	k.done[p.Number] = p
	n := k.base - 1
	for {
		if _, ok := k.done[n+1]; !ok {
			break
		}
		n++
	}
	// The newest boundary at or before part n with a snapshot.
	best := -1
	for m := range k.cutAt {
		if m <= n && m > best {
			if _, ok := k.snaps[k.cutAt[m]]; ok {
				best = m
			}
		}
	}
	if best < 0 {
		return
	}
	cp := k.snaps[k.cutAt[best]]
	c := k.cuts[best]
	cp.Next, cp.Size, cp.Sum, cp.Age = best+1, c.Size, c.Sum, k.ages[best]
	cp.Parts = make([]upload.Part, 0, len(k.done))
	for _, d := range k.done {
		cp.Parts = append(cp.Parts, d)
	}
	slices.SortFunc(cp.Parts, func(a, b upload.Part) int { return a.Number - b.Number })
	if err := k.o.Spool.Sync(); err != nil {
		k.saveErr = fmt.Errorf("manifest spool: %w", err)
		return
	}
	if err := k.o.Save(cp); err != nil {
		k.saveErr = fmt.Errorf("save checkpoint: %w", err)
		return
	}
	// Older boundaries are no longer needed.
	for m, f := range k.cutAt {
		if m < best {
			delete(k.cutAt, m)
			delete(k.cuts, m)
			delete(k.ages, m)
			delete(k.snaps, f)
		}
	}
	for f := range k.snaps {
		if f < k.cutAt[best] {
			delete(k.snaps, f)
		}
	}
}

func (k *checkpointer) err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.saveErr
}

// state captures what the backup has done, at a tar offset within entry.
func (b *backup) state(tarOffset int64, entry string, start int64, crc uint32) Checkpoint {
	last, n := b.mw.Position()
	cp := Checkpoint{Header: b.hdr, TarOffset: tarOffset, Entry: entry, EntryStart: start, EntryCRC: crc,
		ManifestLast: last, ManifestN: n, Trailer: b.trailer, Progress: b.c.snapshot()}
	for key, l := range b.links {
		cp.Links = append(cp.Links, linkState{Dev: key[0], Ino: key[1], Name: l.name, SHA: l.sha, Size: l.size})
	}
	for key, name := range b.kept {
		cp.Kept = append(cp.Kept, keptState{Dev: key[0], Ino: key[1], Name: name})
	}
	for _, i := range b.issues {
		cp.Issues = append(cp.Issues, issueState{Path: i.Path, Op: i.Op, Err: errString(i.Err), Warning: i.Warning})
	}
	return cp
}

// restore sets the backup's state from a checkpoint.
func (b *backup) restore(cp *Checkpoint) {
	b.trailer = cp.Trailer
	p := cp.Progress
	b.c.filesScanned.Store(p.FilesScanned)
	b.c.bytesScanned.Store(p.BytesScanned)
	b.c.filesStored.Store(p.FilesStored)
	b.c.bytesRead.Store(p.BytesRead)
	b.c.bytesUploaded.Store(p.BytesUploaded)
	b.c.bytesSent.Store(p.BytesUploaded)
	b.c.issues.Store(p.Issues)
	for _, l := range cp.Links {
		b.links[[2]uint64{l.Dev, l.Ino}] = linkInfo{name: l.Name, sha: l.SHA, size: l.Size}
	}
	for _, k := range cp.Kept {
		b.kept[[2]uint64{k.Dev, k.Ino}] = k.Name
	}
	for _, i := range cp.Issues {
		b.issues = append(b.issues, scan.Issue{Path: i.Path, Op: i.Op, Err: errors.New(i.Err), Warning: i.Warning})
	}
	b.resumeAt = cp.Entry
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (k *checkpointer) setAgeState(f func() *ageenc.State) {
	k.mu.Lock()
	k.ageState = f
	k.mu.Unlock()
}
