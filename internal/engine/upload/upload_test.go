package upload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/testenv"
)

func TestPartSizeReaches5TB(t *testing.T) {
	var total int64
	for n := 1; n <= MaxParts; n++ {
		s := PartSize(n, MinPartSize)
		if s < 5<<20 || s > 5<<30 {
			t.Fatalf("part %d: size %d outside S3's 5 MiB–5 GiB", n, s)
		}
		total += s
	}
	if total < 5e12 {
		t.Errorf("10,000 parts hold %d bytes, want at least 5 TB", total)
	}
	if got := PartSize(1, MinPartSize); got != 10<<20 {
		t.Errorf("first part %d, want 10 MiB", got)
	}
}

// fakeStore is an httptest server that stores parts and misbehaves on demand.
type fakeStore struct {
	*httptest.Server
	mu       sync.Mutex
	parts    map[int][]byte
	fail     map[int][]int // part → statuses to answer before accepting
	expired  map[string]bool
	urls     int
	complete []Part
	aborted  bool
}

func newFake(t *testing.T) *fakeStore {
	f := &fakeStore{parts: map[int][]byte{}, fail: map[int][]int{}, expired: map[string]bool{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("part"))
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.expired[r.URL.RawQuery] {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")
			return
		}
		if st := f.fail[n]; len(st) > 0 {
			f.fail[n] = st[1:]
			w.WriteHeader(st[0])
			fmt.Fprintf(w, "<Error><Code>Oops</Code><Message>status %d</Message></Error>", st[0])
			return
		}
		f.parts[n] = body
		sum := sha256.Sum256(body)
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeStore) PartURL(ctx context.Context, n int, refresh bool) (URL, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.urls++
	return URL{URL: fmt.Sprintf("%s/obj?part=%d&u=%d", f.URL, n, f.urls), Method: http.MethodPut}, nil
}

func (f *fakeStore) Complete(ctx context.Context, parts []Part, sha string, size int64) error {
	f.complete = parts
	return nil
}

func (f *fakeStore) Abort(ctx context.Context) error { f.aborted = true; return nil }

func (f *fakeStore) object() []byte {
	var b []byte
	for _, p := range f.complete {
		b = append(b, f.parts[p.Number]...)
	}
	return b
}

func fastOpts() Options {
	return Options{FirstPart: 1000, Concurrency: 3, Backoff: func(int) time.Duration { return time.Millisecond }}
}

func TestUploadRetriesAndRefresh(t *testing.T) {
	f := newFake(t)
	f.fail[2] = []int{503, 500, 429}
	f.fail[4] = []int{503}
	f.expired["part=3&u=3"] = true // the first URL of part 3 has expired
	data := bytes.Repeat([]byte("0123456789"), 550)
	w := NewWriter(context.Background(), f, fastOpts())
	for i := 0; i < len(data); i += 333 {
		if _, err := w.Write(data[i:min(i+333, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
	res, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.object(), data) {
		t.Errorf("stored object differs from what was written")
	}
	sum := sha256.Sum256(data)
	if res.SHA256 != hex.EncodeToString(sum[:]) || res.Size != int64(len(data)) {
		t.Errorf("result %s/%d, want %x/%d", res.SHA256, res.Size, sum, len(data))
	}
	if len(res.Parts) != 6 {
		t.Errorf("%d parts, want 6", len(res.Parts))
	}
	if f.aborted {
		t.Errorf("aborted a successful upload")
	}
}

func TestUploadGivesUpAndAborts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status []int
		want   string
	}{
		{"permanent 400", []int{400}, "upload part 2: status 400: Oops"},
		{"retries exhausted", []int{503, 503, 503, 503}, "giving up after 3 attempts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.fail[2] = tc.status
			o := fastOpts()
			o.MaxAttempts = 3
			w := NewWriter(context.Background(), f, o)
			_, err := w.Write(make([]byte, 5000))
			if err == nil {
				_, err = w.Close()
			} else {
				err = w.Abort(err)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
			if !f.aborted {
				t.Errorf("multipart upload not aborted")
			}
		})
	}
}

func TestUploadCancelAborts(t *testing.T) {
	f := newFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	w := NewWriter(ctx, f, fastOpts())
	if _, err := w.Write(make([]byte, 2500)); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err := w.Close()
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if !f.aborted {
		t.Errorf("multipart upload not aborted on cancel")
	}
}

func TestBandwidthLimit(t *testing.T) {
	f := newFake(t)
	o := fastOpts()
	o.FirstPart = 64 << 10
	o.Limiter = NewLimiter(512 << 10) // 512 KiB/s, burst 128 KiB
	w := NewWriter(context.Background(), f, o)
	start := time.Now()
	if _, err := w.Write(make([]byte, 640<<10)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// 640 KiB at 512 KiB/s with a 128 KiB burst takes at least one second.
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("640 KiB uploaded in %v at a 512 KiB/s limit", d)
	}
}

// TestDownloadResumes cuts every response after 1000 bytes; the download resumes with
// ranges and verifies the digest; a wrong digest is an error.
func TestDownloadResumes(t *testing.T) {
	data := bytes.Repeat([]byte("abcdefghij"), 1000)
	var ranges []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		mu.Unlock()
		http.ServeContent(&cutWriter{ResponseWriter: w, left: 1000}, r, "x", time.Time{}, bytes.NewReader(data))
	}))
	defer srv.Close()
	src := func(ctx context.Context, refresh bool) (URL, error) { return URL{URL: srv.URL}, nil }
	sum := sha256.Sum256(data)
	d := NewDownload(context.Background(), "obj", src, hex.EncodeToString(sum[:]), int64(len(data)), fastOpts())
	got, err := io.ReadAll(d)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("downloaded data differs")
	}
	if len(ranges) < 10 || ranges[1] != "bytes=1000-" {
		t.Errorf("ranges %v, want resumes from byte 1000 on", ranges[:min(3, len(ranges))])
	}
	d = NewDownload(context.Background(), "obj", src, strings.Repeat("0", 64), -1, fastOpts())
	if _, err := io.ReadAll(d); !errors.Is(err, ErrChecksum) {
		t.Errorf("wrong digest: got %v, want ErrChecksum", err)
	}
}

type cutWriter struct {
	http.ResponseWriter
	left int
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if len(p) > c.left {
		_, _ = c.ResponseWriter.Write(p[:c.left])
		c.left = 0
		c.ResponseWriter.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drop the connection mid-body
	}
	c.left -= len(p)
	return c.ResponseWriter.Write(p)
}

// TestOnSentMovesWithinAPart: OnSent counts a part's bytes as the server receives
// them, long before the part is stored, and takes back what a failed attempt sent.
func TestOnSentMovesWithinAPart(t *testing.T) {
	const part = 8 << 20
	release := make(chan struct{})
	var attempts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if attempts.Add(1) == 1 {
			_, _ = io.ReadAll(r.Body)
			w.WriteHeader(http.StatusServiceUnavailable) // the first attempt fails
			return
		}
		if _, err := io.CopyN(io.Discard, r.Body, 1<<20); err != nil {
			return
		}
		<-release // the part hangs after its first MiB
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("ETag", `"x"`)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	var sent, stored atomic.Int64
	o := Options{FirstPart: part, Concurrency: 1, Backoff: func(int) time.Duration { return time.Millisecond },
		OnSent: func(n int64) { sent.Add(n) }, OnProgress: func(n int64) { stored.Add(n) }}
	w := NewWriter(context.Background(), fixedURL(srv.URL), o)
	if _, err := w.Write(bytes.Repeat([]byte{7}, part)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := w.Close(); done <- err }()
	for deadline := time.Now().Add(10 * time.Second); attempts.Load() < 2 || sent.Load() < 1<<20; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("sent %d bytes after %d attempts; want the second attempt's first MiB", sent.Load(), attempts.Load())
		}
	}
	if s := sent.Load(); s >= part || stored.Load() != 0 {
		t.Errorf("while the part hangs: sent %d (want under %d: the failed attempt taken back), stored %d (want 0)", s, part, stored.Load())
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if sent.Load() != part || stored.Load() != part {
		t.Errorf("after the upload: sent %d, stored %d, want %d each", sent.Load(), stored.Load(), part)
	}
}

// fixedURL is a Session whose every part goes to one URL.
type fixedURL string

func (f fixedURL) PartURL(ctx context.Context, n int, refresh bool) (URL, error) {
	return URL{URL: string(f) + "/obj", Method: http.MethodPut}, nil
}
func (fixedURL) Complete(ctx context.Context, parts []Part, sha string, size int64) error { return nil }
func (fixedURL) Abort(ctx context.Context) error                                          { return nil }

// TestInFlightPartsBounded: while the store holds every PUT, a Writer takes at most
// Concurrency parts in flight plus the one being filled, then Write blocks: the part
// buffers, the bulk of a backup's memory, stay within (Concurrency+1) part sizes
// however much is written.
func TestInFlightPartsBounded(t *testing.T) {
	const part, conc = 1000, 3
	gate := make(chan struct{})
	var inflight atomic.Int32
	f := newFake(t)
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release) // before the server closes, which waits for held PUTs
	store := f.Config.Handler
	f.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inflight.Add(1)
		<-gate
		store.ServeHTTP(w, r)
	})
	o := fastOpts()
	o.FirstPart, o.Concurrency = part, conc
	w := NewWriter(context.Background(), f, o)
	data := bytes.Repeat([]byte("abcdefghij"), 10*part/10)
	var accepted atomic.Int64
	wrote := make(chan error, 1)
	go func() {
		for i := 0; i < len(data); i += part {
			if _, err := w.Write(data[i : i+part]); err != nil {
				wrote <- err
				return
			}
			accepted.Add(part)
		}
		wrote <- nil
	}()
	bound := int64((conc + 1) * part)
	testenv.Eventually(t, "parts in flight", func() bool {
		return inflight.Load() == conc && accepted.Load() >= conc*part
	})
	// The Write of the next part holds it while it waits for a worker.
	if got := accepted.Load(); got > bound {
		t.Errorf("Write took %d bytes with every PUT held, want %d ((Concurrency+1) parts)", got, bound)
	}
	release()
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.object(), data) {
		t.Errorf("stored object differs from what was written")
	}
}
