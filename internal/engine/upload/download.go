package upload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// URLFunc returns a GET URL for an object; refresh is true when the previous one was
// rejected as expired.
type URLFunc func(ctx context.Context, refresh bool) (URL, error)

// ErrChecksum is returned (wrapped) when downloaded bytes do not have the expected SHA-256.
var ErrChecksum = errors.New("sha256 mismatch")

// Download reads an object through pre-signed GETs. When a connection breaks it resumes
// with a ranged GET from the last byte read, so a flaky network costs retries, not the
// whole transfer. When the object's size is known and spans several chunks
// (Options.DownloadChunk), Concurrency ranged GETs fetch the next chunks in parallel
// while the reader consumes them in order: one TCP stream rarely fills a long network
// path, and a disk serves several reads at once faster than one. At the end it checks
// the size and SHA-256 it was given: Read returns an error wrapping ErrChecksum instead
// of io.EOF when they differ.
type Download struct {
	ctx        context.Context
	src        URLFunc
	o          Options
	name       string
	wantSHA    string
	wantSize   int64
	body       io.ReadCloser
	etag       string
	off, total int64
	end        int64     // a chunk's end (exclusive); -1: the object's end
	sum        hash.Hash // nil: not hashed (a chunk)
	url        URL
	done       bool
	final      error // returned once done: io.EOF or the verification error
	par        *chunks
}

// NewDownload prepares a download of the object called name (for messages). wantSHA
// (hex) and wantSize may be empty / -1 when unknown.
func NewDownload(ctx context.Context, name string, src URLFunc, wantSHA string, wantSize int64, o Options) *Download {
	d := &Download{ctx: ctx, src: src, o: o.withDefaults(), name: name, wantSHA: strings.ToLower(wantSHA),
		wantSize: wantSize, total: -1, end: -1, sum: sha256.New()}
	if d.o.Concurrency > 1 && wantSize >= 2*d.o.DownloadChunk {
		d.par = newChunks(d)
	}
	return d
}

// SHA256 returns the hex digest of the bytes read so far.
func (d *Download) SHA256() string { return hex.EncodeToString(d.sum.Sum(nil)) }

// Size returns the number of bytes read so far.
func (d *Download) Size() int64 { return d.off }

// Close releases the connection (and stops fetching ahead).
func (d *Download) Close() error {
	if d.par != nil {
		d.par.close()
	}
	if d.body != nil {
		d.body.Close()
		d.body = nil
	}
	return nil
}

func (d *Download) Read(p []byte) (int, error) {
	if d.done {
		return 0, d.final
	}
	if d.par != nil {
		return d.readChunks(p)
	}
	var last error
	for attempt := 1; ; attempt++ {
		if d.body == nil {
			if err := d.open(); err != nil {
				var se *StatusError
				if d.ctx.Err() != nil {
					return 0, context.Cause(d.ctx)
				}
				if errors.As(err, &se) && !se.retryable() {
					return 0, fmt.Errorf("download %s: %w", d.name, err)
				}
				last = err
				if attempt >= d.o.MaxAttempts {
					return 0, fmt.Errorf("download %s: giving up after %d attempts: %w", d.name, attempt, last)
				}
				if err := d.o.Sleep(d.ctx, d.o.Backoff(attempt)); err != nil {
					return 0, context.Cause(d.ctx)
				}
				continue
			}
		}
		n, err := d.body.Read(p)
		if n > 0 {
			if d.sum != nil {
				d.sum.Write(p[:n])
			}
			d.off += int64(n)
			if d.o.OnProgress != nil {
				d.o.OnProgress(int64(n))
			}
			if d.o.Limiter != nil {
				if werr := d.o.Limiter.WaitN(d.ctx, min(n, d.o.Limiter.Burst())); werr != nil {
					return n, werr
				}
			}
		}
		if err == nil {
			return n, nil
		}
		d.body.Close()
		d.body = nil
		if err == io.EOF && (d.end >= 0 && d.off >= d.end || d.end < 0 && (d.total < 0 || d.off >= d.total)) {
			d.done = true
			d.final = io.EOF
			if verr := d.verify(); verr != nil {
				d.final = verr
			}
			return n, d.final
		}
		if d.ctx.Err() != nil {
			return n, context.Cause(d.ctx)
		}
		// A broken connection: resume from d.off with a ranged GET.
		if n > 0 {
			return n, nil
		}
		last = err
		if attempt >= d.o.MaxAttempts {
			return 0, fmt.Errorf("download %s at byte %d: giving up after %d attempts: %w", d.name, d.off, attempt, last)
		}
		if err := d.o.Sleep(d.ctx, d.o.Backoff(attempt)); err != nil {
			return 0, context.Cause(d.ctx)
		}
	}
}

func (d *Download) verify() error {
	if d.wantSize >= 0 && d.off != d.wantSize {
		return fmt.Errorf("download %s: got %d bytes, want %d: truncated or wrong object: %w", d.name, d.off, d.wantSize, ErrChecksum)
	}
	if d.wantSHA != "" && d.SHA256() != d.wantSHA {
		return fmt.Errorf("download %s: %w: got %s, want %s (corrupted object)", d.name, ErrChecksum, d.SHA256(), d.wantSHA)
	}
	return nil
}

func (d *Download) open() error {
	refresh := false
	for range 3 {
		if d.url.URL == "" || refresh || (!d.url.Expires.IsZero() && d.o.Now().After(d.url.Expires.Add(-30e9))) {
			u, err := d.src(d.ctx, refresh)
			if err != nil {
				return fmt.Errorf("get url: %w", err)
			}
			d.url = u
		}
		req, err := http.NewRequestWithContext(d.ctx, http.MethodGet, d.url.URL, nil)
		if err != nil {
			return err
		}
		for k, vs := range d.url.Header {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		ranged := d.off > 0 || d.end >= 0
		if ranged {
			r := "bytes=" + strconv.FormatInt(d.off, 10) + "-"
			if d.end >= 0 {
				r += strconv.FormatInt(d.end-1, 10)
			}
			req.Header.Set("Range", r)
		}
		resp, err := d.o.Client.Do(req)
		if err != nil {
			return err
		}
		switch {
		case resp.StatusCode == http.StatusOK && !ranged:
			d.total = resp.ContentLength
		case resp.StatusCode == http.StatusPartialContent && ranged:
			// Content-Range: bytes 100-199/200
			cr := resp.Header.Get("Content-Range")
			if !strings.HasPrefix(cr, "bytes "+strconv.FormatInt(d.off, 10)+"-") {
				resp.Body.Close()
				return fmt.Errorf("resume at byte %d: unexpected Content-Range %q", d.off, cr)
			}
			if i := strings.LastIndexByte(cr, '/'); i >= 0 {
				if t, err := strconv.ParseInt(cr[i+1:], 10, 64); err == nil {
					d.total = t
				}
			}
		case resp.StatusCode == http.StatusOK:
			// The server ignored the range: skip what was already read.
			if _, err := io.CopyN(io.Discard, resp.Body, d.off); err != nil {
				resp.Body.Close()
				return fmt.Errorf("resume at byte %d: %w", d.off, err)
			}
			d.total = resp.ContentLength
			if d.end >= 0 {
				resp.Body = struct {
					io.Reader
					io.Closer
				}{io.LimitReader(resp.Body, d.end-d.off), resp.Body}
			}
		default:
			se := statusError(resp)
			resp.Body.Close()
			if se.expired(d.url, d.o.Now()) {
				refresh = true
				continue
			}
			return se
		}
		if et := resp.Header.Get("ETag"); et != "" {
			if d.etag != "" && et != d.etag {
				resp.Body.Close()
				return &StatusError{Status: http.StatusPreconditionFailed, Msg: "object changed during download (etag " + et + ", was " + d.etag + ")"}
			}
			d.etag = et
		}
		d.body = resp.Body
		return nil
	}
	return errors.New("url expired again after refresh")
}

// chunks fetches the chunks of a Download ahead of its reader, Concurrency at a time,
// and hands them over in order. Memory stays at Concurrency chunks, whose buffers are
// reused.
type chunks struct {
	d      *Download
	ctx    context.Context
	cancel context.CancelFunc
	queue  chan *chunk   // in order; closed after the last (or on cancel)
	slots  chan struct{} // one per chunk fetched or waiting to be read
	free   chan []byte   // buffers of chunks read, for the next fetches
	wg     sync.WaitGroup
	cur    *chunk
	pos    int
	etag   string
	urlMu  sync.Mutex
	url    URL // shared by the chunks' GETs, refreshed by whichever sees it expire
}

type chunk struct {
	off   int64
	data  []byte
	err   error
	etag  string
	ready chan struct{}
}

func newChunks(d *Download) *chunks {
	ctx, cancel := context.WithCancel(d.ctx)
	c := &chunks{d: d, ctx: ctx, cancel: cancel, queue: make(chan *chunk, d.o.Concurrency),
		slots: make(chan struct{}, d.o.Concurrency), free: make(chan []byte, d.o.Concurrency)}
	c.wg.Add(1)
	go c.schedule()
	return c
}

// src hands the chunks one URL, asking the Download's source only when there is none
// yet or a GET found it expired.
func (c *chunks) src(ctx context.Context, refresh bool) (URL, error) {
	c.urlMu.Lock()
	defer c.urlMu.Unlock()
	if c.url.URL == "" || refresh {
		u, err := c.d.src(ctx, refresh)
		if err != nil {
			return URL{}, err
		}
		c.url = u
	}
	return c.url, nil
}

func (c *chunks) schedule() {
	defer c.wg.Done()
	defer close(c.queue)
	size, step := c.d.wantSize, c.d.o.DownloadChunk
	for off := int64(0); off < size; off += step {
		select {
		case c.slots <- struct{}{}:
		case <-c.ctx.Done():
			return
		}
		ch := &chunk{off: off, ready: make(chan struct{})}
		c.wg.Add(1)
		go c.fetch(ch, min(off+step, size))
		select {
		case c.queue <- ch:
		case <-c.ctx.Done():
			return
		}
	}
}

// fetch reads one chunk with the Download's retries and resumes.
func (c *chunks) fetch(ch *chunk, end int64) {
	defer c.wg.Done()
	defer close(ch.ready)
	o := c.d.o
	o.OnProgress = nil // counted in order by the reader
	sub := &Download{ctx: c.ctx, src: c.src, o: o, name: c.d.name, wantSize: -1, total: -1, off: ch.off, end: end}
	defer sub.Close()
	var buf []byte
	select {
	case buf = <-c.free: // reused: a restore's chunks are not garbage to collect
	default:
	}
	if int64(cap(buf)) < end-ch.off {
		buf = make([]byte, end-ch.off)
	}
	buf = buf[:end-ch.off]
	n, err := io.ReadFull(sub, buf)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = fmt.Errorf("download %s: bytes %d-%d: got %d of %d bytes: %w", c.d.name, ch.off, end-1, n, end-ch.off, ErrChecksum)
		}
		ch.err = err
		return
	}
	ch.data, ch.etag = buf, sub.etag
}

// next makes the next chunk current; io.EOF after the last.
func (c *chunks) next() error {
	if c.cur != nil {
		select {
		case c.free <- c.cur.data:
		default:
		}
		c.cur = nil
		<-c.slots
	}
	ch, ok := <-c.queue
	if !ok {
		if c.ctx.Err() != nil {
			return c.stopped()
		}
		return io.EOF
	}
	select {
	case <-ch.ready:
	case <-c.ctx.Done():
		return c.stopped()
	}
	if ch.err != nil {
		return ch.err
	}
	if ch.etag != "" {
		if c.etag != "" && ch.etag != c.etag {
			return &StatusError{Status: http.StatusPreconditionFailed, Msg: "object changed during download (etag " + ch.etag + ", was " + c.etag + ")"}
		}
		c.etag = ch.etag
	}
	c.cur, c.pos = ch, 0
	return nil
}

func (c *chunks) read(p []byte) (int, error) {
	for c.cur == nil || c.pos == len(c.cur.data) {
		if err := c.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.cur.data[c.pos:])
	c.pos += n
	return n, nil
}

// stopped is the error once the context is done: the caller's cause, or Close's.
func (c *chunks) stopped() error {
	if err := context.Cause(c.d.ctx); err != nil {
		return err
	}
	return errors.New("download closed")
}

// close stops the fetching: the scheduler and the GETs end with the context.
func (c *chunks) close() {
	c.cancel()
	c.wg.Wait()
}

// readChunks is Read for a Download fetched in chunks.
func (d *Download) readChunks(p []byte) (int, error) {
	n, err := d.par.read(p)
	if n > 0 {
		d.sum.Write(p[:n])
		d.off += int64(n)
		if d.o.OnProgress != nil {
			d.o.OnProgress(int64(n))
		}
	}
	switch {
	case err == io.EOF:
		d.done, d.final = true, io.EOF
		if verr := d.verify(); verr != nil {
			d.final = verr
		}
		return n, d.final
	case err != nil:
		var se *StatusError
		if errors.As(err, &se) || errors.Is(err, ErrChecksum) {
			d.done, d.final = true, err
			return n, err
		}
		d.done, d.final = true, fmt.Errorf("download %s at byte %d: %w", d.name, d.off, err)
		return n, d.final
	}
	return n, nil
}
