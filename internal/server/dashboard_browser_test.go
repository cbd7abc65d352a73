package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/testenv/browser"
)

// TestDashboardLiveAcrossReplicas: chromium shows the dashboard from replica B while
// the agent reports to replica A. The running backup's files advance and it leaves
// "Running backups" when it completes, without a reload, from the event stream.
func TestDashboardLiveAcrossReplicas(t *testing.T) {
	br := browser.Start(t, 2*time.Minute)
	db := pgtest.New(t)
	clock := newSchedClock(time.Now().UTC())
	a := startRuns(t, db, clock, false)
	b := startRuns(t, db, clock, false)
	user := a.client()
	uid := registerID(t, user, "ada@example.com")
	agentID, key, _ := user.createAgent("box")
	cfg := a.mkScheduled(uid, agentID, "nightly", "", `{}`)
	r := user.json("POST", "/api/backups/execute/"+cfg.ID, nil)
	want(t, r, http.StatusAccepted)
	runID := r.body["id"].(string)
	run, err := a.app.Store.GetRun(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	run.Status = "running"
	if err := a.app.Store.UpdateRun(context.Background(), &run); err != nil {
		t.Fatal(err)
	}

	base := browser.Serve(t, b.app.Handler())
	t.Cleanup(b.app.Events.Close)
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
	eventually(t, "the dashboard's event stream", func() bool { return b.app.Events.Stats().Subscribers == 1 })

	waitText := func(sel, wantText string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			got := br.Text(sel)
			if strings.Contains(got, wantText) {
				return
			}
			if time.Now().After(deadline) {
				br.Fail("wait for "+wantText, fmt.Errorf("%s shows %q", sel, got))
			}
		}
	}
	for _, n := range []int{42, 919} {
		want(t, user.agentCall("/api/agent/backup/progress", key, map[string]any{"runId": runID, "filesProcessed": n, "bytesScanned": n * 1000, "bytesTransferred": n * 500}), http.StatusOK)
		waitText(`#dash-progress`, fmt.Sprintf("%d files", n))
	}
	want(t, user.agentCall("/api/agent/backup/complete", key, map[string]any{"runId": runID, "status": "cancelled", "error": "stopped by the test"}), http.StatusOK)
	waitText(`#dash-running`, "No backup is running")
	waitText(`#dash-last`, "Cancelled")
	kept, err := chromedp.Run(br.Ctx, chromedp.Evaluate[bool](`window.notReloaded === true`))
	if err != nil || !kept {
		t.Error("the dashboard was reloaded; it should update in place")
	}
}
