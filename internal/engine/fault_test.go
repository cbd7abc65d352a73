package engine_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/engine"
	"github.com/backapp/backapp/internal/engine/scan"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/engine/upload"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/testenv/faultproxy"
)

// TestFaults runs a backup and a restore through a proxy that fails 10% of part uploads
// with 500/503, resets some connections mid-body, and cuts downloads: both complete and
// the restored tree is identical.
func TestFaults(t *testing.T) {
	cfg := s3test.NewConfig(t)
	proxy := faultproxy.Start(t, cfg.Endpoint, faultproxy.Config{Seed: 7, Rules: []faultproxy.Rule{
		{Name: "503", Match: faultproxy.PartUploads(), Probability: 0.05, Fault: faultproxy.Respond{Status: http.StatusServiceUnavailable}},
		{Name: "500", Match: faultproxy.PartUploads(), Probability: 0.05, Fault: faultproxy.InternalError()},
		{Name: "reset", Match: faultproxy.PartUploads(), Probability: 0.1, Fault: faultproxy.ResetRequestBody{After: 1 << 20}},
		{Name: "first 503", Match: faultproxy.PartUploads(), Nth: []int{1}, Fault: faultproxy.Respond{Status: http.StatusServiceUnavailable}},
		{Name: "first reset", Match: faultproxy.PartUploads(), Nth: []int{2}, Fault: faultproxy.ResetRequestBody{After: 2 << 20}},
	}})
	cfg.Endpoint = proxy.URL()
	dest, err := storage.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}

	src := filepath.Join(t.TempDir(), "src")
	genTree(t, src, treeOpts{smallFiles: 200})
	for i := range 4 { // incompressible data: about 20 parts of 5 MiB
		b := make([]byte, 25<<20)
		_, _ = rand.Read(b)
		must(t, os.WriteFile(filepath.Join(src, fmt.Sprintf("random-%d.bin", i)), b, 0o644))
	}
	want := describe(t, src)
	fast := upload.Options{FirstPart: 5 << 20, Backoff: func(int) time.Duration { return 20 * time.Millisecond }}

	s := mustBackup(t, dest, key(0, seal.Options{}), engine.BackupOptions{Sources: []string{src}, Upload: fast})
	st := proxy.Stats()
	t.Logf("backup: %d parts; proxy: %d requests, %d answered with errors, %d request bodies reset", len(s.res.Archive.Parts), st.Requests, st.Responded, st.RequestBodyResets)
	if st.Responded == 0 || st.RequestBodyResets == 0 {
		t.Errorf("no faults injected (%+v): the test proves nothing", st)
	}

	must(t, proxy.SetRules(
		faultproxy.Rule{Name: "get reset", Match: faultproxy.Methods(http.MethodGet), Probability: 0.5, Fault: faultproxy.ResetResponseBody{After: 3 << 20}},
		faultproxy.Rule{Name: "get 503", Match: faultproxy.Methods(http.MethodGet), Probability: 0.2, Fault: faultproxy.SlowDown()},
	))
	target := t.TempDir()
	if _, err := engine.Restore(context.Background(), engine.RestoreOptions{Target: target, Chain: []engine.ArchiveRef{ref(dest, s)}, Download: fast}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	st2 := proxy.Stats()
	t.Logf("restore: proxy: %d response bodies reset, %d answered with errors", st2.ResponseBodyResets, st2.Responded-st.Responded)
	if st2.ResponseBodyResets == 0 {
		t.Errorf("no download was cut: the test proves nothing")
	}
	compareTrees(t, want, describe(t, filepath.Join(target, filepath.FromSlash(scan.ArchiveName(src)))))
}
