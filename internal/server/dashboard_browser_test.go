package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/testenv/browser"

	"github.com/backapp/backapp/internal/testenv"
)

// TestDashboardLiveAcrossReplicas: chromium shows the dashboard from replica B while
// the agent reports to replica A. The running backup's files advance and it leaves
// "Running backups" when it completes, without a reload, from the event stream.
func TestDashboardLiveAcrossReplicas(t *testing.T) {
	br := browser.Start(t, 4*time.Minute) // two pages; slow when the machine is loaded
	db := pgtest.New(t)
	clock := newSchedClock(time.Now().UTC())
	a := startRuns(t, db, clock, false)
	b := startRuns(t, db, clock, false)
	user := a.Client()
	uid := registerID(t, user, "ada@example.com")
	agentID, key, _ := user.CreateAgent("box")
	cfg := a.mkScheduled(uid, agentID, "nightly", "", `{}`)
	// A backup before, whose bytes read are the estimate for the time left.
	prev := a.addRun(cfg, "completed", clock.Now().Add(-24*time.Hour), time.Minute, "", 1000, 10)
	prev.TotalBytes = 20_000_000
	if err := a.App.Store.UpdateRun(context.Background(), &prev); err != nil {
		t.Fatal(err)
	}
	r := user.JSON("POST", "/api/backups/execute/"+cfg.ID, nil)
	want(t, r, http.StatusAccepted)
	runID := r.Body["id"].(string)
	run, err := a.App.Store.GetRun(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	run.Status = "running"
	run.StartTime = run.StartTime.Add(-time.Minute) // a minute in: its rate so far gives the time left
	if err := a.App.Store.UpdateRun(context.Background(), &run); err != nil {
		t.Fatal(err)
	}

	base := browser.Serve(t, b.App.Handler())
	t.Cleanup(b.App.Events.Close)
	br.Run("sign in on replica B",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login-email`)),
		chromedp.SendKeys(chromedp.CSS(`#login-email`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), pw),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#dash-running`)))
	if got := br.Text(`#dash-running`); !strings.Contains(got, "1 running: nightly") {
		t.Fatalf("running backups %q, want nightly running", got)
	}
	// Mark the page so a reload would be seen: the mark must survive the updates.
	if _, err := chromedp.Run(br.Ctx, chromedp.Evaluate[bool](`window.notReloaded = true`)); err != nil {
		br.Fail("mark the page", err)
	}
	testenv.Eventually(t, "the dashboard's event stream", func() bool { return b.App.Events.Stats().Subscribers == 1 })

	waitText := func(sel, wantText string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			got := liveText(br, sel)
			if strings.Contains(got, wantText) {
				return
			}
			if time.Now().After(deadline) {
				br.Fail("wait for "+wantText, fmt.Errorf("%s shows %q", sel, got))
			}
		}
	}
	waitText(`#dash-progress`, "time left: —") // nothing read yet
	// The time left follows the bytes read against the last backup's 20 MB at the
	// rate so far (a minute for 42 kB, then for 9.19 MB): about 476 min, then about
	// 1 min; it is outside the live region, so it is not announced.
	for _, n := range []struct {
		files, bytes int
		left         string
	}{{42, 42_000, "time left: about 7 h"}, {919, 9_190_000, "time left: about 1 min"}} {
		want(t, user.AgentCall("/api/agent/backup/progress", key, map[string]any{"runId": runID, "filesProcessed": n.files, "bytesScanned": n.bytes, "bytesTransferred": n.bytes / 2}), http.StatusOK)
		waitText(`#dash-progress`, fmt.Sprintf("%d files", n.files))
		waitText(`#dash-progress`, n.left)
	}
	if got := liveText(br, `#dash-running`); strings.Contains(got, "left") {
		t.Errorf("the live region %q announces the time left", got)
	}
	br.Audit("the dashboard with a running backup and its time left")
	want(t, user.AgentCall("/api/agent/backup/complete", key, map[string]any{"runId": runID, "status": "cancelled", "error": "stopped by the test"}), http.StatusOK)
	waitText(`#dash-running`, "No backup is running")
	waitText(`#dash-last`, "Cancelled")
	kept, err := chromedp.Run(br.Ctx, chromedp.Evaluate[bool](`window.notReloaded === true`))
	if err != nil || !kept {
		t.Error("the dashboard was reloaded; it should update in place")
	}

	// The backups list follows a second run the same way.
	r = user.JSON("POST", "/api/backups/execute/"+cfg.ID, nil)
	want(t, r, http.StatusAccepted)
	run2, err := a.App.Store.GetRun(context.Background(), r.Body["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	run2.Status = "running"
	if err := a.App.Store.UpdateRun(context.Background(), &run2); err != nil {
		t.Fatal(err)
	}
	br.Run("open the backups list", chromedp.Navigate(base+"/backups"), chromedp.WaitVisible(chromedp.CSS(`#backups-list`)))
	if _, err := chromedp.Run(br.Ctx, chromedp.Evaluate[bool](`window.notReloaded = true`)); err != nil {
		br.Fail("mark the list", err)
	}
	testenv.Eventually(t, "the list's event stream", func() bool { return b.App.Events.Stats().Subscribers == 1 })
	if got := br.Text(`#backups-live`); !strings.Contains(got, "nightly running") {
		t.Errorf("the list's live region says %q, want nightly running", got)
	}
	want(t, user.AgentCall("/api/agent/backup/progress", key, map[string]any{"runId": run2.ID, "filesProcessed": 777, "bytesScanned": 777000, "bytesTransferred": 1 << 20}), http.StatusOK)
	waitText(`#backups-list`, "777")
	waitText(`#backups-list`, "1.0 MiB sent")
	want(t, user.AgentCall("/api/agent/backup/complete", key, map[string]any{"runId": run2.ID, "status": "cancelled", "error": "stopped again"}), http.StatusOK)
	waitText(`#backups-live`, "No backup on this page is queued or running")
	if kept, err := chromedp.Run(br.Ctx, chromedp.Evaluate[bool](`window.notReloaded === true`)); err != nil || !kept {
		t.Error("the backups list was reloaded; it should update in place")
	}
}

// liveText reads sel's text in one evaluation: live.js swaps parts of the page in
// place, and a node looked up first and read afterwards may be gone in between.
func liveText(br *browser.Browser, sel string) string {
	q, _ := json.Marshal(sel)
	s, err := chromedp.Run(br.Ctx, chromedp.Evaluate[string](`(document.querySelector(`+string(q)+`) || {}).innerText || ""`))
	if err != nil {
		br.Fail("read "+sel, err)
	}
	return s
}
