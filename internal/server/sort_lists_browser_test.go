package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/testenv/browser"
)

// TestRestoresAndAlertsSort: in chromium, the restores' and the alerts' headers sort
// on click, both ways, by the store (both lists are paged), the rows in the order the
// header says and aria-sort naming it. Each state passes the WCAG 2.1 AA audit.
func TestRestoresAndAlertsSort(t *testing.T) {
	br := browser.Start(t, 3*time.Minute)
	now := time.Now().UTC().Truncate(time.Second)
	e := startRuns(t, "", newSchedClock(now), false)
	admin := e.Client()
	uid := registerID(t, admin, "mallory@example.com")
	agentID, _, _ := admin.CreateAgent("box")
	cfg := e.MkScheduled(uid, agentID, "nightly", "", `{}`)
	ctx := context.Background()
	st := e.App.Store
	run := store.Run{ConfigID: cfg.ID, UserID: uid, AgentID: agentID, StartTime: now.Add(-5 * time.Hour), Status: "completed"}
	if err := st.CreateRun(ctx, &run); err != nil {
		t.Fatal(err)
	}
	restore := func(ago time.Duration, status, target string) string {
		t.Helper()
		r := store.Restore{UserID: uid, RunID: run.ID, AgentID: agentID, TargetDir: target, Status: status, CreatedAt: now.Add(-ago)}
		if err := st.CreateRestore(ctx, &r); err != nil {
			t.Fatal(err)
		}
		return "/restores/" + r.ID
	}
	ra := restore(3*time.Hour, store.RestoreCompleted, "/b")
	rb := restore(2*time.Hour, store.RestoreFailed, "/a")
	rc := restore(time.Hour, store.RestoreQueued, "/c")
	alert := func(typ, rule string, agos ...time.Duration) string {
		t.Helper()
		var a store.Alert
		for i, ago := range agos { // each later one is another occurrence
			a = store.Alert{UserID: uid, Type: typ, Rule: rule, Subject: "s", Ref: fmt.Sprint(i), Message: rule, Timestamp: now.Add(-ago)}
			if _, err := st.RaiseAlert(ctx, &a); err != nil {
				t.Fatal(err)
			}
		}
		return "alert-" + a.ID
	}
	x1 := alert("failure", "sort_one", 3*time.Hour)                              // acknowledged, 1, last 3 h ago
	x2 := alert("warning", "sort_two", 2*time.Hour, 30*time.Minute)              // open, 2, last 30 min ago
	x3 := alert("info", "sort_three", time.Hour, 50*time.Minute, 40*time.Minute) // resolved, 3, last 40 min ago
	if _, err := st.AcknowledgeAlerts(ctx, uid, []string{strings.TrimPrefix(x1, "alert-")}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ResolveAlert(ctx, "sort_three", "s", now, "gone"); err != nil {
		t.Fatal(err)
	}

	base := browser.Serve(t, e.App.Handler())
	t.Cleanup(e.App.Events.Close)
	br.Run("sign in",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login-email`)),
		chromedp.SendKeys(chromedp.CSS(`#login-email`), "mallory@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), pw),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav a[href="/configs"]`)))
	// sorted clicks the header of key in table, checks the order and audits the page.
	sorted := func(table, key, dir, rowsJS string, want ...string) {
		t.Helper()
		checkSorted(t, br, true, table, key, dir, rowsJS, want...)
		br.Audit(table + " by " + key + " " + dir)
	}

	restores := `[...document.querySelectorAll('table.restores tbody th a')].map(a => a.getAttribute('href'))`
	br.Run("open the restores", chromedp.Navigate(base+"/restores"), chromedp.WaitVisible(chromedp.CSS(`table.restores`)))
	checkSorted(t, br, false, "restores", "created", "descending", restores, rc, rb, ra) // newest first by default
	br.Audit("restores by created descending")
	sorted("restores", "status", "ascending", restores, ra, rb, rc)
	sorted("restores", "status", "descending", restores, rc, rb, ra)
	sorted("restores", "target", "ascending", restores, rb, ra, rc)
	sorted("restores", "target", "descending", restores, rc, ra, rb)
	sorted("restores", "created", "descending", restores, rc, rb, ra)
	sorted("restores", "created", "ascending", restores, ra, rb, rc)

	alerts := `[...document.querySelectorAll('table.alerts tbody tr')].map(tr => tr.id)`
	br.Run("open the alerts", chromedp.Navigate(base+"/alerts"), chromedp.WaitVisible(chromedp.CSS(`table.alerts`)))
	checkSorted(t, br, false, "alerts", "last", "descending", alerts, x2, x3, x1) // latest occurrence first by default
	br.Audit("alerts by last descending")
	sorted("alerts", "type", "ascending", alerts, x1, x3, x2)
	sorted("alerts", "type", "descending", alerts, x2, x3, x1)
	sorted("alerts", "count", "ascending", alerts, x1, x2, x3)
	sorted("alerts", "count", "descending", alerts, x3, x2, x1)
	sorted("alerts", "state", "ascending", alerts, x2, x1, x3) // open, acknowledged, resolved
	sorted("alerts", "state", "descending", alerts, x3, x1, x2)
	sorted("alerts", "last", "descending", alerts, x2, x3, x1)
	sorted("alerts", "last", "ascending", alerts, x1, x3, x2)
}
