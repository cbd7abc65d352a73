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
	"github.com/backapp/backapp/internal/testenv"
	"github.com/backapp/backapp/internal/testenv/browser"
)

// TestRunPageLiveAcrossReplicas: chromium shows a run's page from replica B while
// the agent reports to replica A (two servers, one PostgreSQL). The page's files and
// bytes advance and its status changes to Cancelled without a reload, from the event
// stream.
func TestRunPageLiveAcrossReplicas(t *testing.T) {
	br := browser.Start(t, 2*time.Minute)
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
	t.Cleanup(b.App.Events.Close) // before the test server's Close waits for open streams
	br.Run("sign in on replica B",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login-email`)),
		chromedp.SendKeys(chromedp.CSS(`#login-email`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), pw),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav a[href="/configs"]`)))
	br.Run("open the run's page", chromedp.Navigate(base+"/backups/"+runID), chromedp.WaitVisible(chromedp.CSS(`#run-status`)))
	if got := br.Text(`#run-status`); !strings.Contains(got, "Running") {
		t.Fatalf("status %q, want Running", got)
	}
	// The page's stream is open (and its first re-read done) before the agent reports,
	// so what changes next can only come from an event.
	testenv.Eventually(t, "the page's event stream", func() bool { return b.App.Events.Stats().Subscribers == 1 })

	waitText := func(sel, wantText string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			got, err := br.TryText(sel) // live.js may replace the element mid-read
			if err == nil && strings.Contains(got, wantText) {
				return
			}
			if time.Now().After(deadline) {
				br.Fail("wait for "+wantText, fmt.Errorf("%s shows %q (%v)", sel, got, err))
			}
		}
	}
	waitText(`#run-eta`, "—") // nothing read yet
	// Against the last backup's 20 MB at the rate so far (a minute for 4.2 MB, then
	// for 9.2 MB): about 4 min left, then about 1 min; outside the live region.
	for _, n := range []struct {
		files int
		left  string
	}{{4242, "about 4 min"}, {9191, "about 1 min"}} {
		want(t, user.AgentCall("/api/agent/backup/progress", key, map[string]any{"runId": runID, "filesProcessed": n.files, "bytesScanned": n.files * 1000, "bytesTransferred": n.files * 500}), http.StatusOK)
		waitText(`#run-cards`, fmt.Sprint(n.files))
		waitText(`#run-eta`, n.left)
	}
	if got, _ := br.TryText(`#run-status`); strings.Contains(got, "left") || strings.Contains(got, "min") {
		t.Errorf("the live region %q announces the time left", got)
	}
	br.Audit("the run page with a running backup and its time left")
	want(t, user.AgentCall("/api/agent/backup/complete", key, map[string]any{"runId": runID, "status": "cancelled", "error": "stopped by the test"}), http.StatusOK)
	waitText(`#run-status`, "Cancelled")
	waitText(`#run-errors`, "stopped by the test")
}
