package engine

import (
	"context"
	"crypto/sha256"
	"sync"
	"sync/atomic"

	"github.com/backapp/backapp/internal/engine/archive"
	"github.com/backapp/backapp/internal/engine/manifest"
	"github.com/backapp/backapp/internal/engine/scan"
)

// walkAheadNodes is how far, in entries, the walk runs ahead of the archive writer,
// handed over walkBatch at a time: one hand-over per entry cost a wake-up of the
// writer per file in an unchanged run, where the writer waits on the walk.
const (
	walkAheadNodes = 256
	walkBatch      = 64
)

// readAheadMax is the largest file read ahead; larger files are read by the writer,
// with the kernel's own sequential read-ahead.
const readAheadMax = 1 << 20

// readAheadBytes is how much file content is read ahead of the writer at most: the
// ring the readers read into.
var readAheadBytes = 8 << 20

// walkAhead walks the sources on a goroutine of its own, at most walkAheadNodes entries
// ahead of fn and onIssue, which run on the caller's goroutine in walk order. While
// the writer stores one file, the walk stats the next ones, and with readAhead > 0 that
// many goroutines read the next small files whole (archive.ReadWhole) and hash them:
// the writer is left with copying them into the tar stream, so that the opens, reads,
// closes and hashing of small files — most of a backup's CPU outside compression —
// run on every core, and on a cold cache the disk serves several reads at once. fn
// gets the read-ahead of a file, or nil; it is released after fn returns, so fn must
// not keep its Data. An error of fn or onIssue stops the walk and is returned.
func walkAhead(ctx context.Context, sources []string, so scan.Options, readAhead int,
	fn func(scan.Node, *readFile) error, onIssue func(scan.Issue) error) error {
	type item struct {
		node  scan.Node
		issue *scan.Issue
		read  *readFile
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	items := make(chan []item, walkAheadNodes/walkBatch)
	var rr *readRing
	var pf *prefetcher
	if readAhead > 0 && archive.PreReadSupported {
		rr = newReadRing(readAhead, readAheadBytes)
		defer rr.close()
		pf = newPrefetcher(readAhead)
		defer pf.close()
	}
	var batch []item
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		select {
		case items <- batch:
			batch = nil
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	// A batch goes when it is full, and before the walk may block: at an issue, at a
	// directory, whose entries the walk reads and stats next, and before waiting for
	// room in the read-ahead ring, which only the writer frees.
	add := func(it item, now bool) error {
		if batch == nil {
			batch = make([]item, 0, walkBatch)
		}
		batch = append(batch, it)
		if now || len(batch) == walkBatch {
			return flush()
		}
		return nil
	}
	so.OnIssue = func(i scan.Issue) error { return add(item{issue: &i}, true) }
	walked := make(chan error, 1)
	go func() {
		defer close(items)
		err := scan.Walk(ctx, sources, so, func(n scan.Node) error {
			it := item{node: n}
			if rr == nil || n.Type != manifest.TypeFile || n.Info.Size() > readAheadMax {
				return add(it, n.Type == manifest.TypeDir)
			}
			// Once the cache is found cold, the kernel is asked to read every small
			// file in as soon as it is walked.
			hinted := pf != nil && n.Info.Size() > 0 && rr.cold.Load()
			if hinted {
				pf.hint(n.Path)
			}
			if size := int(n.Info.Size()); n.Stat.Nlink <= 1 && size <= len(rr.buf) { // a file larger than the ring would wait for room forever
				r := rr.reserve(size)
				if r == nil {
					if err := flush(); err != nil {
						return err
					}
					var err error
					if r, err = rr.reserveWait(ctx, size); err != nil {
						return err
					}
				}
				r.node, r.hinted = n, hinted
				rr.work <- r
				it.read = r
			}
			return add(it, false)
		})
		if err == nil {
			err = flush()
		}
		walked <- err
	}()
	var err error
	for b := range items {
		for _, it := range b {
			if err == nil { // after an error, drain until the walk sees the cancel
				if it.issue != nil {
					err = onIssue(*it.issue)
				} else {
					err = fn(it.node, it.read)
				}
				if err != nil {
					cancel(err)
				}
			}
			if it.read != nil {
				rr.release(it.read)
			}
		}
	}
	if werr := <-walked; err == nil {
		err = werr
	}
	return err
}

// readFile is one file read ahead into the ring.
type readFile struct {
	node   scan.Node
	Data   []byte            // the file's content, valid until released
	Sum    [sha256.Size]byte // its SHA-256
	ok     bool              // read whole and unchanged
	hinted bool              // prefetch was asked to read it in
	span   int               // ring bytes taken, with those skipped at the end of the ring before it
	ready  chan struct{}     // a token once read (buffered: the struct is reused)
	done   bool              // the token was taken
}

// Wait waits for the read and reports whether the file was read whole, unchanged since
// the walk; if not, the writer reads it itself.
func (r *readFile) Wait() bool {
	if !r.done {
		<-r.ready
		r.done = true
	}
	return r.ok
}

// readRing reads files into a ring buffer on a few goroutines. The walk reserves each
// file's bytes in walk order and the writer releases them in the same order, so the
// ring's live part is one contiguous span (wrapping around), bounded by its size, with
// no allocation per file.
type readRing struct {
	buf  []byte
	work chan *readFile
	wg   sync.WaitGroup
	// cold: a reader found a file out of the page cache, and from then on the walk
	// hints every small file to the prefetcher (posix_fadvise WILLNEED). On a cold
	// tree the kernel then reads many files at once, not only the few the readers
	// wait on (the benchmark tree's cold backup: 7.0 s without hints, 5.7 s with);
	// on a warm one nothing is hinted, which saves the hints' open, fstat and close
	// of every file (5 % of the CPU).
	cold atomic.Bool

	mu         sync.Mutex
	head, used int           // next free byte; bytes reserved and not yet released
	free       []*readFile   // recycled entries
	freed      chan struct{} // a token when bytes were released
}

func newReadRing(workers, size int) *readRing {
	r := &readRing{buf: make([]byte, size), work: make(chan *readFile, 2*walkAheadNodes), freed: make(chan struct{}, 1)}
	for range workers {
		r.wg.Go(func() {
			for f := range r.work {
				var cached bool
				f.ok, cached = archive.ReadWhole(f.node, f.Data)
				if !cached && !f.hinted && len(f.Data) > 0 {
					// A cold cache: hint the next files to the kernel, so that it
					// reads many at once, not only the few the readers wait on.
					r.cold.Store(true)
				}
				if f.ok {
					f.Sum = sha256.Sum256(f.Data)
				}
				f.ready <- struct{}{}
			}
		})
	}
	return r
}

// reserve takes size bytes of the ring for a file, or returns nil when they are not
// free.
func (r *readRing) reserve(size int) *readFile {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.used == 0 {
		r.head = 0
	}
	start, skip := r.head, 0
	if start+size > len(r.buf) { // does not fit before the end: start over at 0
		start, skip = 0, len(r.buf)-r.head
	}
	if r.used+skip+size > len(r.buf) {
		return nil
	}
	var f *readFile
	if k := len(r.free); k > 0 {
		f, r.free = r.free[k-1], r.free[:k-1]
	} else {
		f = &readFile{ready: make(chan struct{}, 1)}
	}
	f.Data, f.span, f.ok, f.done = r.buf[start:start+size:start+size], skip+size, false, false
	r.head = start + size
	r.used += f.span
	return f
}

// reserveWait waits until size bytes are free (the writer releases them).
func (r *readRing) reserveWait(ctx context.Context, size int) (*readFile, error) {
	for {
		if f := r.reserve(size); f != nil {
			return f, nil
		}
		select {
		case <-r.freed:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// release gives f's bytes back, after its read has ended; files are released in the
// order they were reserved.
func (r *readRing) release(f *readFile) {
	f.Wait()
	r.mu.Lock()
	r.used -= f.span
	f.node, f.Data = scan.Node{}, nil
	r.free = append(r.free, f)
	r.mu.Unlock()
	select {
	case r.freed <- struct{}{}:
	default:
	}
}

func (r *readRing) close() {
	close(r.work)
	r.wg.Wait()
}

// prefetcher asks the kernel to read files in, on a few goroutines. Hints that find
// every goroutine busy and the queue full are dropped: the readers read those anyway.
type prefetcher struct {
	paths chan string
	wg    sync.WaitGroup
}

func newPrefetcher(workers int) *prefetcher {
	p := &prefetcher{paths: make(chan string, walkAheadNodes)}
	for range workers {
		p.wg.Go(func() {
			for path := range p.paths {
				archive.Prefetch(path)
			}
		})
	}
	return p
}

func (p *prefetcher) hint(path string) {
	select {
	case p.paths <- path:
	default:
	}
}

func (p *prefetcher) close() {
	close(p.paths)
	p.wg.Wait()
}
