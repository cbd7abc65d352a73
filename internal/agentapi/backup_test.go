package agentapi_test

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/testenv"
	"github.com/backapp/backapp/internal/testenv/treetest"
)

// The whole protocol with the real engine: a queued run reaches the agent through a
// long-polling heartbeat, the archive lands at the seed's key, an incremental follows,
// another agent of the same user restores both byte for byte, and nobody else gets in.
func TestBackupAndRestoreWithEngine(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env, dest string) {
		ctx := context.Background()
		alice := e.user("alice@example.com")
		a, b := e.agent(alice, "laptop"), e.agent(alice, "desktop")
		mallory := e.agent(e.user("mallory@example.com"), "evil")
		cfg := e.config(a, dest, `{"type":"incremental","compression":"zstd"}`)

		var reg agentproto.RegisterResponse
		code, msg := a.call("POST", agentproto.PathRegister, agentproto.RegisterRequest{Host: agentproto.Host{Hostname: "lap", Platform: "linux", Arch: "amd64", Version: "1.0"}}, &reg)
		mustOK(t, "register", code, msg)
		if reg.AgentID != a.ID || reg.UserID != alice.ID || reg.Name != "laptop" {
			t.Errorf("register = %+v, want agent %s of user %s", reg, a.ID, alice.ID)
		}
		if got, _ := e.st.GetAgent(ctx, a.ID); got.EnrolledAt == nil || got.Hostname != "lap" || got.Status != store.AgentOnline {
			t.Errorf("after register: %+v, want enrolled, hostname lap, online", got)
		}

		var cs agentproto.ConfigsResponse
		code, msg = a.call("GET", agentproto.PathConfigs, nil, &cs)
		mustOK(t, "configs", code, msg)
		if len(cs.Configs) != 1 || cs.Configs[0].ID != cfg.ID || cs.Configs[0].Options.Compression != "zstd" || cs.Configs[0].Sources[0].ExcludePatterns[0] != "*.tmp" {
			t.Errorf("configs of a = %+v", cs.Configs)
		}
		code, msg = b.call("GET", agentproto.PathConfigs, nil, &cs)
		mustOK(t, "configs of b", code, msg)
		if len(cs.Configs) != 0 {
			t.Errorf("b sees configs %+v, want none", cs.Configs)
		}

		// A run queued while the agent long-polls reaches it at once.
		hb := make(chan agentproto.HeartbeatResponse, 1)
		go func() {
			var out agentproto.HeartbeatResponse
			a.call("POST", agentproto.PathHeartbeat+"?wait=10s", agentproto.HeartbeatRequest{}, &out)
			hb <- out
		}()
		testenv.Eventually(t, "the heartbeat to long-poll", func() bool { return e.api.LongPolls(a.ID) > 0 })
		queued := store.Run{ConfigID: cfg.ID, UserID: alice.ID, AgentID: a.ID, StartTime: e.clock.Now(), Status: agentproto.StatusQueued}
		if err := e.st.CreateRun(ctx, &queued); err != nil {
			t.Fatal(err)
		}
		e.api.Notify(a.ID)
		select {
		case out := <-hb:
			if len(out.Commands) != 1 || out.Commands[0].Type != agentproto.CommandRun || out.Commands[0].RunID != queued.ID {
				t.Fatalf("long-poll heartbeat commands = %+v, want run %s", out.Commands, queued.ID)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("long-poll heartbeat did not return within 5 s of the run being queued")
		}

		src := t.TempDir()
		treetest.Write(t, src, map[string]string{"a.txt": "alpha", "dir/b.txt": strings.Repeat("beta ", 1000), "skip.tmp": "x"})
		start, done := a.backup(t, cfg.ID, queued.ID, src)
		if start.RunID != queued.ID || !start.Full || done.Status != agentproto.StatusCompleted {
			t.Fatalf("first run: start %+v, done %+v; want the queued run, full, completed", start, done)
		}
		seedKey := regexp.MustCompile(`^users/` + alice.ID + `/agents/` + a.ID + `/configs/` + cfg.ID + `/backup-\d{4}-\d{2}-\d{2}-\d{6}\.tar\.zst$`)
		if !seedKey.MatchString(done.S3Path) || start.ManifestKey != done.S3Path+".manifest" {
			t.Errorf("archive key %q (manifest %q), want the seed's form", done.S3Path, start.ManifestKey)
		}
		run := e.run(start.RunID)
		if run.Status != "completed" || run.ArchiveSize <= 0 || len(run.ArchiveSHA256) != 64 || run.ManifestSize <= 0 ||
			run.ArchiveUploadID != "" || run.DurationMS == nil || run.S3Path != done.S3Path || run.FilesProcessed == 0 {
			t.Errorf("recorded run = %+v", run)
		}
		d := e.dests[dest]
		if obj, err := d.Stat(ctx, run.S3Path); err != nil || obj.Size != run.ArchiveSize {
			t.Errorf("Stat(archive) = %+v, %v; want size %d", obj, err, run.ArchiveSize)
		}

		// An incremental on changed files.
		treetest.Write(t, src, map[string]string{"a.txt": "alpha 2", "c.txt": "gamma"})
		e.clock.Add(time.Hour)
		start2, done2 := a.backup(t, cfg.ID, "", src)
		if start2.Full || start2.Previous == nil || start2.Previous.RunID != start.RunID || done2.Status != "completed" {
			t.Fatalf("second run: %+v %+v; want incremental on %s", start2, done2, start.RunID)
		}

		// Agent B cannot read A's archives on its own, only once the user assigned it a
		// restore of that run.
		_, code, msg = b.restore(t, start.RunID)
		wantStatus(t, "b downloads a's run unasked", code, msg, http.StatusForbidden)
		for _, id := range []string{start.RunID, start2.RunID} {
			if err := e.st.CreateRestore(ctx, &store.Restore{UserID: alice.ID, RunID: id, AgentID: b.ID, TargetDir: "/restore"}); err != nil {
				t.Fatal(err)
			}
		}

		// Agent B restores A's runs: the full one and the point in time after the incremental.
		want1 := map[string]string{"a.txt": "alpha", "dir/b.txt": strings.Repeat("beta ", 1000)}
		got, code, msg := b.restore(t, start.RunID)
		mustOK(t, "b restores a's first run", code, msg)
		equalTrees(t, "restore of the full run", sub(t, got, src), want1)
		got, code, msg = b.restore(t, start2.RunID)
		mustOK(t, "b restores a's second run", code, msg)
		want2 := map[string]string{"a.txt": "alpha 2", "c.txt": "gamma", "dir/b.txt": strings.Repeat("beta ", 1000)}
		equalTrees(t, "restore of the incremental", sub(t, got, src), want2)

		// Nobody else gets anything, and "not found" never says whether it exists.
		_, code, msg = mallory.restore(t, start.RunID)
		wantStatus(t, "another user's agent downloads", code, msg, http.StatusNotFound)
		var cat []byte
		code, msg = mallory.call("GET", agentproto.PathBackupCatalog+"?runId="+start.RunID, nil, &cat)
		wantStatus(t, "another user's agent reads the catalog", code, msg, http.StatusNotFound)
		for _, who := range []*agent{b, mallory} {
			code, msg = who.call("POST", agentproto.PathBackupStart, agentproto.BackupStartRequest{ConfigID: cfg.ID}, nil)
			wantStatus(t, who.Name+" starts a's config", code, msg, http.StatusNotFound)
			code, msg = who.call("POST", agentproto.PathBackupParts, agentproto.PartsRequest{RunID: start2.RunID, Object: "archive", PartNumbers: []int{1}}, nil)
			wantStatus(t, who.Name+" asks part URLs of a's run", code, msg, http.StatusNotFound)
			code, msg = who.call("POST", agentproto.PathBackupProgress, agentproto.Progress{RunID: start2.RunID}, nil)
			wantStatus(t, who.Name+" reports progress of a's run", code, msg, http.StatusNotFound)
			code, msg = who.call("POST", agentproto.PathBackupComplete, agentproto.BackupCompleteRequest{RunID: start2.RunID, Status: "failed"}, nil)
			wantStatus(t, who.Name+" completes a's run", code, msg, http.StatusNotFound)
			code, msg = who.call("POST", agentproto.PathBackupStart, agentproto.BackupStartRequest{ConfigID: "00000000-0000-7000-8000-000000000000"}, nil)
			wantStatus(t, who.Name+" starts an unknown config", code, msg, http.StatusNotFound)
		}
		if got := e.run(start2.RunID); got.Status != "completed" {
			t.Errorf("a's run after the others' attempts: %s", got.Status)
		}

		// The catalog went to the destination sealed, outside every agent prefix.
		obj, err := d.Stat(ctx, "users/"+alice.ID+"/catalog/"+cfg.ID+"/"+start.RunID+".manifest.zst.sealed")
		if err != nil || obj.Size == 0 {
			t.Errorf("sealed catalog: %+v, %v", obj, err)
		}
		uploads, err := d.ListUploads(ctx, storage.AgentPrefix(alice.ID, a.ID))
		if err != nil || len(uploads) != 0 {
			t.Errorf("uploads left after two completed runs: %+v, %v", uploads, err)
		}
	})
}

// start opens a run and PUTs the first archive part (6 MiB, S3's minimum for a non-last
// part) like an agent would before being killed.
func (a *agent) startAndUpload(t *testing.T, configID string) agentproto.BackupStartResponse {
	t.Helper()
	var start agentproto.BackupStartResponse
	code, msg := a.call("POST", agentproto.PathBackupStart, agentproto.BackupStartRequest{ConfigID: configID}, &start)
	mustOK(t, "backup/start", code, msg)
	if len(start.Parts) == 0 {
		t.Fatal("backup/start gave no part URLs")
	}
	p := start.Parts[0]
	if p.Method != "PUT" || p.Object != "archive" || p.PartNumber != 1 || p.ExpiresAt.After(time.Now().Add(time.Hour+time.Minute)) {
		t.Errorf("first part URL %+v: want a PUT of archive part 1 valid ≤ 1 h", p)
	}
	req, _ := http.NewRequest(p.Method, p.URL, strings.NewReader(strings.Repeat("x", 6<<20)))
	for k, v := range p.Header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT part 1: %s", resp.Status)
	}
	return start
}

// A killed agent: its run is failed by the reaper once silent for StaleAfter, its
// uploads are aborted, and the next run succeeds.
func TestKilledAgentRunReaped(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env, dest string) {
		ctx := context.Background()
		u := e.user("u@example.com")
		a := e.agent(u, "a")
		cfg := e.config(a, dest, `{"type":"incremental","compression":"gzip"}`)
		start := a.startAndUpload(t, cfg.ID)
		d := e.dests[dest]
		if ups, _ := d.ListUploads(ctx, storage.AgentPrefix(u.ID, a.ID)); len(ups) != 2 {
			t.Fatalf("open uploads while running: %d, want 2", len(ups))
		}

		e.clock.Add(9 * time.Minute)
		if n, err := e.api.Runs().Reap(ctx); err != nil || n != 0 {
			t.Fatalf("Reap after 9 min = %d, %v; want 0", n, err)
		}
		e.clock.Add(2 * time.Minute)
		if n, err := e.api.Runs().Reap(ctx); err != nil || n != 1 {
			t.Fatalf("Reap after 11 min = %d, %v; want 1", n, err)
		}
		run := e.run(start.RunID)
		if run.Status != "failed" || !strings.Contains(string(run.Errors), "agent stopped reporting") || run.ArchiveUploadID != "" || run.ManifestUpload != "" {
			t.Errorf("reaped run = %+v, want failed, agent stopped reporting, no uploads", run)
		}
		if ups, err := d.ListUploads(ctx, storage.AgentPrefix(u.ID, a.ID)); err != nil || len(ups) != 0 {
			t.Errorf("uploads after the reaper: %+v, %v; want none", ups, err)
		}
		if _, err := d.Stat(ctx, start.ArchiveKey); err == nil {
			t.Errorf("archive %s exists after the run was reaped", start.ArchiveKey)
		}
		var pr agentproto.ProgressResponse
		code, msg := a.call("POST", agentproto.PathBackupProgress, agentproto.Progress{RunID: start.RunID}, &pr)
		mustOK(t, "progress of a reaped run", code, msg)
		if !pr.Cancel {
			t.Error("progress of a reaped run: cancel = false, want true")
		}

		src := t.TempDir()
		treetest.Write(t, src, map[string]string{"f": "after the crash"})
		start2, done := a.backup(t, cfg.ID, "", src)
		if !start2.Full || done.Status != "completed" || !strings.HasSuffix(done.S3Path, ".tar.gz") {
			t.Errorf("next run: %+v %+v; want a full, completed .tar.gz", start2, done)
		}
	})
}

// An agent restarted after a kill starts its config again: the old run is failed, its
// uploads aborted, and a new run begins. A run on another agent is a conflict.
func TestRestartedAgentAndConcurrentRuns(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env, dest string) {
		ctx := context.Background()
		u := e.user("u@example.com")
		a, b := e.agent(u, "a"), e.agent(u, "b")
		cfg := e.config(a, dest, `{"compression":true}`)
		first := a.startAndUpload(t, cfg.ID)
		var second agentproto.BackupStartResponse
		code, msg := a.call("POST", agentproto.PathBackupStart, agentproto.BackupStartRequest{ConfigID: cfg.ID}, &second)
		mustOK(t, "start again after a restart", code, msg)
		if second.RunID == first.RunID {
			t.Fatal("the restarted agent got its old run back")
		}
		if old := e.run(first.RunID); old.Status != "failed" || !strings.Contains(string(old.Errors), "restarted") {
			t.Errorf("old run = %s %s, want failed: restarted", old.Status, old.Errors)
		}
		ups, _ := e.dests[dest].ListUploads(ctx, storage.AgentPrefix(u.ID, a.ID))
		if len(ups) != 2 {
			t.Errorf("open uploads = %d, want the new run's 2", len(ups))
		}

		// The config moves to b while a's run is running: b is refused.
		cfg.AgentID = b.ID
		if err := e.st.UpdateConfig(ctx, &cfg); err != nil {
			t.Fatal(err)
		}
		code, msg = b.call("POST", agentproto.PathBackupStart, agentproto.BackupStartRequest{ConfigID: cfg.ID}, nil)
		wantStatus(t, "second concurrent run of a config", code, msg, http.StatusConflict)

		// Cancel requested: heartbeat and progress say so; a cancelled run aborts its uploads.
		run := e.run(second.RunID)
		run.CancelRequested = true
		if err := e.st.UpdateRun(ctx, &run); err != nil {
			t.Fatal(err)
		}
		var hb agentproto.HeartbeatResponse
		code, msg = a.call("POST", agentproto.PathHeartbeat, agentproto.HeartbeatRequest{Running: []string{run.ID}}, &hb)
		mustOK(t, "heartbeat", code, msg)
		if len(hb.Commands) != 1 || hb.Commands[0].Type != agentproto.CommandCancel || hb.Commands[0].RunID != run.ID {
			t.Errorf("heartbeat commands = %+v, want cancel %s", hb.Commands, run.ID)
		}
		var pr agentproto.ProgressResponse
		code, msg = a.call("POST", agentproto.PathBackupProgress, agentproto.Progress{RunID: run.ID, FilesDone: 3}, &pr)
		mustOK(t, "progress", code, msg)
		if !pr.Cancel {
			t.Error("progress of a cancelled run: cancel = false")
		}
		code, msg = a.call("POST", agentproto.PathBackupComplete, agentproto.BackupCompleteRequest{RunID: run.ID, Status: "cancelled"}, nil)
		mustOK(t, "complete as cancelled", code, msg)
		if got := e.run(run.ID); got.Status != "cancelled" || got.ArchiveUploadID != "" {
			t.Errorf("cancelled run = %+v", got)
		}
		if ups, _ := e.dests[dest].ListUploads(ctx, storage.AgentPrefix(u.ID, a.ID)); len(ups) != 0 {
			t.Errorf("open uploads after cancel = %d, want 0", len(ups))
		}
	})
}

// Parts that do not add up are refused: the run fails and nothing is left.
func TestCompletionRefusedOnInconsistentParts(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env, dest string) {
		ctx := context.Background()
		u := e.user("u@example.com")
		a := e.agent(u, "a")
		cfg := e.config(a, dest, `{}`)
		sha := strings.Repeat("ab", 32)
		for _, tc := range []struct {
			name              string
			archive, manifest *agentproto.UploadedObject
		}{
			{"sizes do not add up", &agentproto.UploadedObject{Parts: []agentproto.CompletedPart{{PartNumber: 1, ETag: "e", Size: 10}}, SHA256: sha, Size: 11},
				&agentproto.UploadedObject{Parts: []agentproto.CompletedPart{{PartNumber: 1, ETag: "e", Size: 1}}, SHA256: sha, Size: 1}},
			{"part numbers skip", &agentproto.UploadedObject{Parts: []agentproto.CompletedPart{{PartNumber: 1, ETag: "e", Size: 10}, {PartNumber: 3, ETag: "e", Size: 1}}, SHA256: sha, Size: 11},
				&agentproto.UploadedObject{Parts: []agentproto.CompletedPart{{PartNumber: 1, ETag: "e", Size: 1}}, SHA256: sha, Size: 1}},
			{"no manifest", &agentproto.UploadedObject{Parts: []agentproto.CompletedPart{{PartNumber: 1, ETag: "e", Size: 10}}, SHA256: sha, Size: 10}, nil},
			{"wrong ETag", &agentproto.UploadedObject{Parts: []agentproto.CompletedPart{{PartNumber: 1, ETag: `"0123"`, Size: 6 << 20}}, SHA256: sha, Size: 6 << 20},
				&agentproto.UploadedObject{Parts: []agentproto.CompletedPart{{PartNumber: 1, ETag: `"0123"`, Size: 1}}, SHA256: sha, Size: 1}},
		} {
			e.clock.Add(time.Minute)
			start := a.startAndUpload(t, cfg.ID)
			code, msg := a.call("POST", agentproto.PathBackupComplete, agentproto.BackupCompleteRequest{RunID: start.RunID,
				Status: "completed", Archive: tc.archive, Manifest: tc.manifest}, nil)
			wantStatus(t, tc.name, code, msg, http.StatusBadRequest)
			run := e.run(start.RunID)
			if run.Status != "failed" || !strings.Contains(string(run.Errors), "completion refused") {
				t.Errorf("%s: run %s %s, want failed: completion refused", tc.name, run.Status, run.Errors)
			}
			if ups, _ := e.dests[dest].ListUploads(ctx, storage.AgentPrefix(u.ID, a.ID)); len(ups) != 0 {
				t.Errorf("%s: %d uploads left, want 0", tc.name, len(ups))
			}
			if _, err := e.dests[dest].Stat(ctx, start.ArchiveKey); err == nil {
				t.Errorf("%s: archive exists after a refused completion", tc.name)
			}
			code, msg = a.call("POST", agentproto.PathBackupComplete, agentproto.BackupCompleteRequest{RunID: start.RunID, Status: "failed"}, nil)
			wantStatus(t, tc.name+": complete again", code, msg, http.StatusConflict)
		}
	})
}

// TestFullEveryDays: an incremental config with fullEveryDays starts a new chain once
// its full backup is that many days old.
func TestFullEveryDays(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env, dest string) {
		alice := e.user("alice@example.com")
		a := e.agent(alice, "laptop")
		cfg := e.config(a, dest, `{"type":"incremental","compression":"zstd","fullEveryDays":7}`)
		src := t.TempDir()
		treetest.Write(t, src, map[string]string{"a.txt": "one"})
		var got []bool
		for _, step := range []time.Duration{0, 24 * time.Hour, 5 * 24 * time.Hour, 24 * time.Hour, 24 * time.Hour} {
			e.clock.Add(step)
			start, done := a.backup(t, cfg.ID, "", src)
			if done.Status != agentproto.StatusCompleted {
				t.Fatalf("backup: %+v", done)
			}
			got = append(got, start.Full)
		}
		// Days 0, 1, 6: one chain; day 7 is a week after the full: a new full; day 8 builds on it.
		want := []bool{true, false, false, true, false}
		if !slices.Equal(got, want) {
			t.Errorf("full backups at days 0,1,6,7,8 = %v, want %v", got, want)
		}
	})
}

// Runs of one configuration started within one second each get their own archive
// name in the seed's form (-2, -3, … appended), and none fails for it: an
// incremental chain never names an archive twice.
func TestRunsInOneSecondGetDistinctNames(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env, dest string) {
		alice := e.user("alice@example.com")
		a := e.agent(alice, "laptop")
		cfg := e.config(a, dest, `{"type":"incremental","compression":"zstd"}`)
		src := t.TempDir()
		e.clock.Add(400 * time.Millisecond) // the clock stands still: every run starts in this second
		name := regexp.MustCompile(`/backup-\d{4}-\d{2}-\d{2}-\d{6}(-\d+)?\.tar\.zst$`)
		seen := map[string]bool{}
		const runs = 7
		for i := range runs {
			treetest.Write(t, src, map[string]string{"f.txt": strings.Repeat("x", i+1)})
			start, done := a.backup(t, cfg.ID, "", src)
			if done.Status != agentproto.StatusCompleted {
				t.Fatalf("run %d: %+v", i+1, done)
			}
			if i > 0 && start.Full {
				t.Errorf("run %d is full; want an incremental on the one before", i+1)
			}
			if !name.MatchString(done.S3Path) || seen[done.S3Path] {
				t.Errorf("run %d: archive %q: want a new name in the seed's form", i+1, done.S3Path)
			}
			seen[done.S3Path] = true
		}
		second := e.clock.Now().UTC().Format("2006-01-02-150405")
		for _, suffix := range []string{"", "-2", "-" + strconv.Itoa(runs)} {
			key := storage.ArchiveKeyN(alice.ID, a.ID, cfg.ID, e.clock.Now(), 1, "zstd", false)
			key = strings.Replace(key, second, second+suffix, 1)
			if !seen[key] {
				t.Errorf("no run named %s; names: %v", key, seen)
			}
		}
	})
}

// One rule for reading another agent's run, for its catalog and its archives alike:
// only while the user has assigned this agent a restore of it, or while this agent's
// own backup builds on it (its configuration moved here).
func TestSiblingAgentReadsFollowOneRule(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env, dest string) {
		ctx := context.Background()
		alice := e.user("alice@example.com")
		a, b := e.agent(alice, "laptop"), e.agent(alice, "desktop")
		cfg := e.config(a, dest, `{"type":"incremental","compression":"zstd"}`)
		src := t.TempDir()
		treetest.Write(t, src, map[string]string{"f.txt": "one"})
		first, _ := a.backup(t, cfg.ID, "", src)

		reads := func(what string, who *agent, want int) {
			t.Helper()
			code, msg := who.call("GET", agentproto.PathBackupCatalog+"?runId="+first.RunID, nil, nil)
			wantStatus(t, what+": catalog", code, msg, want)
			code, msg = who.call("GET", agentproto.PathDownload+"?runId="+first.RunID, nil, nil)
			wantStatus(t, what+": download", code, msg, want)
		}
		reads("the agent that made the run", a, http.StatusOK)
		reads("a sibling on its own", b, http.StatusForbidden)

		rr := store.Restore{UserID: alice.ID, RunID: first.RunID, AgentID: b.ID, TargetDir: "/restore"}
		if err := e.st.CreateRestore(ctx, &rr); err != nil {
			t.Fatal(err)
		}
		reads("a sibling with a restore of the run assigned", b, http.StatusOK)
		if err := e.st.(store.Restores).FinishRestore(ctx, rr.ID, store.RestoreResult{Status: store.RestoreCompleted, At: e.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		reads("a sibling after the restore finished", b, http.StatusForbidden)

		// The configuration moves to b: b's incremental builds on a's run.
		cfg.AgentID = b.ID
		if err := e.st.UpdateConfig(ctx, &cfg); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Hour)
		var start agentproto.BackupStartResponse
		code, msg := b.call("POST", agentproto.PathBackupStart, agentproto.BackupStartRequest{ConfigID: cfg.ID}, &start)
		mustOK(t, "b starts the moved config", code, msg)
		if start.Full || start.Previous == nil || start.Previous.RunID != first.RunID {
			t.Fatalf("b's run: %+v; want an incremental on %s", start, first.RunID)
		}
		reads("a sibling whose running backup builds on the run", b, http.StatusOK)
		code, msg = b.call("POST", agentproto.PathBackupComplete, agentproto.BackupCompleteRequest{RunID: start.RunID, Status: "cancelled"}, nil)
		mustOK(t, "cancel b's run", code, msg)
		reads("a sibling once its backup ended", b, http.StatusForbidden)

		treetest.Write(t, src, map[string]string{"f.txt": "two"})
		next, done := b.backup(t, cfg.ID, "", src)
		if next.Full || done.Status != agentproto.StatusCompleted {
			t.Errorf("b's incremental on a's run: %+v %+v; want completed", next, done)
		}
	})
}
