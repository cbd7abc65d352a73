package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBuiltInLocalDestination uses the storage `make run` has (SQLite, local disk
// under the data directory) as an agent would: a pre-signed PUT through the server's
// /storage/local/ URL with plain net/http, larger than the API's body limit, then a
// pre-signed GET.
func TestBuiltInLocalDestination(t *testing.T) {
	e := start(t, "")
	ctx := context.Background()
	dest, err := e.App.Destinations.Resolve(ctx, "any-user", "")
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 3<<20) // three times the default 1 MiB body limit
	rand.Read(data)
	key := "users/u1/agents/a1/configs/c1/backup-2025-03-14-150926.tar.gz"
	put, err := dest.PresignPut(ctx, key, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(put.URL, e.Srv.URL+"/storage/local/") {
		t.Fatalf("pre-signed URL %s is not under %s/storage/local/", put.URL, e.Srv.URL)
	}
	req, _ := http.NewRequest(http.MethodPut, put.URL, bytes.NewReader(data))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("PUT: %d %s", res.StatusCode, body)
	}

	get, err := dest.PresignGet(ctx, key, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	res, err = http.Get(get.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("GET: %d, %d bytes, equal %v", res.StatusCode, len(got), bytes.Equal(got, data))
	}
	// The URL allows GET only, and only until it expires.
	req, _ = http.NewRequest(http.MethodPut, get.URL, strings.NewReader("overwrite"))
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusForbidden {
		t.Errorf("PUT to a GET URL: %v %v, want 403", res.StatusCode, err)
	}

	dir := e.App.Destinations.LocalDir()
	if filepath.Base(dir) != "storage" {
		t.Errorf("local destination directory %s, want <data-dir>/storage", dir)
	}
	if info, err := os.Stat(filepath.Join(dir, "objects", filepath.FromSlash(key))); err != nil || info.Size() != int64(len(data)) {
		t.Errorf("object on disk: %v, %v; want %d bytes", info, err, len(data))
	}
}
