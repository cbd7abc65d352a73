package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backapp/backapp/internal/testenv/browser"
)

// TestMonitoringPagesAccessible: the dashboard (with a running backup, history,
// upcoming backups and charts) and the reports page, with a form error too, pass
// browser.Audit (axe-core's WCAG 2.0/2.1 A and AA rules, light and dark, wide and
// narrow) in chromium.
func TestMonitoringPagesAccessible(t *testing.T) {
	br := browser.Start(t, 2*time.Minute)
	now := time.Now().UTC()
	e := startRuns(t, "", newSchedClock(now), false)
	user := e.Client()
	uid := registerID(t, user, "ada@example.com")
	agentID, _, _ := user.CreateAgent("box")
	cfg := e.MkScheduled(uid, agentID, "nightly", "0 2 * * *", `{}`)
	e.MkScheduled(uid, agentID, "never-ran", "", `{}`)
	for i := range 5 {
		e.AddRun(cfg, "completed", now.Add(-time.Duration(i+1)*30*time.Hour), time.Minute, "d", 1000, 10)
	}
	e.AddRun(cfg, "failed", now.Add(-2*time.Hour), time.Minute, "d", 0, 0)
	e.AddRun(cfg, "running", now.Add(-time.Minute), 0, "", 0, 0)
	if err := e.App.Store.RecordStorageDay(context.Background(), now); err != nil {
		t.Fatal(err)
	}

	base := browser.Serve(t, e.App.Handler())
	t.Cleanup(e.App.Events.Close) // before the test server's Close waits for open streams
	br.Run("sign in",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login-email`)),
		chromedp.SendKeys(chromedp.CSS(`#login-email`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), pw),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#dash-running`)))
	for _, page := range []struct{ path, ready string }{
		{"/dashboard", "#dash-protection"},
		{"/dashboard?scope=all", "#dash-protection"},
		{"/reports", "#r-format"},
		{"/reports?download=1&format=xml", "#r-format"},
		{"/backups", "#backups-list"},
	} {
		br.Run("open "+page.path, chromedp.Navigate(base+page.path), chromedp.WaitVisible(chromedp.CSS(page.ready)))
		br.Audit(page.path)
	}
}
