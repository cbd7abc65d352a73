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
	t.Cleanup(b.app.Events.Close) // before the test server's Close waits for open streams
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
	eventually(t, "the page's event stream", func() bool { return b.app.Events.Stats().Subscribers == 1 })

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
	for _, n := range []int{4242, 9191} {
		want(t, user.agentCall("/api/agent/backup/progress", key, map[string]any{"runId": runID, "filesProcessed": n, "bytesScanned": n * 1000, "bytesTransferred": n * 500}), http.StatusOK)
		waitText(`#run-cards`, fmt.Sprint(n))
	}
	want(t, user.agentCall("/api/agent/backup/complete", key, map[string]any{"runId": runID, "status": "cancelled", "error": "stopped by the test"}), http.StatusOK)
	waitText(`#run-status`, "Cancelled")
	waitText(`#run-errors`, "stopped by the test")
}
