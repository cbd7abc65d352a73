package storage_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/storage/storagetest"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// newLocal returns a Local in a temporary directory, mounted as the server mounts it
// under /storage/local/ of a test HTTP server.
func newLocal(t *testing.T) (*storage.Local, *httptest.Server) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	l, err := storage.NewLocal(t.TempDir(), testSecret, srv.URL+"/storage/local/")
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	mux.Handle("/storage/local/", l)
	return l, srv
}

func TestLocalContract(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Destination {
		l, _ := newLocal(t)
		return l
	})
}

func get(t *testing.T, method, rawURL string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The 403s say why, so a person reading an agent's log knows what went wrong.
func TestLocalRejectionsSayWhy(t *testing.T) {
	ctx := context.Background()
	l, srv := newLocal(t)
	key := "users/u/agents/a/x.bin"
	if err := l.Put(ctx, key, strings.NewReader("secret data"), -1); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	l.SetClock(func() time.Time { return now })
	getURL, err := l.PresignGet(ctx, key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(getURL.URL, "X-Backapp-Expires=", "X-Backapp-Expires=9", 1)
	other, err := storage.NewLocal(t.TempDir(), []byte(strings.Repeat("z", 32)), srv.URL+"/storage/local/")
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.PresignGet(ctx, key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, url string
		wantCode          int
		wantBody          string
	}{
		{"valid", "GET", getURL.URL, 200, "secret data"},
		{"no signature", "GET", srv.URL + "/storage/local/" + key, 403, "not issued by backapp"},
		{"expiry pushed back", "GET", tampered, 403, "signature does not match"},
		{"another secret", "GET", foreign.URL, 403, "signature does not match"},
		{"wrong method", "PUT", getURL.URL, 403, "this URL is for GET only"},
		{"HEAD with GET URL", "HEAD", getURL.URL, 403, ""},
		{"escape with ..", "GET", srv.URL + "/storage/local/users/u/..%2F..%2F..%2Fetc%2Fpasswd?" + strings.SplitN(getURL.URL, "?", 2)[1], 400, `".." segment`},
		{"backslash", "GET", srv.URL + "/storage/local/users%5C..%5Cx?" + strings.SplitN(getURL.URL, "?", 2)[1], 400, "backslash"},
		{"outside the mount", "GET", srv.URL + "/storage/localx", 404, ""},
	}
	for _, tt := range tests {
		code, body := get(t, tt.method, tt.url, nil)
		if code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
			t.Errorf("%s: %s → %d %q, want %d with %q", tt.name, tt.method, code, body, tt.wantCode, tt.wantBody)
		}
	}

	// Expiry, with the clock moved instead of sleeping.
	now = now.Add(time.Minute + time.Second)
	if code, body := get(t, "GET", getURL.URL, nil); code != 403 || !strings.Contains(body, "URL expired at") {
		t.Errorf("expired URL: %d %q, want 403 naming the expiry", code, body)
	}
}

func TestLocalMultipartRules(t *testing.T) {
	ctx := context.Background()
	l, _ := newLocal(t)
	key := "users/u/agents/a/big.tar.gz"
	id, err := l.CreateMultipart(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	putPart := func(n int, body string) storage.Part {
		u, err := l.PresignPart(ctx, key, id, n, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("PUT", u.URL, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("PUT part %d: status %d", n, resp.StatusCode)
		}
		return storage.Part{Number: n, ETag: resp.Header.Get("ETag")}
	}
	p1, p2 := putPart(1, "too small"), putPart(2, "last")
	// S3's rule, so an engine that passes against local also passes against S3.
	err = l.CompleteMultipart(ctx, key, id, []storage.Part{p1, p2})
	if err == nil || !strings.Contains(err.Error(), "at least 5 MiB") {
		t.Errorf("CompleteMultipart with a small first part = %v, want the 5 MiB rule", err)
	}
	// Re-uploading part 1 with other bytes: Complete uses the bytes of the given ETag.
	p1b := putPart(1, "x")
	if err := l.CompleteMultipart(ctx, key, id, []storage.Part{p1b}); err != nil {
		t.Fatalf("CompleteMultipart with one part: %v", err)
	}
	r, err := l.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != "x" {
		t.Errorf("object = %q, want %q", got, "x")
	}
	// Upload ids are checked before they touch a path.
	for _, bad := range []string{"../../objects", "", strings.Repeat("g", 32)} {
		if _, err := l.PresignPart(ctx, key, bad, 1, time.Minute); err == nil {
			t.Errorf("PresignPart with upload id %q: no error", bad)
		}
		if err := l.AbortMultipart(ctx, key, bad); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("AbortMultipart with upload id %q = %v, want ErrNotFound", bad, err)
		}
	}
	// An upload belongs to its key.
	id2, err := l.CreateMultipart(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.AbortMultipart(ctx, "users/u/agents/a/other", id2); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("AbortMultipart with another key = %v, want ErrNotFound", err)
	}
}

// A PUT whose body ends early leaves neither an object nor a temporary file.
func TestLocalTruncatedPutLeavesNothing(t *testing.T) {
	ctx := context.Background()
	l, _ := newLocal(t)
	key := "users/u/agents/a/cut.bin"
	u, err := l.PresignPut(ctx, key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("PUT", u.URL, strings.NewReader("only half"))
	req.ContentLength = 100
	rec := httptest.NewRecorder()
	l.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "Content-Length says 100") {
		t.Errorf("truncated PUT: %d %q, want 400 naming the length", rec.Code, rec.Body)
	}
	if _, err := l.Stat(ctx, key); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat after truncated PUT = %v, want ErrNotFound", err)
	}
	tmp, err := os.ReadDir(filepath.Join(l.Dir(), "tmp"))
	if err != nil || len(tmp) != 0 {
		t.Errorf("tmp/ after truncated PUT = %v, %v; want empty", tmp, err)
	}
}

func TestLocalAbortsStaleUploads(t *testing.T) {
	ctx := context.Background()
	l, _ := newLocal(t)
	now := time.Now()
	l.SetClock(func() time.Time { return now })
	old, err := l.CreateMultipart(ctx, "users/u/old")
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(6 * 24 * time.Hour)
	recent, err := l.CreateMultipart(ctx, "users/u/recent")
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * 24 * time.Hour) // old: 8 days, recent: 2 days
	if err := l.EnsureAbortIncompleteUploads(ctx, 7); err != nil {
		t.Fatalf("EnsureAbortIncompleteUploads: %v", err)
	}
	uploads, err := l.ListUploads(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(uploads) != 1 || uploads[0].UploadID != recent {
		t.Errorf("uploads after aborting those older than 7 days = %+v, want only %s (not %s)", uploads, recent, old)
	}
	// Later uploads are pruned as new ones start.
	now = now.Add(6 * 24 * time.Hour)
	if _, err := l.CreateMultipart(ctx, "users/u/new"); err != nil {
		t.Fatal(err)
	}
	uploads, err = l.ListUploads(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(uploads) != 1 || uploads[0].Key != "users/u/new" {
		t.Errorf("uploads after CreateMultipart 8 days later = %+v, want only users/u/new", uploads)
	}
	if err := l.EnsureAbortIncompleteUploads(ctx, 0); err == nil {
		t.Errorf("EnsureAbortIncompleteUploads(0): no error")
	}
}

func TestNewLocalValidates(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		secret  []byte
		base    string
		wantErr string
	}{
		{"short secret", []byte("short"), "http://localhost:8080/storage/local/", "at least 32"},
		{"relative base", testSecret, "/storage/local/", "not an absolute http(s) URL"},
		{"ftp base", testSecret, "ftp://host/x/", "not an absolute http(s) URL"},
		{"ok without trailing slash", testSecret, "https://backup.example.com/storage/local", ""},
	}
	for _, tt := range tests {
		l, err := storage.NewLocal(dir, tt.secret, tt.base)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: NewLocal = %v, want error containing %q", tt.name, err, tt.wantErr)
		case tt.wantErr == "":
			u, err := l.PresignGet(context.Background(), "users/u/x", time.Minute)
			if err != nil || !strings.HasPrefix(u.URL, "https://backup.example.com/storage/local/users/u/x?") {
				t.Errorf("%s: PresignGet = %q, %v; want it under the base URL", tt.name, u.URL, err)
			}
		}
	}
}

// What a crash leaves in tmp/ is removed when the server starts again, once it is old
// enough that no request can still be writing it.
func TestNewLocalRemovesOldLeftovers(t *testing.T) {
	dir := t.TempDir()
	if _, err := storage.NewLocal(dir, testSecret, "http://localhost/storage/local/"); err != nil {
		t.Fatal(err)
	}
	old, fresh := filepath.Join(dir, "tmp", "write-old"), filepath.Join(dir, "tmp", "write-fresh")
	for _, f := range []string{old, fresh} {
		if err := os.WriteFile(f, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	if _, err := storage.NewLocal(dir, testSecret, "http://localhost/storage/local/"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("2-day-old leftover after NewLocal: stat = %v, want it removed", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh file in tmp/ after NewLocal: %v, want it kept", err)
	}
}
