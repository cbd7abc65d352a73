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
)

// URLFunc returns a GET URL for an object; refresh is true when the previous one was
// rejected as expired.
type URLFunc func(ctx context.Context, refresh bool) (URL, error)

// ErrChecksum is returned (wrapped) when downloaded bytes do not have the expected SHA-256.
var ErrChecksum = errors.New("sha256 mismatch")

// Download reads an object through pre-signed GETs. When a connection breaks it resumes
// with a ranged GET from the last byte read, so a flaky network costs retries, not the
// whole transfer. At the end it checks the size and SHA-256 it was given: Read returns
// an error wrapping ErrChecksum instead of io.EOF when they differ.
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
	sum        hash.Hash
	url        URL
	done       bool
	final      error // returned once done: io.EOF or the verification error
}

// NewDownload prepares a download of the object called name (for messages). wantSHA
// (hex) and wantSize may be empty / -1 when unknown.
func NewDownload(ctx context.Context, name string, src URLFunc, wantSHA string, wantSize int64, o Options) *Download {
	return &Download{ctx: ctx, src: src, o: o.withDefaults(), name: name, wantSHA: strings.ToLower(wantSHA),
		wantSize: wantSize, total: -1, sum: sha256.New()}
}

// SHA256 returns the hex digest of the bytes read so far.
func (d *Download) SHA256() string { return hex.EncodeToString(d.sum.Sum(nil)) }

// Size returns the number of bytes read so far.
func (d *Download) Size() int64 { return d.off }

// Close releases the connection.
func (d *Download) Close() error {
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
			d.sum.Write(p[:n])
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
		if err == io.EOF && (d.total < 0 || d.off >= d.total) {
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
		if d.off > 0 {
			req.Header.Set("Range", "bytes="+strconv.FormatInt(d.off, 10)+"-")
		}
		resp, err := d.o.Client.Do(req)
		if err != nil {
			return err
		}
		switch {
		case resp.StatusCode == http.StatusOK && d.off == 0:
			d.total = resp.ContentLength
		case resp.StatusCode == http.StatusPartialContent && d.off > 0:
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
