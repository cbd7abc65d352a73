package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/store/pgtest"
)

// TestRunNowReachesAgent: "run now" on one replica wakes the agent's long-poll on
// that replica at once, and on another replica within a second (through
// LISTEN/NOTIFY, well before its 5-second re-check); cancel of a running run reaches
// it the same way.
func TestRunNowReachesAgent(t *testing.T) {
	db := pgtest.New(t)
	clock := newSchedClock(time.Now().UTC())
	a := startRuns(t, db, clock, false)
	b := startRuns(t, db, clock, false)
	user := a.Client()
	uid := registerID(t, user, "fast@example.com")
	agentID, key, _ := user.CreateAgent("box")
	cfg := a.MkScheduled(uid, agentID, "manual", "", `{}`)

	for _, tc := range []struct {
		name  string
		agent *runsEnv
		limit time.Duration
	}{{"same replica", a, time.Second}, {"other replica", b, time.Second}} {
		agentClient := tc.agent.Client()
		agentClient.Heartbeat(key, "") // online
		got := make(chan []agentproto.Command, 1)
		go func() { got <- agentClient.Heartbeat(key, "?wait=25s") }()
		time.Sleep(300 * time.Millisecond) // the long-poll is waiting
		start := time.Now()
		r := user.JSON("POST", "/api/backups/execute/"+cfg.ID, nil)
		want(t, r, http.StatusAccepted)
		select {
		case cmds := <-got:
			if len(cmds) != 1 || cmds[0].Type != agentproto.CommandRun || cmds[0].RunID != r.Body["id"] {
				t.Errorf("%s: commands %+v, want run %v", tc.name, cmds, r.Body["id"])
			}
			if d := time.Since(start); d > tc.limit {
				t.Errorf("%s: run now took %v to reach the agent, want at most %v", tc.name, d, tc.limit)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: the long-poll never answered", tc.name)
		}
		// Running, then cancelled: the long-poll hands out the cancel.
		run, err := a.App.Store.GetRun(context.Background(), r.Body["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		run.Status = "running"
		if err := a.App.Store.UpdateRun(context.Background(), &run); err != nil {
			t.Fatal(err)
		}
		go func() { got <- agentClient.Heartbeat(key, "?wait=25s") }()
		time.Sleep(300 * time.Millisecond)
		start = time.Now()
		want(t, user.JSON("POST", "/api/backups/"+run.ID+"/cancel", nil), http.StatusOK)
		select {
		case cmds := <-got:
			if len(cmds) != 1 || cmds[0].Type != agentproto.CommandCancel || cmds[0].RunID != run.ID {
				t.Errorf("%s: commands %+v, want cancel of %s", tc.name, cmds, run.ID)
			}
			if d := time.Since(start); d > tc.limit {
				t.Errorf("%s: cancel took %v to reach the agent, want at most %v", tc.name, d, tc.limit)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: the long-poll never answered the cancel", tc.name)
		}
		a.Finish(run, "cancelled")
	}
}

// TestBackupsAPI: run now (202, 409 while active, offline agent named), cancel of a
// queued and of a running run, history with filters and paging, details; another
// user's runs are 404 and absent from lists; an administrator sees all.
func TestBackupsAPI(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		clock := newSchedClock(time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC))
		e := startRuns(t, db, clock, false)
		ctx := context.Background()
		admin := e.Client()
		admin.Register("admin@example.com")
		alice := e.Client()
		aliceID := registerID(t, alice, "alice@example.com")
		bob := e.Client()
		bobID := registerID(t, bob, "bob@example.com")
		aAgent, aKey, _ := alice.CreateAgent("alice-box")
		bAgent, _, _ := bob.CreateAgent("bob-box")
		aCfg := e.MkScheduled(aliceID, aAgent, "alice docs", "", `{}`)
		aCfg2 := e.MkScheduled(aliceID, aAgent, "alice mail", "", `{}`)
		bCfg := e.MkScheduled(bobID, bAgent, "bob docs", "", `{}`)

		// Offline agent: queued all the same, and the answer says so.
		r := alice.JSON("POST", "/api/backups/execute/"+aCfg.ID, nil)
		want(t, r, http.StatusAccepted)
		msg, _ := r.Body["message"].(string)
		if r.Body["status"] != "queued" || r.Body["agentOffline"] != true || !strings.Contains(msg, "offline") || r.Body["configName"] != "alice docs" {
			t.Errorf("execute with the agent offline = %s", r.Raw)
		}
		first, _ := r.Body["id"].(string)
		r = alice.JSON("POST", "/api/backups/execute/"+aCfg.ID, nil)
		want(t, r, http.StatusConflict)
		if !strings.Contains(r.ErrMessage(), "already") {
			t.Errorf("second execute: %s", r.Raw)
		}
		// Others' configs and runs do not exist for bob.
		want(t, bob.JSON("POST", "/api/backups/execute/"+aCfg.ID, nil), http.StatusNotFound)
		want(t, bob.JSON("GET", "/api/backups/"+first, nil), http.StatusNotFound)
		want(t, bob.JSON("POST", "/api/backups/"+first+"/cancel", nil), http.StatusNotFound)
		want(t, bob.JSON("GET", "/api/backups/not-a-run", nil), http.StatusNotFound)
		want(t, e.Client().JSON("GET", "/api/backups/logs", nil), http.StatusUnauthorized)
		if r := bob.JSON("GET", "/api/backups/logs", nil); r.Body["total"] != float64(0) {
			t.Errorf("bob's logs = %s, want none", r.Raw)
		}

		// Cancel while queued: cancelled at once.
		r = alice.JSON("POST", "/api/backups/"+first+"/cancel", nil)
		want(t, r, http.StatusOK)
		if r.Body["status"] != "cancelled" || r.Body["endTime"] == nil {
			t.Errorf("cancel queued = %s", r.Raw)
		}
		want(t, alice.JSON("POST", "/api/backups/"+first+"/cancel", nil), http.StatusConflict)

		// Online agent: queued, says it starts within seconds; running, cancel is a request.
		alice.Heartbeat(aKey, "")
		clock.Advance(time.Minute)
		r = alice.JSON("POST", "/api/backups/execute/"+aCfg.ID, nil)
		want(t, r, http.StatusAccepted)
		if r.Body["agentOffline"] != false {
			t.Errorf("execute with the agent online = %s", r.Raw)
		}
		second, _ := r.Body["id"].(string)
		run, err := e.App.Store.GetRun(ctx, second)
		if err != nil {
			t.Fatal(err)
		}
		run.Status = "running"
		check := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		check(e.App.Store.UpdateRun(ctx, &run))
		r = alice.JSON("POST", "/api/backups/"+second+"/cancel", nil)
		want(t, r, http.StatusOK)
		if r.Body["status"] != "running" || r.Body["cancelRequested"] != true {
			t.Errorf("cancel running = %s", r.Raw)
		}
		if cmds := alice.Heartbeat(aKey, ""); len(cmds) != 1 || cmds[0].Type != agentproto.CommandCancel {
			t.Errorf("heartbeat after cancel = %+v, want a cancel", cmds)
		}

		// A finished run with everything details show.
		clock.Advance(time.Minute)
		end := clock.Now()
		dur := int64(192000)
		run.Status, run.EndTime, run.DurationMS = "completed", &end, &dur
		run.S3Path = "users/" + aliceID + "/agents/" + aAgent + "/configs/" + aCfg.ID + "/backup-2026-06-01-080100.tar.zst"
		run.ManifestKey, run.ArchiveSHA256, run.ArchiveSize = run.S3Path+".manifest", strings.Repeat("ab", 32), 1500000
		run.FilesProcessed, run.FilesSkipped, run.TotalBytes, run.BytesTransfer = 120, 2, 3<<30, 1500000
		run.Errors = json.RawMessage(`[{"path":"/srv/locked","message":"permission denied"}]`)
		run.Full = true
		check(e.App.Store.UpdateRun(ctx, &run))
		r = alice.JSON("GET", "/api/backups/"+second, nil)
		want(t, r, http.StatusOK)
		for k, v := range map[string]any{"status": "completed", "filesProcessed": float64(120), "filesSkipped": float64(2),
			"totalBytes": float64(3 << 30), "duration": float64(192000), "objectKey": run.S3Path, "manifestKey": run.ManifestKey,
			"checksum": run.ArchiveSHA256, "late": false, "agentName": "alice-box", "configName": "alice docs", "agentId": aAgent} {
			if r.Body[k] != v {
				t.Errorf("details %s = %v, want %v", k, r.Body[k], v)
			}
		}
		if !strings.Contains(r.Raw, "permission denied") {
			t.Errorf("details lack the errors: %s", r.Raw)
		}
		// Files skipped: completed with warnings, never plain completed.
		if r.Body["withWarnings"] != true {
			t.Errorf("withWarnings = %v for a run that skipped files", r.Body["withWarnings"])
		}
		if pg := visible(alice.Send("GET", "/backups/"+second, "", nil).Raw); !strings.Contains(pg, "Completed with warnings") || !strings.Contains(pg, "Warnings") {
			t.Errorf("the page of a run that skipped files: %s", pg)
		}
		if _, ok := r.Body["logs"].([]any); !ok {
			t.Errorf("details lack the agent's log lines: %s", r.Raw)
		}

		// More runs for paging and filters.
		for range 3 {
			clock.Advance(time.Minute)
			r := alice.JSON("POST", "/api/backups/execute/"+aCfg2.ID, nil)
			want(t, r, http.StatusAccepted)
			run, _ := e.App.Store.GetRun(ctx, r.Body["id"].(string))
			e.Finish(run, "failed")
		}
		want(t, bob.JSON("POST", "/api/backups/execute/"+bCfg.ID, nil), http.StatusAccepted)

		list := func(c *client, q string) (ids []string, total float64, next string) {
			t.Helper()
			r := c.JSON("GET", "/api/backups/logs"+q, nil)
			want(t, r, http.StatusOK)
			logs, _ := r.Body["logs"].([]any)
			for _, l := range logs {
				ids = append(ids, l.(map[string]any)["id"].(string))
			}
			total, _ = r.Body["total"].(float64)
			next, _ = r.Body["next"].(string)
			return ids, total, next
		}
		if _, total, _ := list(alice, ""); total != 5 {
			t.Errorf("alice's runs = %v, want 5", total)
		}
		if _, total, _ := list(admin, ""); total != 6 {
			t.Errorf("admin's view = %v, want all 6", total)
		}
		if _, total, _ := list(alice, "?status=failed"); total != 3 {
			t.Errorf("failed = %v, want 3", total)
		}
		if _, total, _ := list(alice, "?configId="+aCfg.ID); total != 2 {
			t.Errorf("by config = %v, want 2", total)
		}
		if _, total, _ := list(alice, "?configId="+bCfg.ID); total != 0 {
			t.Errorf("alice filtering by bob's config = %v, want 0", total)
		}
		if _, total, _ := list(admin, "?agentId="+bAgent); total != 1 {
			t.Errorf("admin by bob's agent = %v, want 1", total)
		}
		if _, total, _ := list(alice, "?from=2026-06-01&to=2026-06-01"); total != 5 {
			t.Errorf("by date = %v, want 5", total)
		}
		if _, total, _ := list(alice, "?from=2026-06-02"); total != 0 {
			t.Errorf("from tomorrow = %v, want 0", total)
		}
		page1, _, next := list(alice, "?limit=2")
		if len(page1) != 2 || next == "" {
			t.Fatalf("first page %v next %q", page1, next)
		}
		page2, _, next := list(alice, strings.TrimPrefix(next, "/api/backups/logs"))
		page3, _, last := list(alice, strings.TrimPrefix(next, "/api/backups/logs"))
		all := append(append(page1, page2...), page3...)
		if len(all) != 5 || last != "" {
			t.Errorf("pages %v %v %v (next %q), want 5 runs", page1, page2, page3, last)
		}
		sorted := append([]string(nil), all...)
		sort.Sort(sort.Reverse(sort.StringSlice(sorted)))
		if strings.Join(sorted, ",") != strings.Join(all, ",") {
			t.Errorf("pages are not newest first: %v", all)
		}

		// Bad filters: every problem named.
		r = alice.JSON("GET", "/api/backups/logs?status=great&from=yesterday&limit=1000", nil)
		want(t, r, http.StatusBadRequest)
		fields, _ := r.Body["error"].(map[string]any)["fields"].(map[string]any)
		for _, f := range []string{"status", "from"} {
			if fields[f] == nil {
				t.Errorf("bad filter: no message for %s in %s", f, r.Raw)
			}
		}
		want(t, alice.JSON("GET", "/api/backups/logs?limit=1000", nil), http.StatusBadRequest)
	})
}
