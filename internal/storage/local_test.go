package storage_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/storage/storagetest"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// newLocal returns a Local in a temporary directory, mounted as the server mounts it
// under /storage/local/ of a test HTTP server.
func newLocal(t *testing.T) (*storage.Local, *httptest.Server) {
	t.Helper()
	var l *storage.Local
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
