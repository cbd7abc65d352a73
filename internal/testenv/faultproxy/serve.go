package faultproxy

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// errReset is what the proxy's own reads and writes return once it has reset a
// connection on purpose.
var errReset = errors.New("faultproxy: connection reset by fault")

func (p *Proxy) serveHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.handlers.Add(1)
	p.mu.Unlock()
	defer p.handlers.Done() // deferred: ReverseProxy panics with http.ErrAbortHandler on a cut response

	pl := p.plan(r)
	if pl.delay > 0 && sleep(r.Context(), pl.delay) != nil {
		// Cancelled (the client left, or Close): returning would send an empty 200
		// that a client still there would take for success.
		panic(http.ErrAbortHandler)
	}
	if f, ok := pl.end.(Respond); ok {
		p.count(KindRespond, pl.endRule) // first: a client that has the answer sees it counted
		p.respond(w, r, f, pl.id)
		return
	}

	fw := &faultWriter{ResponseWriter: w, proxy: p, ruleName: pl.endRule, resetAfter: -1}
	if f, ok := pl.end.(ResetResponseBody); ok {
		fw.resetAfter = f.After
	}
	if pl.rate > 0 {
		fw.lim = newLimiter(r.Context(), pl.rate)
	}
	f, resetReq := pl.end.(ResetRequestBody)
	if r.Body != nil && r.Body != http.NoBody && (resetReq || pl.rate > 0) {
		fb := &faultBody{rc: r.Body, resetAfter: -1}
		if resetReq {
			fb.resetAfter = f.After
		}
		if pl.rate > 0 {
			fb.lim = newLimiter(r.Context(), pl.rate)
		}
		fw.body = fb
		r.Body = fb
	}
	p.rp.ServeHTTP(fw, r)
}

// upstreamError handles a failed round trip: the reset a ResetRequestBody asked for
// (the truncated body made it fail), or a 502.
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if fw, ok := w.(*faultWriter); ok && fw.requestResetDue() {
		_ = fw.reset(KindResetRequestBody)
		return
	}
	if r.Context().Err() != nil {
		panic(http.ErrAbortHandler) // the client left, or Close: no empty 200
	}
	w.WriteHeader(http.StatusBadGateway)
	_, _ = fmt.Fprintf(w, "faultproxy: upstream: %v\n", err)
}

type s3Error struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string
	Message   string `xml:",omitempty"`
	Resource  string
	RequestID string `xml:"RequestId"`
}

func (p *Proxy) respond(w http.ResponseWriter, r *http.Request, f Respond, id int64) {
	code := f.Code
	if code == "" {
		code = s3Code(f.Status)
	}
	reqID := "faultproxy-" + strconv.FormatInt(id, 10)
	body, err := xml.Marshal(s3Error{Code: code, Message: f.Message, Resource: r.URL.Path, RequestID: reqID})
	if err != nil {
		panic(err) // only strings: cannot fail
	}
	body = append([]byte(xml.Header), body...)
	h := w.Header()
	for k, vs := range f.Header {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Amz-Request-Id", reqID)
	w.WriteHeader(f.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// s3Code is the S3 error code for an HTTP status, for Respond faults that name none.
func s3Code(status int) string {
	switch status {
	case http.StatusInternalServerError:
		return "InternalError"
	case http.StatusServiceUnavailable:
		return "SlowDown"
	case http.StatusTooManyRequests:
		return "TooManyRequests"
	case http.StatusForbidden:
		return "AccessDenied"
	case http.StatusNotFound:
		return "NoSuchKey"
	}
	return strings.ReplaceAll(http.StatusText(status), " ", "")
}

// faultBody wraps an inbound request body on its way upstream: it throttles it, and
// fails it once it runs past resetAfter bytes. The upstream transport reads it on its
// own goroutine, hence the atomic flag the handler checks.
type faultBody struct {
	rc         io.ReadCloser
	resetAfter int64 // -1: never
	n          int64
	lim        *limiter
	fired      atomic.Bool
}

func (b *faultBody) Read(p []byte) (int, error) {
	if b.fired.Load() {
		return 0, errReset
	}
	if b.resetAfter >= 0 {
		if b.n >= b.resetAfter {
			// Reset only a body longer than resetAfter: one that ends here goes whole.
			var one [1]byte
			if _, err := io.ReadAtLeast(b.rc, one[:], 1); err != nil {
				return 0, err
			}
			b.fired.Store(true)
			return 0, errReset
		}
		p = p[:min(int64(len(p)), b.resetAfter-b.n)]
	}
	if b.lim != nil {
		p = p[:min(len(p), b.lim.chunk)]
	}
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if b.lim != nil && n > 0 {
		if werr := b.lim.wait(n); werr != nil && err == nil {
			err = werr
		}
	}
	return n, err
}

func (b *faultBody) Close() error { return b.rc.Close() }

// faultWriter wraps the client's ResponseWriter: it throttles the response body,
// cuts it after resetAfter bytes, and resets the connection instead of answering when
// the request body was cut.
type faultWriter struct {
	http.ResponseWriter
	proxy       *Proxy
	ruleName    string
	body        *faultBody // nil unless the request body is wrapped
	resetAfter  int64      // -1: never
	lim         *limiter
	wroteHeader bool
	hijacked    bool
}

func (w *faultWriter) requestResetDue() bool { return w.body != nil && w.body.fired.Load() }

func (w *faultWriter) WriteHeader(code int) {
	if w.hijacked {
		return
	}
	if w.requestResetDue() {
		_ = w.reset(KindResetRequestBody)
		return
	}
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *faultWriter) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, errReset
	}
	if w.requestResetDue() {
		return 0, w.reset(KindResetRequestBody)
	}
	w.wroteHeader = true
	written := 0
	for len(p) > 0 {
		chunk := p
		if w.lim != nil {
			chunk = chunk[:min(len(chunk), w.lim.chunk)]
		}
		cut := w.resetAfter >= 0 && int64(len(chunk)) > w.resetAfter
		if cut {
			chunk = chunk[:w.resetAfter]
		}
		n, err := w.ResponseWriter.Write(chunk)
		written += n
		if w.resetAfter >= 0 {
			w.resetAfter -= int64(n)
		}
		if err != nil {
			return written, err
		}
		if cut {
			return written, w.reset(KindResetResponseBody)
		}
		p = p[n:]
		if w.lim != nil {
			if err := w.FlushError(); err != nil {
				return written, err
			}
			if err := w.lim.wait(n); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// FlushError lets ReverseProxy (through http.ResponseController) stream the response.
func (w *faultWriter) FlushError() error {
	if w.hijacked {
		return errReset
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the underlying writer for what faultWriter
// does not intercept.
func (w *faultWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// reset sends what was written so far, then closes the client's connection with a
// TCP RST (SO_LINGER 0), the way a dropped connection or a crashed server looks.
func (w *faultWriter) reset(k Kind) error {
	if w.hijacked {
		return errReset
	}
	w.hijacked = true
	rc := http.NewResponseController(w.ResponseWriter)
	if w.wroteHeader {
		_ = rc.Flush() // flushing before the header is written would send a 200
	}
	w.proxy.count(k, w.ruleName)
	conn, _, err := rc.Hijack()
	if err != nil {
		// HTTP/2 or a wrapped writer: abort the response instead, which closes the
		// connection or stream without the RST.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
	return errReset
}

// limiter paces one direction of one request at rate bytes per second.
type limiter struct {
	ctx   context.Context
	rate  int64
	chunk int // bytes per step: about 50ms worth, so the pace is smooth
	start time.Time
	sent  int64
}

func newLimiter(ctx context.Context, rate int64) *limiter {
	return &limiter{ctx: ctx, rate: rate, chunk: int(max(1, min(rate/20, 32<<10)))}
}

// wait blocks until n more bytes fit under the rate since the first byte.
func (l *limiter) wait(n int) error {
	if l.start.IsZero() {
		l.start = time.Now()
	}
	l.sent += int64(n)
	due := l.start.Add(time.Duration(float64(l.sent) / float64(l.rate) * float64(time.Second)))
	return sleep(l.ctx, time.Until(due))
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
