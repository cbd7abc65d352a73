// Package upload moves stored archives over plain HTTP to and from pre-signed URLs:
// a streaming multipart upload with growing part sizes, a bounded pool of part buffers,
// per-part retries, URL refresh and a bandwidth limit; and a download that resumes with
// ranged GETs and verifies the SHA-256 of what it read. It never sees credentials: the
// URLs come from a Session (the server in agent mode, a storage.Destination in server
// mode, see package destination).
package upload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// URL is a pre-signed URL for one method on one object (or one part of it).
type URL struct {
	URL     string
	Method  string      // http.MethodPut or http.MethodGet; "" means the natural one
	Header  http.Header // headers the request must carry (may be nil)
	Expires time.Time   // zero: unknown
}

// Part is one uploaded part of a multipart upload.
type Part struct {
	Number int // 1-based
	ETag   string
	Size   int64
	// SHA256 is the hex digest of the part's bytes, set when Options.OnPart is: a
	// resumed upload skips a part it would send again with the same bytes.
	SHA256 string `json:"sha256,omitempty"`
}

// Resume continues an interrupted upload at a part boundary: parts 1..Next-1 are
// stored (Done lists them, and may list later parts stored before the interruption),
// and Size bytes with the running SHA-256 state Sum (crypto/sha256's MarshalBinary)
// were written before part Next.
type Resume struct {
	Next int
	Size int64
	Sum  []byte
	Done []Part
}

// Cut describes a part boundary as Write passed it (see Options.OnCut).
type Cut struct {
	Part int    // the part that ends here
	Size int64  // bytes written up to here
	Sum  []byte // SHA-256 state of those bytes (MarshalBinary)
}

// Session is one multipart upload, driven by whoever holds the credentials.
type Session interface {
	// PartURL returns a PUT URL for part partNumber (1-based). refresh is true when the
	// previous URL for that part was rejected as expired: a cached URL must not be
	// returned again then.
	PartURL(ctx context.Context, partNumber int, refresh bool) (URL, error)
	// Complete finishes the upload with every part in order, and the SHA-256 (hex) and
	// size of the whole object.
	Complete(ctx context.Context, parts []Part, sha256hex string, size int64) error
	// Abort discards the upload and its parts.
	Abort(ctx context.Context) error
}

// Part sizes: S3 allows 10,000 parts of 5 MiB to 5 GiB. Parts start at MinPartSize and
// double every 500 parts up to 1 GiB, so that 10,000 parts hold 7 TiB (> the 5 TB
// largest S3 object) while the first 5 GB use small parts and little memory: a Writer
// holds (Concurrency+1) parts, 40 MiB with the defaults (64 MiB with 16 MiB parts
// before). 10 MiB is the smallest first part for writes aligned to zstd frames
// (AlignWrites ≈ 4 MiB): a part is cut once less than a frame's room is left, so
// it is never below S3's 5 MiB minimum and never has to grow.
const (
	MinPartSize   = 10 << 20
	MaxPartSize   = 1 << 30
	MaxParts      = 10000
	partsPerDoubl = 500
)

// PartSize returns the size of part n (1-based) for a first part of size first.
func PartSize(n int, first int64) int64 {
	s := first
	for i := (n - 1) / partsPerDoubl; i > 0 && s < MaxPartSize; i-- {
		s *= 2
	}
	return min(s, max(first, MaxPartSize))
}

// Options tune uploads and downloads. The zero value is usable.
type Options struct {
	Client      *http.Client // nil: a client without overall timeout
	Concurrency int          // parts in flight, or chunks fetched ahead by a download; 0: 3
	// DownloadChunk is the size of a download's ranged GETs when it fetches ahead
	// (objects of known size of at least two chunks); 0: 8 MiB.
	DownloadChunk int64
	FirstPart     int64         // size of the first parts; 0: MinPartSize
	MaxAttempts   int           // tries per part or per download resume; 0: 10
	Limiter       *rate.Limiter // bandwidth limit shared by all requests; nil: none
	// OnProgress is called with the bytes of each part once it is stored, or of each
	// read during a download.
	OnProgress func(n int64)
	// OnSent is called as a part's bytes go out on the wire (several times per part),
	// and with the negative of what an attempt sent when it fails: its sum is what is
	// stored or on its way, so progress moves as data moves rather than a part at a time.
	OnSent func(n int64)
	// AlignWrites, when > 0, keeps each Write (of at most AlignWrites bytes) whole in
	// one part, and cuts a part as soon as the next such Write might not fit: part
	// boundaries then fall between Writes (zstd frames, say), where a backup can
	// resume. OnCut is called in Write at each such boundary; OnPart with each part
	// once stored, with its SHA256 set, from the upload's workers (concurrently).
	// Resume continues an interrupted upload.
	AlignWrites int
	OnCut       func(Cut)
	OnPart      func(Part)
	Resume      *Resume
	Backoff     func(attempt int) time.Duration // nil: exponential with full jitter
	Sleep       func(ctx context.Context, d time.Duration) error
	Now         func() time.Time
	Log         *slog.Logger
}

// NewLimiter returns a limiter of bytesPerSec (nil when bytesPerSec <= 0).
func NewLimiter(bytesPerSec int64) *rate.Limiter {
	if bytesPerSec <= 0 {
		return nil
	}
	burst := int(min(max(bytesPerSec/4, 64<<10), 4<<20))
	return rate.NewLimiter(rate.Limit(bytesPerSec), burst)
}

// UploadForMemory sizes what o leaves at zero for a Writer in a process whose soft
// memory limit (runtime/debug.SetMemoryLimit) is limit; 0 or less, or none set, keeps
// the defaults. A Writer holds (Concurrency+1) parts, the bulk of a backup's live heap
// and a fixed one, which the collector must not have to run against: they get about
// a quarter of the limit, Concurrency 3 from 160 MiB up (40 MiB of 10 MiB parts) and 2
// below (30 MiB, the least: parts stay MinPartSize, which aligned writes need).
func (o Options) UploadForMemory(limit int64) Options {
	if limit <= 0 || limit >= math.MaxInt64/2 {
		return o
	}
	if o.Concurrency <= 0 {
		part := o.FirstPart
		if part <= 0 {
			part = MinPartSize
		}
		o.Concurrency = int(min(max(limit/4/part-1, 2), 3))
	}
	return o
}

// DownloadForMemory sizes a Download's chunks, when o leaves them at zero, for a
// process whose soft memory limit is limit (as UploadForMemory): Concurrency chunks of
// limit/32 between 2 and 8 MiB, so 3 × 3.5 MiB at 112 MiB and 3 × 8 MiB from 256 MiB.
func (o Options) DownloadForMemory(limit int64) Options {
	if limit <= 0 || limit >= math.MaxInt64/2 {
		return o
	}
	if o.DownloadChunk <= 0 {
		o.DownloadChunk = min(max(limit/32, 2<<20), 8<<20) &^ (64<<10 - 1)
	}
	return o
}

func (o Options) withDefaults() Options {
	if o.Client == nil {
		o.Client = &http.Client{Transport: http.DefaultTransport}
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 3
	}
	if o.FirstPart <= 0 {
		o.FirstPart = MinPartSize
	}
	if o.DownloadChunk <= 0 {
		o.DownloadChunk = 8 << 20
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 10
	}
	if o.Backoff == nil {
		o.Backoff = func(attempt int) time.Duration {
			d := min(250*time.Millisecond<<min(attempt, 10), 30*time.Second)
			return d/2 + rand.N(d/2+1) // jitter
		}
	}
	if o.Sleep == nil {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Result describes a completed upload.
type Result struct {
	SHA256 string // hex digest of every byte uploaded
	Size   int64
	Parts  []Part
}

type job struct {
	n    int
	data []byte
}

// Writer uploads what is written to it as the parts of a multipart upload. Write blocks
// when Concurrency parts are in flight and one more is full, so memory stays at about
// (Concurrency+1) part sizes. Close completes the upload; Abort discards it. A Writer
// is not safe for concurrent Writes.
type Writer struct {
	s      Session
	o      Options
	ctx    context.Context
	cancel context.CancelCauseFunc

	cur   []byte
	want  int // size of the part being filled (cur grows to it)
	n     int // number of the part being filled
	sum   hash.Hash
	size  int64
	pool  chan []byte
	jobs  chan job
	wg    sync.WaitGroup
	mu    sync.Mutex
	parts []Part
	known map[int]Part // parts stored before a resume, beyond its boundary
	err   error
	done  bool
	once  sync.Once // closes jobs
}

func (w *Writer) closeJobs() { w.once.Do(func() { close(w.jobs) }) }

// NewWriter starts the workers of an upload to s. The caller must call Close or Abort.
func NewWriter(ctx context.Context, s Session, o Options) *Writer {
	o = o.withDefaults()
	ctx, cancel := context.WithCancelCause(ctx)
	w := &Writer{s: s, o: o, ctx: ctx, cancel: cancel, sum: sha256.New(), n: 1,
		pool: make(chan []byte, o.Concurrency+1), jobs: make(chan job)}
	if r := o.Resume; r != nil && r.Next > 1 {
		if err := w.sum.(encoding.BinaryUnmarshaler).UnmarshalBinary(r.Sum); err != nil {
			w.fail(fmt.Errorf("upload: resume: %w", err))
		}
		w.n, w.size = r.Next, r.Size
		w.known = map[int]Part{}
		for _, p := range r.Done {
			if p.Number < r.Next {
				w.parts = append(w.parts, p)
			} else {
				w.known[p.Number] = p
			}
		}
		if len(w.parts) != r.Next-1 {
			w.fail(fmt.Errorf("upload: resume at part %d with %d parts stored before it", r.Next, len(w.parts)))
		}
	}
	for range o.Concurrency + 1 {
		w.pool <- nil // tokens; buffers are allocated on first use
	}
	for range o.Concurrency {
		w.wg.Add(1)
		go w.worker()
	}
	return w
}

func (w *Writer) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	w.cancel(err)
}

func (w *Writer) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if err := context.Cause(w.ctx); err != nil {
		return err
	}
	return nil
}

func (w *Writer) worker() {
	defer w.wg.Done()
	for j := range w.jobs {
		if w.ctx.Err() == nil {
			p := Part{Number: j.n, Size: int64(len(j.data))}
			if w.o.OnPart != nil {
				s := sha256.Sum256(j.data)
				p.SHA256 = hex.EncodeToString(s[:])
			}
			var err error
			if k, ok := w.known[j.n]; ok && k.SHA256 != "" && k.SHA256 == p.SHA256 && k.Size == p.Size {
				p.ETag = k.ETag // stored before the interruption with these very bytes
			} else {
				p.ETag, err = w.putPart(j.n, j.data)
			}
			if err != nil {
				w.fail(err)
			} else {
				w.mu.Lock()
				w.parts = append(w.parts, p)
				w.mu.Unlock()
				if w.o.OnProgress != nil {
					w.o.OnProgress(p.Size)
				}
				if w.o.OnPart != nil {
					w.o.OnPart(p)
				}
			}
		}
		w.pool <- j.data[:0]
	}
}

// Write buffers p into parts and hands full parts to the workers.
func (w *Writer) Write(p []byte) (int, error) {
	if a := w.o.AlignWrites; a > 0 && len(p) <= a {
		return w.writeAligned(p)
	}
	written := 0
	for len(p) > 0 {
		if err := w.failed(); err != nil {
			return written, err
		}
		if w.cur == nil {
			if err := w.take(); err != nil {
				return written, err
			}
		}
		if room := cap(w.cur) - len(w.cur); room < len(p) && cap(w.cur) < w.want {
			w.grow(len(p) - room)
		}
		k := min(len(p), cap(w.cur)-len(w.cur))
		w.cur = append(w.cur, p[:k]...)
		w.sum.Write(p[:k])
		w.size += int64(k)
		written += k
		p = p[k:]
		if len(w.cur) >= w.want {
			if err := w.dispatch(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// minS3Part is S3's smallest part but the last: an aligned part is never cut shorter.
const minS3Part = 5 << 20

// writeAligned puts p whole into the current part and cuts the part when the next
// Write might not fit.
func (w *Writer) writeAligned(p []byte) (int, error) {
	if err := w.failed(); err != nil {
		return 0, err
	}
	if w.cur == nil {
		if err := w.take(); err != nil {
			return 0, err
		}
	}
	if cap(w.cur)-len(w.cur) < len(p) { // a part smaller than AlignWrites: grow it
		w.cur = append(w.cur[:len(w.cur):len(w.cur)], make([]byte, 0, len(p))...)
	}
	w.cur = append(w.cur, p...)
	w.sum.Write(p)
	w.size += int64(len(p))
	if cap(w.cur)-len(w.cur) < w.o.AlignWrites && len(w.cur) >= minS3Part {
		n := w.n
		if err := w.dispatch(); err != nil {
			return len(p), err
		}
		if w.o.OnCut != nil {
			st, _ := w.sum.(encoding.BinaryMarshaler).MarshalBinary()
			w.o.OnCut(Cut{Part: n, Size: w.size, Sum: st})
		}
	}
	return len(p), nil
}

// firstBuffer is what a part's buffer starts with when writes are not aligned: it
// grows (doubling) to the part's size as bytes come, so that a small object (a
// manifest delta) holds a small buffer, not (Concurrency+1) whole parts.
const firstBuffer = 256 << 10

func (w *Writer) take() error {
	if w.n > MaxParts {
		return fmt.Errorf("upload: archive larger than %d parts", MaxParts)
	}
	select {
	case b := <-w.pool:
		want := PartSize(w.n, w.o.FirstPart)
		w.want = int(want)
		switch {
		case w.o.AlignWrites > 0: // whole: the cut is decided by the room left
			if int64(cap(b)) != want {
				b = make([]byte, 0, want)
			}
		case cap(b) == 0 || int64(cap(b)) > want:
			b = make([]byte, 0, min(want, firstBuffer))
		}
		w.cur = b
		return nil
	case <-w.ctx.Done():
		return w.failed()
	}
}

// grow makes room for at least more bytes in the part being filled, up to its size.
func (w *Writer) grow(more int) {
	c := min(w.want, max(2*cap(w.cur), len(w.cur)+more))
	b := make([]byte, len(w.cur), c)
	copy(b, w.cur)
	w.cur = b
}

func (w *Writer) dispatch() error {
	select {
	case w.jobs <- job{n: w.n, data: w.cur}:
		w.n++
		w.cur = nil
		return nil
	case <-w.ctx.Done():
		return w.failed()
	}
}

// Close uploads the last part, waits for all parts and completes the upload. On any
// error the upload is aborted and the error returned.
func (w *Writer) Close() (Result, error) {
	if w.done {
		return Result{}, errors.New("upload: already closed")
	}
	if err := w.failed(); err != nil {
		return Result{}, w.Abort(err)
	}
	if w.cur == nil && w.n == 1 {
		if err := w.take(); err != nil { // an empty object still needs one part
			return Result{}, w.Abort(err)
		}
	}
	if w.cur != nil {
		if err := w.dispatch(); err != nil {
			return Result{}, w.Abort(err)
		}
	}
	w.closeJobs()
	w.wg.Wait()
	if err := w.failed(); err != nil {
		return Result{}, w.Abort(err)
	}
	parts := make([]Part, len(w.parts))
	for _, p := range w.parts {
		parts[p.Number-1] = p
	}
	res := Result{SHA256: hex.EncodeToString(w.sum.Sum(nil)), Size: w.size, Parts: parts}
	if err := w.s.Complete(w.ctx, parts, res.SHA256, res.Size); err != nil {
		return Result{}, w.Abort(fmt.Errorf("complete upload: %w", err))
	}
	w.done = true
	w.cancel(nil)
	return res, nil
}

// Abort stops the workers, aborts the multipart upload (even when the Writer's context
// is cancelled) and returns cause, joined with the abort's own error if any.
func (w *Writer) Abort(cause error) error {
	if cause == nil {
		cause = errors.New("upload aborted")
	}
	w.fail(cause)
	w.done = true
	w.closeJobs()
	w.wg.Wait()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), 30*time.Second)
	defer cancel()
	if err := w.s.Abort(ctx); err != nil {
		return errors.Join(cause, fmt.Errorf("abort upload: %w", err))
	}
	return cause
}

// StatusError is an HTTP answer that is not a success.
type StatusError struct {
	Status int
	Code   string // S3 error code, when the body had one
	Msg    string
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("status %d", e.Status)
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

var (
	reCode = regexp.MustCompile(`<Code>([^<]*)</Code>`)
	reMsg  = regexp.MustCompile(`<Message>([^<]*)</Message>`)
)

func statusError(resp *http.Response) *StatusError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	e := &StatusError{Status: resp.StatusCode}
	if m := reCode.FindSubmatch(body); m != nil {
		e.Code = string(m[1])
	}
	if m := reMsg.FindSubmatch(body); m != nil {
		e.Msg = string(m[1])
	} else if e.Code == "" {
		e.Msg = strings.TrimSpace(string(body))
		if len(e.Msg) > 200 {
			e.Msg = e.Msg[:200]
		}
	}
	return e
}

// retryable reports whether a status is worth retrying.
func (e *StatusError) retryable() bool {
	switch {
	case e.Status >= 500, e.Status == http.StatusTooManyRequests, e.Status == http.StatusRequestTimeout:
		return true
	}
	switch e.Code {
	case "SlowDown", "RequestTimeout", "Throttling", "ThrottlingException", "RequestTimeTooSkewed", "InternalError":
		return true
	}
	return false
}

// expired reports whether the error says the pre-signed URL has expired.
func (e *StatusError) expired(u URL, now time.Time) bool {
	if e.Status != http.StatusForbidden && e.Status != http.StatusBadRequest {
		return false
	}
	if !u.Expires.IsZero() && !now.Before(u.Expires) {
		return true
	}
	m := strings.ToLower(e.Code + " " + e.Msg)
	return strings.Contains(m, "expired")
}

// limited paces reads through a rate limiter.
type limited struct {
	ctx context.Context
	r   io.Reader
	l   *rate.Limiter
}

func (l *limited) Read(p []byte) (int, error) {
	if len(p) > l.l.Burst() {
		p = p[:l.l.Burst()]
	}
	n, err := l.r.Read(p)
	if n > 0 {
		if werr := l.l.WaitN(l.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}

func (w *Writer) putPart(n int, data []byte) (string, error) {
	ctx := w.ctx
	var u URL
	var err error
	refresh := false
	refreshes := 0
	var last error
	for attempt := 1; attempt <= w.o.MaxAttempts; attempt++ {
		if u.URL == "" || refresh || (!u.Expires.IsZero() && w.o.Now().After(u.Expires.Add(-30*time.Second))) {
			if u, err = w.s.PartURL(ctx, n, refresh); err != nil {
				return "", fmt.Errorf("upload part %d: get url: %w", n, err)
			}
			refresh = false
		}
		etag, err := w.tryPut(ctx, u, data)
		if err == nil {
			return etag, nil
		}
		if ctx.Err() != nil {
			return "", context.Cause(ctx)
		}
		last = err
		var se *StatusError
		if errors.As(err, &se) {
			if se.expired(u, w.o.Now()) && refreshes < 3 {
				refreshes++
				refresh = true
				attempt-- // an expired URL is not the part's fault
				continue
			}
			if !se.retryable() {
				return "", fmt.Errorf("upload part %d: %w", n, err)
			}
		}
		w.o.Log.Debug("upload part failed; retrying", "part", n, "attempt", attempt, "err", err)
		if attempt < w.o.MaxAttempts {
			if err := w.o.Sleep(ctx, w.o.Backoff(attempt)); err != nil {
				return "", context.Cause(ctx)
			}
		}
	}
	return "", fmt.Errorf("upload part %d: giving up after %d attempts: %w", n, w.o.MaxAttempts, last)
}

func (w *Writer) tryPut(ctx context.Context, u URL, data []byte) (etag string, err error) {
	var body io.Reader = bytes.NewReader(data)
	if w.o.Limiter != nil {
		body = &limited{ctx: ctx, r: body, l: w.o.Limiter}
	}
	if w.o.OnSent != nil {
		c := &sentCounter{r: body, on: w.o.OnSent, n: new(atomic.Int64)}
		body = c
		defer func() {
			if err != nil {
				w.o.OnSent(-c.n.Load())
			}
		}()
	}
	method := u.Method
	if method == "" {
		method = http.MethodPut
	}
	req, err := http.NewRequestWithContext(ctx, method, u.URL, body)
	if err != nil {
		return "", err
	}
	req.ContentLength = int64(len(data))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	if c, ok := body.(*sentCounter); ok {
		// The transport re-sends from GetBody (a reused connection that failed): what
		// the first try sent is taken back and the new body counted instead.
		req.GetBody = func() (io.ReadCloser, error) {
			c.on(-c.n.Swap(0))
			return io.NopCloser(&sentCounter{r: bytes.NewReader(data), on: c.on, n: c.n}), nil
		}
	}
	for k, vs := range u.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := w.o.Client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return "", statusError(resp)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.Header.Get("ETag"), nil
}

// sentCounter reports the bytes the HTTP client reads of a part's body.
type sentCounter struct {
	r  io.Reader
	on func(n int64)
	n  *atomic.Int64 // shared with the copies GetBody makes
}

func (c *sentCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n.Add(int64(n))
		c.on(int64(n))
	}
	return n, err
}
