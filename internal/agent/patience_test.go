package agent

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/engine"
)

// The calls a run depends on retry a server answering 503 for as long as the
// client's patience, far beyond the attempts of other calls; then they give up.
func TestPatientCalls(t *testing.T) {
	var calls, downFor atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= downFor.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":{"code":"unavailable","message":"the server's database is unreachable"}}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"runId":"r1","status":"completed"}`))
	}))
	defer srv.Close()
	c := fastClient(t, srv.URL) // 3 attempts for ordinary calls
	c.SetPatience(2 * time.Second)
	ctx := context.Background()

	downFor.Store(20)
	if _, err := c.BackupComplete(ctx, agentproto.BackupCompleteRequest{RunID: "r1", Status: agentproto.StatusFailed}); err != nil {
		t.Errorf("backup/complete through 20 answers of 503: %v", err)
	}
	if got := calls.Load(); got != 21 {
		t.Errorf("backup/complete made %d requests, want 21", got)
	}

	calls.Store(0)
	downFor.Store(1 << 40)
	start := time.Now()
	_, err := c.BackupComplete(ctx, agentproto.BackupCompleteRequest{RunID: "r1", Status: agentproto.StatusFailed})
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("backup/complete against a server down for good: %v, want ErrUnreachable", err)
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("gave up after %s, want the patience of 2s", d)
	}

	calls.Store(0)
	if _, err := c.BackupProgress(ctx, agentproto.Progress{RunID: "r1"}); err == nil || calls.Load() != 1 {
		t.Errorf("progress: %v after %d requests; want one try (the next report follows)", err, calls.Load())
	}
}

// Checkpoints are private to the agent (0600) and listed again after a restart; a
// run directory without a checkpoint is cleaned up.
func TestRunCheckpoints(t *testing.T) {
	st, err := OpenState(filepath.Join(t.TempDir(), "state"), nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := st.RunSpool("run1")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	rc := RunCheckpoint{ConfigID: "c1", Start: agentproto.BackupStartResponse{RunID: "run1", ArchiveKey: "k"},
		Engine: engine.Checkpoint{Next: 3, TarOffset: 8 << 20}}
	if err := st.SaveCheckpoint(rc); err != nil {
		t.Fatal(err)
	}
	f, err = st.RunSpool("run2") // killed before its first checkpoint
	if err != nil {
		t.Fatal(err)
	}
	f.Close() // as the kill closed it (Windows removes no open file)
	got := st.Checkpoints()
	if len(got) != 1 || got[0].Start.RunID != "run1" || got[0].Engine.Next != 3 || got[0].ConfigID != "c1" {
		t.Errorf("Checkpoints() = %+v, want run1's", got)
	}
	for _, name := range []string{"checkpoint.json", "manifest.zst"} {
		fi, err := os.Stat(filepath.Join(st.Dir, "runs", "run1", name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 { // Windows has no modes: the state inherits the settings directory's ACL
			t.Errorf("%s: %v; want mode 0600", name, fi.Mode())
		}
	}
	if _, err := os.Stat(filepath.Join(st.Dir, "runs", "run2")); !os.IsNotExist(err) {
		t.Errorf("run2 without a checkpoint still in the state: %v", err)
	}
	st.DropRun("run1")
	if got := st.Checkpoints(); len(got) != 0 {
		t.Errorf("after DropRun: %+v", got)
	}
}

// Part URLs are asked for half a batch ahead, so an upload holds URLs for the next
// parts when the server becomes unreachable; while it is, the URLs held are handed
// out at once (the early request is not retried), and the upload waits only when
// they run out.
func TestPartURLsAhead(t *testing.T) {
	f := newFakeServer(t)
	f.runs["r1"] = &fakeRun{id: "r1", archiveKey: "k", manifestKey: "k.manifest", status: agentproto.StatusRunning}
	s := newPartSession(f.client(t), "r1", agentproto.ObjectArchive, nil, time.Now)
	ctx := context.Background()
	if _, err := s.PartURL(ctx, 1, false); err != nil { // parts 1–8
		t.Fatal(err)
	}
	if _, err := s.PartURL(ctx, 5, false); err != nil { // and 9–16, ahead
		t.Fatal(err)
	}
	if !s.cached(16) || s.requests != 2 {
		t.Fatalf("after part 5: %d requests, part 16 cached %v; want 2 and the next batch", s.requests, s.cached(16))
	}
	f.mu.Lock()
	f.down = true
	f.mu.Unlock()
	start := time.Now()
	for n := 6; n <= 16; n++ {
		if _, err := s.PartURL(ctx, n, false); err != nil {
			t.Fatalf("part %d while the server is down: %v", n, err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("handing out held URLs took %s while the server was down", d)
	}
}
