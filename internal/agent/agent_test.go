package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/engine/scan"
	"github.com/backapp/backapp/internal/engine/upload"
	"github.com/backapp/backapp/internal/testenv"
	"github.com/backapp/backapp/internal/testenv/treetest"
)

func sameTree(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d files, want %d: %v", len(got), len(want), keys(got))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("file %s: got %q, want %q", k, trunc(got[k]), trunc(v))
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func newRunner(t *testing.T, f *fakeServer) *Runner {
	t.Helper()
	st, err := OpenState(filepath.Join(t.TempDir(), "state"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Runner{Client: f.client(t), State: st, ProgressEvery: 20 * time.Millisecond,
		Upload: upload.Options{Backoff: func(int) time.Duration { return 5 * time.Millisecond }}}
}

func addConfig(f *fakeServer, id, src string, o agentproto.Options) {
	f.set(func(f *fakeServer) {
		f.configs[id] = agentproto.Config{ID: id, Name: "docs", Enabled: true, Sources: []agentproto.Source{{Path: src}}, Options: o}
	})
}

func TestBackupAndRestoreIncrementalChain(t *testing.T) {
	f := newFakeServer(t)
	r := newRunner(t, f)
	ctx := context.Background()
	src := t.TempDir()
	treetest.Write(t, src, map[string]string{"a.txt": "alpha", "sub/b.txt": "bravo", "sub/c.txt": "charlie"})
	addConfig(f, "cfg1", src, agentproto.Options{Type: "incremental", Compression: "zstd"})

	// Faults on the way: the first part URL is already expired, and the API answers
	// 503 twice.
	f.set(func(f *fakeServer) { f.expireNext = 1; f.fail503 = 2 })
	res1, err := r.Backup(ctx, BackupRequest{ConfigID: "cfg1"})
	if err != nil {
		t.Fatalf("first backup: %v", err)
	}
	run1 := f.run(res1.RunID)
	if res1.Status != agentproto.StatusCompleted || run1.status != agentproto.StatusCompleted || !run1.full {
		t.Fatalf("first run: agent says %s, server %s (full %v)", res1.Status, run1.status, run1.full)
	}
	if res1.S3Path != run1.archiveKey || len(f.objects[run1.archiveKey]) == 0 {
		t.Errorf("archive not stored at %s (agent says %s)", run1.archiveKey, res1.S3Path)
	}
	if p, ok := r.State.Previous("cfg1"); !ok || p.RunID == "" || p.RunID != res1.RunID {
		t.Errorf("local previous = %+v, %v; want run %s", p, ok, res1.RunID)
	}
	if len(f.catalogs[res1.RunID]) == 0 {
		t.Errorf("catalog of run %s not sent", res1.RunID)
	}
	noRunState(t, r)

	// Change the tree: one file changed, one deleted, one added.
	time.Sleep(10 * time.Millisecond)
	treetest.Write(t, src, map[string]string{"a.txt": "alpha v2", "new.txt": "november"})
	os.Remove(filepath.Join(src, "sub/c.txt"))
	res2, err := r.Backup(ctx, BackupRequest{ConfigID: "cfg1"})
	if err != nil {
		t.Fatalf("second backup: %v", err)
	}
	if run2 := f.run(res2.RunID); run2.full || run2.previous != res1.RunID {
		t.Fatalf("second run: full %v previous %q; want incremental on %s", run2.full, run2.previous, res1.RunID)
	}
	if res2.Progress.FilesDone == 0 {
		t.Errorf("second run reported no files: %+v", res2.Progress)
	}

	// Restore the point in time of each run.
	dst1, dst2 := t.TempDir(), t.TempDir()
	if _, err := r.Restore(ctx, RestoreRequest{RunID: res1.RunID, Target: dst1}); err != nil {
		t.Fatalf("restore run 1: %v", err)
	}
	if _, err := r.Restore(ctx, RestoreRequest{RunID: res2.RunID, Target: dst2}); err != nil {
		t.Fatalf("restore run 2: %v", err)
	}
	rel := scan.ArchiveName(src)
	sameTree(t, treetest.Read(t, filepath.Join(dst1, rel)), map[string]string{"a.txt": "alpha", "sub/b.txt": "bravo", "sub/c.txt": "charlie"})
	sameTree(t, treetest.Read(t, filepath.Join(dst2, rel)), map[string]string{"a.txt": "alpha v2", "sub/b.txt": "bravo", "new.txt": "november"})

	// A subset, and nothing replaced without Overwrite.
	dst3 := t.TempDir()
	if _, err := r.Restore(ctx, RestoreRequest{RunID: res2.RunID, Target: dst3, Paths: []string{rel + "/sub"}}); err != nil {
		t.Fatalf("subset restore: %v", err)
	}
	sameTree(t, treetest.Read(t, filepath.Join(dst3, rel)), map[string]string{"sub/b.txt": "bravo"})
	if _, err := r.Restore(ctx, RestoreRequest{RunID: res2.RunID, Target: dst3, Paths: []string{rel + "/sub"}}); err == nil {
		t.Errorf("restore over existing files without overwrite succeeded")
	}

	// Losing the local state: the next incremental gets the previous manifest back
	// from the server's catalog.
	r.State = mustState(t)
	treetest.Write(t, src, map[string]string{"later.txt": "lima"})
	res3, err := r.Backup(ctx, BackupRequest{ConfigID: "cfg1"})
	if err != nil {
		t.Fatalf("third backup without local state: %v", err)
	}
	dst4 := t.TempDir()
	if _, err := r.Restore(ctx, RestoreRequest{RunID: res3.RunID, Target: dst4}); err != nil {
		t.Fatalf("restore run 3: %v", err)
	}
	sameTree(t, treetest.Read(t, filepath.Join(dst4, rel)), map[string]string{"a.txt": "alpha v2", "sub/b.txt": "bravo", "new.txt": "november", "later.txt": "lima"})
}

func mustState(t *testing.T) *State {
	t.Helper()
	st, err := OpenState(filepath.Join(t.TempDir(), "state"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestRestoreRefreshesExpiredURLs(t *testing.T) {
	f := newFakeServer(t)
	r := newRunner(t, f)
	ctx := context.Background()
	src := t.TempDir()
	treetest.Write(t, src, map[string]string{"f.txt": "foxtrot"})
	addConfig(f, "cfg", src, agentproto.Options{})
	res, err := r.Backup(ctx, BackupRequest{ConfigID: "cfg"})
	if err != nil {
		t.Fatal(err)
	}
	// URLs that expire at once: the chain is fetched again, and the restore still fails
	// clearly rather than loop forever; then with a normal lifetime it works.
	f.set(func(f *fakeServer) { f.urlTTL = -time.Second })
	_, err = r.Restore(ctx, RestoreRequest{RunID: res.RunID, Target: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("restore with expired URLs: got %v, want an error saying expired", err)
	}
	f.set(func(f *fakeServer) { f.urlTTL = time.Hour })
	if _, err := r.Restore(ctx, RestoreRequest{RunID: res.RunID, Target: t.TempDir()}); err != nil {
		t.Errorf("restore: %v", err)
	}
	// Another agent's (or an unknown) run: a clear not found, nothing written.
	dst := t.TempDir()
	_, err = r.Restore(ctx, RestoreRequest{RunID: "someone-elses", Target: dst})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown run: got %v, want ErrNotFound", err)
	}
	if ents, _ := os.ReadDir(dst); len(ents) != 0 {
		t.Errorf("unknown run wrote %d entries", len(ents))
	}
}

func TestBackupEncryptedNeedsIdentity(t *testing.T) {
	f := newFakeServer(t)
	r := newRunner(t, f)
	ctx := context.Background()
	src := t.TempDir()
	treetest.Write(t, src, map[string]string{"secret.txt": "sierra"})
	// X25519 rather than a passphrase: scrypt under -race takes minutes.
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	addConfig(f, "cfg", src, agentproto.Options{Encryption: true, Recipients: []string{id.Recipient().String()}})
	res, err := r.Backup(ctx, BackupRequest{ConfigID: "cfg"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(f.objects[f.run(res.RunID).archiveKey], []byte("sierra")) {
		t.Errorf("the stored archive holds the plaintext")
	}
	_, err = r.Restore(ctx, RestoreRequest{RunID: res.RunID, Target: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Errorf("restore without identity: got %v", err)
	}
	other, _ := age.GenerateX25519Identity()
	_, err = r.Restore(ctx, RestoreRequest{RunID: res.RunID, Target: t.TempDir(), Identities: []age.Identity{other}})
	if err == nil || !strings.Contains(err.Error(), "wrong age key") {
		t.Errorf("restore with another key: got %v", err)
	}
	dst := t.TempDir()
	if _, err := r.Restore(ctx, RestoreRequest{RunID: res.RunID, Target: dst, Identities: []age.Identity{id}}); err != nil {
		t.Fatalf("restore with the key: %v", err)
	}
	rel := scan.ArchiveName(src)
	sameTree(t, treetest.Read(t, filepath.Join(dst, rel)), map[string]string{"secret.txt": "sierra"})
}

// bigTree writes n MiB of random data, so that a throttled backup takes a while.
func bigTree(t *testing.T, mib int) string {
	t.Helper()
	src := t.TempDir()
	b := make([]byte, mib<<20)
	rand.Read(b)
	if err := os.WriteFile(filepath.Join(src, "big.bin"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return src
}

func TestBackupCancelledFromServer(t *testing.T) {
	f := newFakeServer(t)
	r := newRunner(t, f)
	src := bigTree(t, 2)
	addConfig(f, "cfg", src, agentproto.Options{Compression: "none", Bandwidth: 256}) // 256 KB/s: ~8 s
	var once sync.Once
	res, err := r.Backup(context.Background(), BackupRequest{ConfigID: "cfg", Started: func(st agentproto.BackupStartResponse) {
		once.Do(func() { f.set(func(f *fakeServer) { f.cancel[st.RunID] = true }) })
	}})
	if !errors.Is(err, ErrCancelled) {
		t.Fatalf("got %v, want ErrCancelled", err)
	}
	run := f.run(res.RunID)
	if run.status != agentproto.StatusCancelled || res.Status != agentproto.StatusCancelled {
		t.Errorf("run status: server %q, agent %q; want cancelled", run.status, res.Status)
	}
	if n := len(f.objects); n != 0 {
		t.Errorf("%d objects stored by a cancelled run", n)
	}
	if _, ok := r.State.Previous("cfg"); ok {
		t.Errorf("a cancelled run left a previous manifest")
	}
}

func TestBackupFailureReported(t *testing.T) {
	f := newFakeServer(t)
	r := newRunner(t, f)
	addConfig(f, "cfg", filepath.Join(t.TempDir(), "missing"), agentproto.Options{})
	res, err := r.Backup(context.Background(), BackupRequest{ConfigID: "cfg"})
	if err == nil {
		t.Fatal("backup of a missing source succeeded")
	}
	if run := f.run(res.RunID); run.status != agentproto.StatusFailed || run.complete.Error == "" {
		t.Errorf("server recorded %q with error %q; want failed with the cause", run.status, run.complete.Error)
	}
	noRunState(t, r)
	// A config that is not this agent's: not found, nothing started.
	_, err = r.Backup(context.Background(), BackupRequest{ConfigID: "not-mine"})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("other config: got %v, want ErrNotFound", err)
	}
}

// noRunState fails t unless the state holds no run directory: a reported run leaves
// neither checkpoint nor manifest spool (the spool closed first, or Windows keeps it).
func noRunState(t *testing.T, r *Runner) {
	t.Helper()
	if ents, err := os.ReadDir(filepath.Join(r.State.Dir, "runs")); len(ents) != 0 || (err != nil && !os.IsNotExist(err)) {
		t.Errorf("run state left after the run was reported: %v, %v", ents, err)
	}
}

// logBuffer collects log lines for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestDaemon(t *testing.T) {
	f := newFakeServer(t)
	r := newRunner(t, f)
	var logs logBuffer
	ship := NewLogShipper(r.Client)
	ship.every = 20 * time.Millisecond
	log := slog.New(ship.Handler(slog.NewTextHandler(&logs, nil), slog.LevelInfo))
	r.Log = log
	d := &Daemon{Runner: r, Host: agentproto.Host{Hostname: "h1", Platform: "linux", Arch: "amd64", Version: "test"}, Log: log,
		Heartbeat: 20 * time.Millisecond, Backoff: func(int) time.Duration { return 20 * time.Millisecond }}
	f.set(func(f *fakeServer) { f.nextHB = 0 }) // the daemon's own interval
	small := t.TempDir()
	treetest.Write(t, small, map[string]string{"x.txt": "x-ray"})
	addConfig(f, "small", small, agentproto.Options{})
	addConfig(f, "slow", bigTree(t, 2), agentproto.Options{Compression: "none", Bandwidth: 256})

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	var runErr error
	go func() { defer wg.Done(); runErr = RunDaemon(ctx, d, ship) }()
	defer func() { stop(); wg.Wait() }()

	testenv.Eventually(t, "a heartbeat", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.heartbeats > 0 })
	f.set(func(f *fakeServer) {
		if h := f.hosts[len(f.hosts)-1]; h.Hostname != "h1" || h.Platform != "linux" || h.Version != "test" {
			t.Errorf("heartbeat host = %+v", h)
		}
	})

	// Run now, twice for the same config in one answer: one after the other, never both.
	f.set(func(f *fakeServer) {
		f.commands = []agentproto.Command{{Type: agentproto.CommandRun, RunID: "r1", ConfigID: "small"},
			{Type: agentproto.CommandRun, RunID: "r2", ConfigID: "small"}}
	})
	testenv.Eventually(t, "both runs of small", func() bool {
		return f.run("r1").status == agentproto.StatusCompleted && f.run("r2").status == agentproto.StatusCompleted
	})
	f.set(func(f *fakeServer) {
		if f.maxOpen["small"] != 1 {
			t.Errorf("config small had %d runs open at once", f.maxOpen["small"])
		}
	})

	// Cancel a slow run from the server.
	f.set(func(f *fakeServer) {
		f.commands = []agentproto.Command{{Type: agentproto.CommandRun, RunID: "r3", ConfigID: "slow"}}
	})
	testenv.Eventually(t, "r3 running", func() bool { return f.run("r3").status == agentproto.StatusRunning })
	f.set(func(f *fakeServer) { f.commands = []agentproto.Command{{Type: agentproto.CommandCancel, RunID: "r3"}} })
	testenv.Eventually(t, "r3 cancelled", func() bool { return f.run("r3").status == agentproto.StatusCancelled })

	// A restore command, reported back.
	dst := t.TempDir()
	f.set(func(f *fakeServer) {
		f.commands = []agentproto.Command{{Type: agentproto.CommandRestore, Restore: &agentproto.RestoreSpec{RestoreID: "rs1", RunID: "r2", TargetDir: dst}}}
	})
	testenv.Eventually(t, "restore reported", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.restores) > 0 })
	f.set(func(f *fakeServer) {
		if rs := f.restores[0]; rs.Status != agentproto.StatusCompleted || rs.FilesWritten == 0 {
			t.Errorf("restore report = %+v", rs)
		}
	})

	// Heartbeats say what the agent can do, and list a running restore (a long one:
	// its download is held) until it ends.
	f.set(func(f *fakeServer) {
		if hb := f.hbReqs[0]; !slices.Contains(hb.Features, agentproto.FeatureEstimate) || !slices.Contains(hb.Features, agentproto.FeatureReportRestores) {
			t.Errorf("heartbeat features = %v", hb.Features)
		}
		// The uptime tells the server of a restart: it grows from the first heartbeat on.
		if first, last := f.hbReqs[0].UptimeMS, f.hbReqs[len(f.hbReqs)-1].UptimeMS; first <= 0 || last <= first {
			t.Errorf("heartbeat uptimeMs: first %d, last %d; want > 0 and growing", first, last)
		}
		f.holdDownload = make(chan struct{})
		// rs1 again, as a server hands out a restore it heard nothing of: it ended
		// here, so it is not run twice (no third report below).
		f.commands = []agentproto.Command{{Type: agentproto.CommandRestore, Restore: &agentproto.RestoreSpec{RestoreID: "rs1", RunID: "r2", TargetDir: dst}},
			{Type: agentproto.CommandRestore, Restore: &agentproto.RestoreSpec{RestoreID: "rs2", RunID: "r2", TargetDir: t.TempDir()}}}
	})
	testenv.Eventually(t, "rs2 listed in a heartbeat", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return slices.Contains(f.hbReqs[len(f.hbReqs)-1].Restores, "rs2")
	})
	f.set(func(f *fakeServer) {
		if got := f.hbReqs[len(f.hbReqs)-1].Restores; !slices.Equal(got, []string{"rs2"}) {
			t.Errorf("restores listed = %v, want [rs2] (rs1, handed out again after it ended, runs twice)", got)
		}
		close(f.holdDownload)
		f.holdDownload = nil
	})
	testenv.Eventually(t, "rs2 reported", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return slices.ContainsFunc(f.restores, func(r agentproto.RestoreCompleteRequest) bool { return r.RestoreID == "rs2" })
	})
	f.set(func(f *fakeServer) {
		if len(f.restores) != 2 {
			t.Errorf("restore reports = %+v; want rs1 and rs2 once each", f.restores)
		}
	})
	testenv.Eventually(t, "rs2 no longer listed", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.hbReqs[len(f.hbReqs)-1].Restores) == 0
	})

	// A size estimate: the config as sent, each source's patterns its own.
	est := t.TempDir()
	treetest.Write(t, est, map[string]string{"a.txt": "12345", "b.log": "xx", "sub/c.txt": "123", "sub/d.md": "1234567"})
	f.set(func(f *fakeServer) {
		f.commands = []agentproto.Command{{Type: agentproto.CommandEstimate, Estimate: &agentproto.EstimateSpec{EstimateID: "e1",
			Config: agentproto.Config{ID: "small", Sources: []agentproto.Source{
				{Path: est, ExcludePatterns: []string{"*.log"}}, {Path: small, IncludePatterns: []string{"*.md"}}}}}}}
	})
	testenv.Eventually(t, "estimate reported", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.estimates) > 0 })
	f.set(func(f *fakeServer) {
		want := agentproto.EstimateCompleteRequest{EstimateID: "e1", Status: agentproto.EstimateDone, Files: 3, Dirs: 2, Bytes: 15}
		if got := f.estimates[0]; !reflect.DeepEqual(got, want) {
			t.Errorf("estimate = %+v, want %+v", got, want)
		}
	})

	// The server goes away and comes back: the daemon carries on.
	unreachable := strings.Count(logs.String(), "server unreachable")
	f.set(func(f *fakeServer) { f.down = true })
	testenv.Eventually(t, "the outage logged", func() bool { return strings.Count(logs.String(), "server unreachable") > unreachable })
	var before int
	f.set(func(f *fakeServer) { f.down = false; before = f.heartbeats })
	testenv.Eventually(t, "heartbeats after the outage", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.heartbeats > before+1 })
	testenv.Eventually(t, "the end of the outage logged", func() bool { return strings.Contains(logs.String(), "server reachable again") })

	// Log lines reached the server.
	testenv.Eventually(t, "shipped logs", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, e := range f.logs {
			if e.Message == "backup completed" && e.Metadata["run"] == "r1" {
				return true
			}
		}
		return false
	})

	// Stopping during a backup: the run is reported cancelled before Run returns.
	f.set(func(f *fakeServer) {
		f.commands = []agentproto.Command{{Type: agentproto.CommandRun, RunID: "r4", ConfigID: "slow"}}
	})
	// Running on the agent, not only opened on the server: stopped while the answer
	// that opens it is on its way, the run is reported cancelled without starting
	// (TestBackupCancelledWhileStarting), which this part is not about.
	testenv.Eventually(t, "r4 running", func() bool {
		return f.run("r4").status == agentproto.StatusRunning && strings.Contains(logs.String(), `msg="backup started" run=r4`)
	})
	stop()
	wg.Wait()
	if runErr != nil {
		t.Errorf("RunDaemon: %v", runErr)
	}
	if st := f.run("r4").status; st != agentproto.StatusCancelled {
		t.Errorf("r4 after shutdown: %q, want cancelled", st)
	}
	// The shipper outlives the daemon: what it logged while stopping reached the server.
	f.set(func(f *fakeServer) {
		for _, e := range f.logs {
			if e.Message == "backup cancelled" && e.Metadata["run"] == "r4" {
				return
			}
		}
		t.Errorf("no \"backup cancelled\" line of r4 shipped before RunDaemon returned")
	})
	if st, ok := r.State.LoadStatus(); !ok || st.LastHeartbeat.IsZero() {
		t.Errorf("status file: %+v, %v", st, ok)
	}
}

func TestDaemonRevokedKey(t *testing.T) {
	f := newFakeServer(t)
	r := newRunner(t, f)
	var logs logBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	d := &Daemon{Runner: r, Log: log, Heartbeat: 10 * time.Millisecond, Backoff: func(int) time.Duration { return 10 * time.Millisecond }}
	f.set(func(f *fakeServer) { f.revoked = true })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := d.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "agent key is no longer valid") {
		t.Errorf("revocation not logged:\n%s", logs.String())
	}
	f.set(func(f *fakeServer) {
		// Refused at once, then asked again only after a minute, not every 10 ms.
		if f.heartbeats != 0 {
			t.Errorf("the fake counted %d heartbeats from a revoked key", f.heartbeats)
		}
	})
	if st, ok := r.State.LoadStatus(); !ok || !strings.Contains(st.LastError, "401") {
		t.Errorf("status = %+v", st)
	}
}

// TestDeltaRunsKeepSmallState: with a server that takes deltas, an unchanged run
// uploads no archive and sends no catalog (unencrypted), the local state keeps the
// tree plus one small delta file per run and folds them into a new tree after
// maxDeltas, and every point in time restores.
func TestDeltaRunsKeepSmallState(t *testing.T) {
	f := newFakeServer(t)
	f.deltas = true
	r := newRunner(t, f)
	ctx := context.Background()
	src := t.TempDir()
	files := map[string]string{"a.txt": "alpha", "sub/b.txt": "bravo"}
	treetest.Write(t, src, files)
	addConfig(f, "cfg1", src, agentproto.Options{Type: "incremental", Compression: "zstd"})
	rel := scan.ArchiveName(src)
	for i := range maxDeltas + 3 {
		changed := i > 0 && i%5 == 0
		if changed {
			p := fmt.Sprintf("f%02d.txt", i)
			files[p] = p
			treetest.Write(t, src, map[string]string{p: p})
		}
		res, err := r.Backup(ctx, BackupRequest{ConfigID: "cfg1"})
		if err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
		run := f.run(res.RunID)
		unchanged := i > 0 && !changed
		if got := run.complete.Archive == nil; got != unchanged || res.Stored.NoArchive != unchanged {
			t.Errorf("run %d (unchanged %v): no archive %v / %v", i, unchanged, got, res.Stored.NoArchive)
		}
		if i > 0 && len(f.catalogs[res.RunID]) != 0 {
			t.Errorf("run %d: catalog sent for an unencrypted delta run", i)
		}
		if unchanged && (res.Stored.Archive != 0 || res.Stored.Manifest == 0 || res.Stored.Manifest > 1024) {
			t.Errorf("run %d unchanged: stored %+v; want no archive and a manifest of a few hundred bytes", i, res.Stored)
		}
		p, ok := r.State.Previous("cfg1")
		if !ok || p.RunID != res.RunID {
			t.Fatalf("run %d: local previous %+v, %v", i, p, ok)
		}
		if want := i % maxDeltas; len(p.Deltas) != want {
			t.Errorf("run %d: %d delta files kept, want %d", i, len(p.Deltas), want)
		}
		if i%7 == 3 || i == maxDeltas+2 {
			dst := t.TempDir()
			if _, err := r.Restore(ctx, RestoreRequest{RunID: res.RunID, Target: dst}); err != nil {
				t.Fatalf("restore run %d: %v", i, err)
			}
			sameTree(t, treetest.Read(t, filepath.Join(dst, rel)), files)
		}
	}
	if m, err := filepath.Glob(filepath.Join(r.State.Dir, "configs", "cfg1", "delta-*.zst")); err != nil || len(m) != 2 {
		t.Errorf("delta files on disk after folding: %v, %v; want 2", m, err)
	}
}

// A backup cancelled while the answer that opens it is on its way (the server opened
// the run; the agent stops, or the user cancels, before the answer arrives) is
// reported cancelled, so it does not stay running until the reaper fails it, and the
// agent's log says it was cancelled: the server shows it so.
func TestBackupCancelledWhileStarting(t *testing.T) {
	f := newFakeServer(t)
	addConfig(f, "small", t.TempDir(), agentproto.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != agentproto.PathBackupStart {
			f.ServeHTTP(w, r)
			return
		}
		f.ServeHTTP(httptest.NewRecorder(), r) // the server opens the run…
		cancel()                               // …and the agent stops before the answer arrives
		<-r.Context().Done()
	}))
	t.Cleanup(cut.Close)
	r := newRunner(t, f)
	c, err := NewClient(ClientOptions{Server: cut.URL, Key: testKey, Backoff: func(int) time.Duration { return 10 * time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	r.Client = c
	var logs logBuffer
	r.Log = slog.New(slog.NewTextHandler(&logs, nil))
	if _, err := r.Backup(ctx, BackupRequest{ConfigID: "small", RunID: "r1"}); err == nil {
		t.Fatal("Backup cut off while starting: no error")
	}
	if st := f.run("r1").status; st != agentproto.StatusCancelled {
		t.Errorf("run on the server: %q, want cancelled", st)
	}
	if got := logs.String(); !strings.Contains(got, `msg="backup cancelled" run=r1 config=small`) {
		t.Errorf("agent log says nothing of the cancelled run:\n%s", got)
	}
}
