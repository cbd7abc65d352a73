package storage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/storage/storagetest"
	"github.com/backapp/backapp/internal/store"
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
		{"HEAD with GET URL", "HEAD", getURL.URL, 200, ""}, // TestLocalHeadOnGetURL
		{"colon", "GET", srv.URL + "/storage/local/users/u/a:b?" + strings.SplitN(getURL.URL, "?", 2)[1], 400, `contains ':'`},
		{"device name", "GET", srv.URL + "/storage/local/users/u/NUL.txt?" + strings.SplitN(getURL.URL, "?", 2)[1], 400, "Windows device name NUL"},
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

// A GET URL answers HEAD with the GET's headers and no body, as curl -I expects; it
// allows nothing a GET would not.
func TestLocalHeadOnGetURL(t *testing.T) {
	ctx := context.Background()
	l, _ := newLocal(t)
	key := "users/u/agents/a/configs/c/backup-2026-01-03-040405.tar.zst"
	body := strings.Repeat("0123456789", 1000)
	if err := l.Put(ctx, key, strings.NewReader(body), -1); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	l.SetClock(func() time.Time { return now })
	getURL, err := l.PresignGet(ctx, key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	head := func(rawURL string, header http.Header) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodHead, rawURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = header
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("HEAD %s: %v", rawURL, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	resp, got := head(getURL.URL, http.Header{})
	if resp.StatusCode != http.StatusOK || got != "" {
		t.Fatalf("HEAD on a GET URL: %d with %d body bytes, want 200 and no body", resp.StatusCode, len(got))
	}
	for h, want := range map[string]string{
		"Content-Length": strconv.Itoa(len(body)),
		"Accept-Ranges":  "bytes",
		"Content-Type":   "application/octet-stream",
	} {
		if v := resp.Header.Get(h); v != want {
			t.Errorf("HEAD on a GET URL: %s = %q, want %q", h, v, want)
		}
	}
	if resp.Header.Get("Last-Modified") == "" {
		t.Errorf("HEAD on a GET URL: no Last-Modified")
	}

	// A ranged HEAD describes the range, as the ranged GET would.
	resp, _ = head(getURL.URL, http.Header{"Range": {"bytes=10-19"}})
	if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Length") != "10" ||
		resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 10-19/%d", len(body)) {
		t.Errorf("ranged HEAD: %d, Content-Length %q, Content-Range %q; want 206, 10, bytes 10-19/%d",
			resp.StatusCode, resp.Header.Get("Content-Length"), resp.Header.Get("Content-Range"), len(body))
	}

	// HEAD is allowed only where GET is: not on a PUT or part URL, not for another
	// key, not after expiry; and a missing object is a 404 as for GET.
	putURL, err := l.PresignPut(ctx, key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	id, err := l.CreateMultipart(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	partURL, err := l.PresignPart(ctx, key, id, 1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	missingURL, err := l.PresignGet(ctx, key+".manifest", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	otherKey := strings.Replace(getURL.URL, "040405", "040406", 1)
	for _, tt := range []struct {
		name, url string
		want      int
	}{
		{"PUT URL", putURL.URL, http.StatusForbidden},
		{"part URL", partURL.URL, http.StatusForbidden},
		{"another key", otherKey, http.StatusForbidden},
		{"missing object", missingURL.URL, http.StatusNotFound},
	} {
		if resp, _ := head(tt.url, http.Header{}); resp.StatusCode != tt.want {
			t.Errorf("HEAD on a %s: %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
	}
	now = now.Add(time.Minute + time.Second)
	if resp, _ := head(getURL.URL, http.Header{}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("HEAD on an expired GET URL: %d, want 403", resp.StatusCode)
	}
}

// Keys that are no portable file name are refused wherever a key or prefix enters,
// with an error that names the key and what is wrong, before anything touches the
// disk.
func TestLocalRefusesNonPortableKeys(t *testing.T) {
	ctx := context.Background()
	l, _ := newLocal(t)
	const base = "users/u/agents/a/configs/c/"
	bad := []struct{ key, want string }{
		{base + "backup-2026-01-03T04:04:05Z.tar.zst", `':'`},
		{base + "a<b", `'<'`},
		{base + "a|b", `'|'`},
		{base + "a?b", `'?'`},
		{base + "a*b", `'*'`},
		{base + `a"b`, `'"'`},
		{base + "a\u0085b", "control character U+0085"},
		{base + "a\tb", "control character U+0009"},
		{base + `a\b`, "backslash"},
		{base + "CON", "Windows device name CON"},
		{base + "nul.tar.gz", "Windows device name NUL"},
		{base + "com3/x", "Windows device name COM3"},
		{base + "x.", "ends in a dot"},
		{base + "x /y", "ends in a space"},
		{base + "../../../../../etc/passwd", `".." segment`},
		{"/etc/passwd", "absolute"},
		{base + strings.Repeat("n", 256), "longer than the 255"},
	}
	id, err := l.CreateMultipart(ctx, base+"ok")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range bad {
		key := tt.key
		calls := map[string]error{}
		_, calls["PresignPut"] = l.PresignPut(ctx, key, time.Minute)
		_, calls["PresignGet"] = l.PresignGet(ctx, key, time.Minute)
		_, calls["PresignPart"] = l.PresignPart(ctx, key, id, 1, time.Minute)
		_, calls["CreateMultipart"] = l.CreateMultipart(ctx, key)
		calls["CompleteMultipart"] = l.CompleteMultipart(ctx, key, id, []storage.Part{{Number: 1, ETag: strings.Repeat("0", 32)}})
		calls["AbortMultipart"] = l.AbortMultipart(ctx, key, id)
		calls["Put"] = l.Put(ctx, key, strings.NewReader("x"), 1)
		_, calls["Get"] = l.Get(ctx, key)
		_, calls["Stat"] = l.Stat(ctx, key)
		calls["Delete"] = l.Delete(ctx, key)
		for name, err := range calls {
			switch {
			case err == nil:
				t.Errorf("%s(%q): no error", name, key)
			case storage.CauseOf(err) != storage.CauseInvalid:
				t.Errorf("%s(%q) = %v, want cause %q", name, key, err, storage.CauseInvalid)
			case !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) || !strings.Contains(err.Error(), tt.want):
				t.Errorf("%s(%q) = %v, want it to name the key and say %s", name, key, err, tt.want)
			}
		}
		// A prefix is checked the same way up to its last "/" (a prefix's last segment
		// may be the start of a longer name, so only its characters count there).
		prefix := key + "/"
		if strings.HasPrefix(key, "/") {
			prefix = key
		}
		pcalls := map[string]error{}
		_, pcalls["List"] = l.List(ctx, prefix)
		_, pcalls["Usage"] = l.Usage(ctx, prefix)
		_, pcalls["ListUploads"] = l.ListUploads(ctx, prefix)
		for name, err := range pcalls {
			if err == nil || storage.CauseOf(err) != storage.CauseInvalid || !strings.Contains(err.Error(), fmt.Sprintf("%q", prefix)) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s(%q) = %v, want an invalid-prefix error naming it and saying %s", name, prefix, err, tt.want)
			}
		}
	}
	// Nothing reached the disk, and the upload refused keys could not touch is intact.
	objs, err := l.List(ctx, "")
	if err != nil || len(objs) != 0 {
		t.Errorf("objects after refused keys = %v, %v; want none", objs, err)
	}
	if ups, err := l.ListUploads(ctx, ""); err != nil || len(ups) != 1 || ups[0].UploadID != id {
		t.Errorf("uploads after refused keys = %+v, %v; want only %s", ups, err, id)
	}
	tmp, err := os.ReadDir(filepath.Join(l.Dir(), "tmp"))
	if err != nil || len(tmp) != 0 {
		t.Errorf("tmp/ after refused keys = %v, %v; want empty", tmp, err)
	}
}

// The sealed catalog copy the server stores beside a run (storage.CatalogKey) is a
// product key too: it must round-trip through a local destination.
func TestLocalStoresCatalogKeys(t *testing.T) {
	ctx := context.Background()
	l, _ := newLocal(t)
	run := store.Run{ID: uuid.NewString(), ConfigID: uuid.NewString(), UserID: uuid.NewString()}
	key := storage.CatalogKey(run.UserID, run.ConfigID, run.ID)
	if err := l.Put(ctx, key, strings.NewReader("sealed"), 6); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	objs, err := l.List(ctx, storage.UserPrefix(run.UserID))
	if err != nil || len(objs) != 1 || objs[0].Key != key {
		t.Fatalf("List(user prefix) = %+v, %v; want %q", objs, err, key)
	}
	if err := l.Delete(ctx, key); err != nil {
		t.Errorf("Delete(%q): %v", key, err)
	}
}
