package runs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/agentkey"
	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/runs"
	"github.com/backapp/backapp/internal/secrets"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/sqlite"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// resolver resolves destination ids to destinations, as internal/destinations does.
type resolver map[string]storage.Destination

func (r resolver) Resolve(_ context.Context, _, id string) (storage.Destination, error) {
	if d, ok := r[id]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("destination %q: %w", id, store.ErrNotFound)
}

// lifecycleEnv is a lifecycle over SQLite and a local destination, with one user, one
// agent and one incremental configuration of it.
type lifecycleEnv struct {
	lc    *runs.Lifecycle
	st    store.Store
	clock *clock
	ag    store.Agent
	cfg   store.BackupConfig
}

func newLifecycleEnv(t *testing.T) *lifecycleEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "backapp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	local, err := storage.NewLocal(t.TempDir(), []byte("0123456789abcdef0123456789abcdef"), "http://127.0.0.1:1/storage/local/")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.Load(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)}
	lc, err := runs.NewLifecycle(runs.LifecycleConfig{Store: st, Destinations: resolver{"": local}, Keys: keys, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	u := store.User{Email: "u@example.com", Name: "u", PasswordHash: "x", CreatedAt: c.Now(), UpdatedAt: c.Now()}
	if err := st.CreateUser(ctx, &u, false); err != nil {
		t.Fatal(err)
	}
	_, hash, prefix := agentkey.Generate()
	ag := store.Agent{UserID: u.ID, Name: "laptop", KeyHash: hash, KeyPrefix: prefix, CreatedAt: c.Now(), UpdatedAt: c.Now()}
	if err := st.CreateAgent(ctx, &ag); err != nil {
		t.Fatal(err)
	}
	cfg := store.BackupConfig{UserID: u.ID, Name: "home", Enabled: true, ExecutionMode: "agent", AgentID: ag.ID,
		Sources: json.RawMessage(`[{"path":"/data"}]`), Destination: json.RawMessage(`{"destinationId":""}`),
		Options: json.RawMessage(`{"type":"incremental","compression":"zstd"}`), CreatedAt: c.Now(), UpdatedAt: c.Now()}
	if err := st.CreateConfig(ctx, &cfg); err != nil {
		t.Fatal(err)
	}
	return &lifecycleEnv{lc: lc, st: st, clock: c, ag: ag, cfg: cfg}
}

func (e *lifecycleEnv) start(t *testing.T) agentproto.BackupStartResponse {
	t.Helper()
	resp, err := e.lc.Start(context.Background(), e.ag, agentproto.BackupStartRequest{ConfigID: e.cfg.ID})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return resp
}

// Opening runs without HTTP: the first is full and named after its second, a second run
// in that second gets "-2", a failed run's uploads are aborted, and after a completed
// run the next one is an incremental that names it as its previous run. Another
// agent's configuration is "no such configuration".
func TestLifecycleOpensRuns(t *testing.T) {
	e := newLifecycleEnv(t)
	ctx := context.Background()

	first := e.start(t)
	want := storage.ArchiveKey(e.ag.UserID, e.ag.ID, e.cfg.ID, e.clock.Now(), storage.CompressionZstd, false)
	if !first.Full || first.ArchiveKey != want || first.ManifestKey != storage.ManifestKey(want) || len(first.Parts) != 4 {
		t.Errorf("first run: full %v, key %q, manifest %q, %d part URLs; want full, %q, its manifest, 4",
			first.Full, first.ArchiveKey, first.ManifestKey, len(first.Parts), want)
	}
	out, err := e.lc.Complete(ctx, e.ag, agentproto.BackupCompleteRequest{RunID: first.RunID, Status: agentproto.StatusFailed, Error: "disk on fire"})
	if err != nil || out.Status != agentproto.StatusFailed {
		t.Fatalf("Complete(failed) = %+v, %v", out, err)
	}
	if r, _ := e.st.GetRun(ctx, first.RunID); r.Status != agentproto.StatusFailed || r.ArchiveUploadID != "" || r.ManifestUpload != "" ||
		!strings.Contains(string(r.Errors), "disk on fire") {
		t.Errorf("failed run = status %s, uploads %q %q, errors %s; want failed, aborted, the agent's message", r.Status, r.ArchiveUploadID, r.ManifestUpload, r.Errors)
	}

	second := e.start(t) // the same second
	if want2 := strings.Replace(want, ".tar.zst", "-2.tar.zst", 1); second.ArchiveKey != want2 || !second.Full {
		t.Errorf("second run in the same second: key %q, full %v; want %q, full", second.ArchiveKey, second.Full, want2)
	}
	// The agent's account of the uploads is not checked here: mark it completed as
	// the store would after a checked completion.
	r, err := e.st.GetRun(ctx, second.RunID)
	if err != nil {
		t.Fatal(err)
	}
	end := e.clock.Now()
	r.Status, r.EndTime, r.ManifestSHA256, r.ArchiveUploadID, r.ManifestUpload = agentproto.StatusCompleted, &end, strings.Repeat("ab", 32), "", ""
	if err := e.st.UpdateRun(ctx, &r); err != nil {
		t.Fatal(err)
	}

	e.clock.Add(time.Hour)
	third := e.start(t)
	if third.Full || third.Previous == nil || third.Previous.RunID != second.RunID || third.Previous.ManifestSHA256 != r.ManifestSHA256 {
		t.Errorf("run after a completed one: full %v, previous %+v; want incremental on %s", third.Full, third.Previous, second.RunID)
	}

	_, hash, prefix := agentkey.Generate()
	other := store.Agent{UserID: e.ag.UserID, Name: "desktop", KeyHash: hash, KeyPrefix: prefix, CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	if err := e.st.CreateAgent(ctx, &other); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lc.Start(ctx, other, agentproto.BackupStartRequest{ConfigID: e.cfg.ID}); apperr.KindOf(err) != apperr.NotFound {
		t.Errorf("Start of another agent's configuration: %v; want NotFound", err)
	}
}

// The reaper fails a run silent for StaleAfter, but not while the silence is younger
// than StaleAfter counted from the last database outage a request noted.
func TestLifecycleReaperRidesOutOutages(t *testing.T) {
	e := newLifecycleEnv(t)
	ctx := context.Background()
	run := e.start(t)

	e.clock.Add(5 * time.Minute)
	if err := e.lc.NoteOutage(fmt.Errorf("record progress: %w", io.ErrUnexpectedEOF)); err == nil {
		t.Fatal("NoteOutage must return the error it notes")
	}
	e.clock.Add(e.lc.StaleAfter() - time.Second) // silent for longer than StaleAfter, but the outage is younger
	if n, err := e.lc.Reap(ctx); err != nil || n != 0 {
		t.Fatalf("Reap within StaleAfter of an outage = %d, %v; want 0", n, err)
	}
	e.clock.Add(2 * time.Second)
	if n, err := e.lc.Reap(ctx); err != nil || n != 1 {
		t.Fatalf("Reap after the outage = %d, %v; want 1", n, err)
	}
	if r, _ := e.st.GetRun(ctx, run.RunID); r.Status != agentproto.StatusFailed || r.ArchiveUploadID != "" ||
		!strings.Contains(string(r.Errors), "agent stopped reporting") {
		t.Errorf("reaped run = status %s, upload %q, errors %s; want failed, aborted, agent stopped reporting", r.Status, r.ArchiveUploadID, r.Errors)
	}
}
