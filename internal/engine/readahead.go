package engine

import (
	"context"
	"sync"

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

// readAheadMax is the largest file whose content is read ahead; larger files get the
// kernel's own sequential read-ahead once the writer reads them.
const readAheadMax = 1 << 20

// walkAhead walks the sources on a goroutine of its own, at most walkAheadNodes entries
// ahead of fn and onIssue, which run on the caller's goroutine in walk order. While
// the writer reads one file, the walk stats the next ones, and with readAhead > 0 that
// many goroutines ask the kernel to read the next small files in (on Linux): on a
// cold cache the disk then serves several reads at once instead of one file at a time.
// An error of fn or onIssue stops the walk and is returned.
func walkAhead(ctx context.Context, sources []string, so scan.Options, readAhead int,
	fn func(scan.Node) error, onIssue func(scan.Issue) error) error {
	type item struct {
		node  scan.Node
		issue *scan.Issue
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	items := make(chan []item, walkAheadNodes/walkBatch)
	var pf *prefetcher
	if readAhead > 0 && prefetchSupported {
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
	// A batch goes when it is full, and before the walk may block: at an issue, and
	// at a directory, whose entries the walk reads and stats next.
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
			if pf != nil && n.Type == manifest.TypeFile && n.Info.Size() > 0 && n.Info.Size() <= readAheadMax {
				pf.hint(n.Path)
			}
			return add(item{node: n}, n.Type == manifest.TypeDir)
		})
		if err == nil {
			err = flush()
		}
		walked <- err
	}()
	var err error
	for b := range items {
		for _, it := range b {
			if err != nil {
				break // drain until the walk sees the cancel
			}
			if it.issue != nil {
				err = onIssue(*it.issue)
			} else {
				err = fn(it.node)
			}
			if err != nil {
				cancel(err)
			}
		}
	}
	if werr := <-walked; err == nil {
		err = werr
	}
	return err
}

// prefetcher asks the kernel to read files in, on a few goroutines. Hints that find
// every goroutine busy and the queue full are dropped: the writer reads those itself.
type prefetcher struct {
	paths chan string
	wg    sync.WaitGroup
}

func newPrefetcher(workers int) *prefetcher {
	p := &prefetcher{paths: make(chan string, walkAheadNodes)}
	for range workers {
		p.wg.Go(func() {
			for path := range p.paths {
				prefetch(path)
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
