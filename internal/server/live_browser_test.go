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

	"github.com/backapp/backapp/internal/server/servertest"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/testenv"
	"github.com/backapp/backapp/internal/testenv/browser"
)

// liveReplicas is the setup of the tests that watch a page follow, from replica B,
// what an agent reports to replica A: two servers on one PostgreSQL, a user with an
// agent and a configuration, and chromium serving B.
type liveReplicas struct {
	a, b *runsEnv
	br   *browser.Browser
	base string  // replica B's address, where the browser is
	user *client // the user, on replica A
	key  string  // the agent's key
	cfg  string  // the configuration's id
	// cfgRec is the configuration, clock the replicas' clock.
	cfgRec store.BackupConfig
	clock  *servertest.SchedClock
}

// startLiveReplicas starts the replicas and the browser (for at most timeout).
func startLiveReplicas(t *testing.T, timeout time.Duration) *liveReplicas {
	t.Helper()
	l := &liveReplicas{br: browser.Start(t, timeout)}
	db := pgtest.New(t)
	clock := newSchedClock(time.Now().UTC())
	l.a = startRuns(t, db, clock, false)
	l.b = startRuns(t, db, clock, false)
	l.user = l.a.Client()
	uid := registerID(t, l.user, "ada@example.com")
	var agentID string
	agentID, l.key, _ = l.user.CreateAgent("box")
	l.cfgRec = l.a.MkScheduled(uid, agentID, "nightly", "", `{}`)
	l.cfg = l.cfgRec.ID
	l.clock = clock
	l.base = browser.Serve(t, l.b.App.Handler())
	t.Cleanup(l.b.App.Events.Close) // before the test server's Close waits for open streams
	return l
}

// signIn signs the user in on replica B and waits for ready to show.
func (l *liveReplicas) signIn(ready string) {
	l.br.Run("sign in on replica B",
		chromedp.Navigate(l.base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login-email`)),
		chromedp.SendKeys(chromedp.CSS(`#login-email`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), pw),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(ready)))
}

// running runs the configuration now and marks the run running a minute ago, as its
// agent would on starting it; it returns the run's id. A completed backup before it
// read 20 MB: the estimate its time left is computed from.
func (l *liveReplicas) running(t *testing.T) string {
	t.Helper()
	prev := l.a.AddRun(l.cfgRec, "completed", l.clock.Now().Add(-24*time.Hour), time.Minute, "", 1000, 10)
	prev.TotalBytes = 20_000_000
	if err := l.a.App.Store.UpdateRun(context.Background(), &prev); err != nil {
		t.Fatal(err)
	}
	r := l.user.JSON("POST", "/api/backups/execute/"+l.cfg, nil)
	want(t, r, http.StatusAccepted)
	run, err := l.a.App.Store.GetRun(context.Background(), r.Body["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	run.Status = "running"
	run.StartTime = run.StartTime.Add(-time.Minute) // a minute in: its rate so far gives the time left
	if err := l.a.App.Store.UpdateRun(context.Background(), &run); err != nil {
		t.Fatal(err)
	}
	return run.ID
}

// waitText waits for sel to show text, as live.js updates it from the event stream.
func (l *liveReplicas) waitText(t *testing.T, sel, text string) {
	t.Helper()
	testenv.Eventually(t, fmt.Sprintf("%s to show %q", sel, text), func() bool { return strings.Contains(liveText(l.br, sel), text) })
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

// TestRunPageLiveAcrossReplicas: chromium shows a run's page from replica B while
// the agent reports to replica A (two servers, one PostgreSQL). The page's files and
// bytes advance and its status changes to Cancelled without a reload, from the event
// stream.
func TestRunPageLiveAcrossReplicas(t *testing.T) {
	l := startLiveReplicas(t, 2*time.Minute)
	runID := l.running(t)
	l.signIn(`nav a[href="/configs"]`)
	br := l.br
	br.Run("open the run's page", chromedp.Navigate(l.base+"/backups/"+runID), chromedp.WaitVisible(chromedp.CSS(`#run-status`)))
	if got := br.Text(`#run-status`); !strings.Contains(got, "Running") {
		t.Fatalf("status %q, want Running", got)
	}
	// The page's stream is open (and its first re-read done) before the agent reports,
	// so what changes next can only come from an event.
	testenv.Eventually(t, "the page's event stream", func() bool { return l.b.App.Events.Stats().Subscribers == 1 })

	l.waitText(t, `#run-eta`, "—") // nothing read yet
	// Against the last backup's 20 MB at the rate so far (a minute for 4.2 MB, then
	// for 9.2 MB): about 4 min left, then about 1 min; outside the live region.
	for _, n := range []struct {
		files int
		left  string
	}{{4242, "about 4 min"}, {9191, "about 1 min"}} {
		want(t, l.user.AgentCall("/api/agent/backup/progress", l.key, map[string]any{"runId": runID, "filesProcessed": n.files, "bytesScanned": n.files * 1000, "bytesTransferred": n.files * 500}), http.StatusOK)
		l.waitText(t, `#run-cards`, fmt.Sprint(n.files))
		l.waitText(t, `#run-eta`, n.left)
	}
	if got := liveText(br, `#run-status`); strings.Contains(got, "left") || strings.Contains(got, "min") {
		t.Errorf("the live region %q announces the time left", got)
	}
	br.Audit("the run page with a running backup and its time left")
	want(t, l.user.AgentCall("/api/agent/backup/complete", l.key, map[string]any{"runId": runID, "status": "cancelled", "error": "stopped by the test"}), http.StatusOK)
	l.waitText(t, `#run-status`, "Cancelled")
	l.waitText(t, `#run-errors`, "stopped by the test")
}
