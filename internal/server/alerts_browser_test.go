package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backapp/backapp/internal/testenv/browser"

	"github.com/backapp/backapp/internal/testenv"
)

// TestAlertCountLiveInBrowser: chromium shows the backups page; a run fails and the
// alert rules run: the count beside Alerts appears in the navigation without a
// reload. On /alerts the alert is ticked and acknowledged, and the count goes.
func TestAlertCountLiveInBrowser(t *testing.T) {
	br := browser.Start(t, 2*time.Minute)
	clock := newSchedClock(time.Now().UTC())
	e := startRuns(t, "", clock, false)
	user := e.Client()
	uid := registerID(t, user, "ada@example.com")
	agentID, _, _ := user.CreateAgent("box")
	cfg := e.MkScheduled(uid, agentID, "nightly", "", `{}`)

	base := browser.Serve(t, e.App.Handler())
	t.Cleanup(e.App.Events.Close) // before the test server's Close waits for open streams
	br.Run("sign in",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login-email`)),
		chromedp.SendKeys(chromedp.CSS(`#login-email`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), pw),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav a[href="/configs"]`)))
	br.Run("open the backups page", chromedp.Navigate(base+"/backups"), chromedp.WaitVisible(chromedp.CSS(`h1`)))
	countHidden := func() bool {
		t.Helper()
		h, err := chromedp.Run(br.Ctx, chromedp.Evaluate[bool](`document.getElementById("nav-alert-count").hidden`))
		if err != nil {
			br.Fail("read the alert count", err)
		}
		return h
	}
	if !countHidden() {
		t.Fatal("the alert count shows before any alert")
	}
	// The page's one stream is open, so what changes next can only come from an event.
	testenv.Eventually(t, "the page's event stream", func() bool { return e.App.Events.Stats().Subscribers == 1 })

	e.Finish(e.MkRun(cfg, "running"), "failed")
	if err := e.App.Alerts.Evaluate(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitText := func(sel, wantText string) {
		t.Helper()
		testenv.Eventually(t, fmt.Sprintf("%s to show %q", sel, wantText), func() bool { return strings.Contains(br.Text(sel), wantText) })
	}
	waitText(`#nav-alert-count`, "1 open")

	br.Run("acknowledge on the alerts page",
		chromedp.Navigate(base+"/alerts?state=open"),
		chromedp.WaitVisible(chromedp.CSS(`#ack-selected`)),
		chromedp.Click(chromedp.CSS(`table.alerts input[type=checkbox]`)),
		chromedp.Click(chromedp.CSS(`#ack-selected`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	if got := br.Text(`.flash`); !strings.Contains(got, "Acknowledged 1 alert") {
		t.Errorf("flash after acknowledging = %q", got)
	}
	if !countHidden() {
		t.Error("the alert count still shows after acknowledging the only alert")
	}
}
