package upload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// objectServer serves data with ranges; handle may change the response.
type objectServer struct {
	*httptest.Server
	mu       sync.Mutex
	ranges   []string
	inFlight atomic.Int32
	maxIn    atomic.Int32
	urls     atomic.Int32 // URLs handed out by src
}

func newObjectServer(t *testing.T, data []byte, handle func(w http.ResponseWriter, r *http.Request) bool) *objectServer {
	s := &objectServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		for m := s.maxIn.Load(); n > m && !s.maxIn.CompareAndSwap(m, n); m = s.maxIn.Load() {
		}
		s.mu.Lock()
		s.ranges = append(s.ranges, r.Header.Get("Range"))
		s.mu.Unlock()
		time.Sleep(2 * time.Millisecond) // let GETs overlap
		if handle != nil && handle(w, r) {
			return
		}
		w.Header().Set("ETag", `"v1"`)
		http.ServeContent(w, r, "x", time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *objectServer) src(ctx context.Context, refresh bool) (URL, error) {
	n := s.urls.Add(1)
	return URL{URL: fmt.Sprintf("%s/obj?u=%d", s.URL, n)}, nil
}

func randomData(n int) []byte {
	r := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func chunkOpts() Options {
	o := fastOpts()
	o.Concurrency, o.DownloadChunk = 4, 64<<10
	return o
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestDownloadChunks: an object of known size comes in chunk-sized ranged GETs, several
// at once, and in order; progress counts every byte once.
func TestDownloadChunks(t *testing.T) {
	data := randomData(1<<20 + 12345)
	s := newObjectServer(t, data, nil)
	o := chunkOpts()
	var progress atomic.Int64
	o.OnProgress = func(n int64) { progress.Add(n) }
	d := NewDownload(context.Background(), "obj", s.src, hexSum(data), int64(len(data)), o)
	defer d.Close()
	got, err := io.ReadAll(d)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("downloaded data differs")
	}
	if s.maxIn.Load() < 2 {
		t.Errorf("at most %d GETs at once, want several", s.maxIn.Load())
	}
	if len(s.ranges) != 17 || !contains(s.ranges, "bytes=0-65535") || !contains(s.ranges, "bytes=1048576-1060920") {
		t.Errorf("ranges %v, want 17 chunks of 64 KiB", s.ranges)
	}
	if s.urls.Load() != 1 {
		t.Errorf("%d URLs asked for, want one shared by the chunks", s.urls.Load())
	}
	if progress.Load() != int64(len(data)) || d.SHA256() != hexSum(data) || d.Size() != int64(len(data)) {
		t.Errorf("progress %d, sha %s, size %d", progress.Load(), d.SHA256(), d.Size())
	}

	// Small or unknown-size objects stay one GET.
	s2 := newObjectServer(t, data, nil)
	d2 := NewDownload(context.Background(), "obj", s2.src, hexSum(data), -1, o)
	defer d2.Close()
	if got, err := io.ReadAll(d2); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("unknown size: %v", err)
	}
	if len(s2.ranges) != 1 || s2.ranges[0] != "" {
		t.Errorf("unknown size: ranges %v, want one plain GET", s2.ranges)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestDownloadChunksResume: every response breaks after 10,000 bytes; each chunk
// resumes within its own range and the object arrives whole. A server that ignores
// Range still works.
func TestDownloadChunksResume(t *testing.T) {
	data := randomData(600 << 10)
	s := newObjectServer(t, data, func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("ETag", `"v1"`)
		http.ServeContent(&cutWriter{ResponseWriter: w, left: 10000}, r, "x", time.Time{}, bytes.NewReader(data))
		return true
	})
	d := NewDownload(context.Background(), "obj", s.src, hexSum(data), int64(len(data)), chunkOpts())
	defer d.Close()
	got, err := io.ReadAll(d)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("downloaded data differs")
	}
	if !contains(s.ranges, "bytes=10000-65535") || !contains(s.ranges, "bytes=75536-131071") {
		t.Errorf("ranges %v, want resumes inside each chunk", s.ranges[:min(8, len(s.ranges))])
	}

	noRange := newObjectServer(t, data, func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Write(data)
		return true
	})
	d = NewDownload(context.Background(), "obj", noRange.src, hexSum(data), int64(len(data)), chunkOpts())
	defer d.Close()
	if got, err := io.ReadAll(d); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("server ignoring Range: %v", err)
	}
}

// TestDownloadChunksFailures: a wrong digest, an object shorter than announced, an
// object replaced halfway, and an expired URL (refreshed once for all chunks).
func TestDownloadChunksFailures(t *testing.T) {
	data := randomData(300 << 10)
	s := newObjectServer(t, data, nil)
	d := NewDownload(context.Background(), "obj", s.src, strings.Repeat("0", 64), int64(len(data)), chunkOpts())
	if _, err := io.ReadAll(d); !errors.Is(err, ErrChecksum) {
		t.Errorf("wrong digest: got %v, want ErrChecksum", err)
	}
	d.Close()

	d = NewDownload(context.Background(), "obj", s.src, hexSum(data), int64(len(data))+100<<10, chunkOpts())
	if _, err := io.ReadAll(d); err == nil || !strings.Contains(err.Error(), "416") {
		t.Errorf("object shorter than announced: got %v", err)
	}
	d.Close()

	var gets atomic.Int32
	changing := newObjectServer(t, data, func(w http.ResponseWriter, r *http.Request) bool {
		if gets.Add(1) > 2 {
			w.Header().Set("ETag", `"v2"`)
		} else {
			w.Header().Set("ETag", `"v1"`)
		}
		http.ServeContent(w, r, "x", time.Time{}, bytes.NewReader(data))
		return true
	})
	o := chunkOpts()
	o.Concurrency = 1 + 1 // in order, so that the first chunks carry v1
	d = NewDownload(context.Background(), "obj", changing.src, "", int64(len(data)), o)
	if _, err := io.ReadAll(d); err == nil || !strings.Contains(err.Error(), "object changed") {
		t.Errorf("object replaced during download: got %v", err)
	}
	d.Close()

	expired := newObjectServer(t, data, func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Query().Get("u") == "1" {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")
			return true
		}
		return false
	})
	d = NewDownload(context.Background(), "obj", expired.src, hexSum(data), int64(len(data)), chunkOpts())
	if got, err := io.ReadAll(d); err != nil || !bytes.Equal(got, data) {
		t.Errorf("expired URL: %v", err)
	}
	d.Close()
	if n := int(expired.urls.Load()); n > 1+chunkOpts().Concurrency {
		t.Errorf("%d URLs asked for after one expired, want a refresh shared by the chunks", n)
	}
}

// TestDownloadChunksCancel: cancelling mid-download ends Read with the cause and Close
// returns without waiting for the rest of the object.
func TestDownloadChunksCancel(t *testing.T) {
	data := randomData(2 << 20)
	block := make(chan struct{})
	s := newObjectServer(t, data, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Range") != "bytes=0-65535" {
			select {
			case <-block:
			case <-r.Context().Done():
			}
			return true
		}
		return false
	})
	defer close(block)
	ctx, cancel := context.WithCancelCause(context.Background())
	d := NewDownload(ctx, "obj", s.src, hexSum(data), int64(len(data)), chunkOpts())
	buf := make([]byte, 64<<10)
	if _, err := io.ReadFull(d, buf); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("user cancelled")
	time.AfterFunc(50*time.Millisecond, func() { cancel(stop) })
	if _, err := io.ReadAll(d); !errors.Is(err, stop) {
		t.Errorf("after cancel: got %v, want the cause", err)
	}
	done := make(chan struct{})
	go func() { d.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs after cancel")
	}
}
