package server_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backapp/backapp/internal/testenv/browser"
)

// axeScript is axe-core's browser build, installed by make tools (scripts/tools.d/axe.sh).
func axeScript(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "share", "axe-core", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core is missing (make tools installs it): %v", err)
	}
	return string(b)
}

// TestMonitoringPagesAccessible: the dashboard (with a running backup, history,
// upcoming backups and charts) and the reports page, with a form error too, pass
// axe-core's WCAG 2.0/2.1 A and AA rules in chromium with no violation.
func TestMonitoringPagesAccessible(t *testing.T) {
	axe := axeScript(t)
	br := browser.Start(t, 2*time.Minute)
	now := time.Now().UTC()
	e := startRuns(t, "", newSchedClock(now), false)
	user := e.Client()
	uid := registerID(t, user, "ada@example.com")
	agentID, _, _ := user.CreateAgent("box")
	cfg := e.mkScheduled(uid, agentID, "nightly", "0 2 * * *", `{}`)
	e.mkScheduled(uid, agentID, "never-ran", "", `{}`)
	for i := range 5 {
		e.addRun(cfg, "completed", now.Add(-time.Duration(i+1)*30*time.Hour), time.Minute, "d", 1000, 10)
	}
	e.addRun(cfg, "failed", now.Add(-2*time.Hour), time.Minute, "d", 0, 0)
	e.addRun(cfg, "running", now.Add(-time.Minute), 0, "", 0, 0)
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
		res, err := chromedp.Run(br.Ctx, chromedp.Evaluate[string](axe+`;
			axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
				.then(r => JSON.stringify(r.violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.html.slice(0, 160))}))))`,
			chromedp.EvalAwaitPromise))
		if err != nil {
			br.Fail("axe on "+page.path, err)
		}
		var violations []map[string]any
		if err := json.Unmarshal([]byte(res), &violations); err != nil {
			t.Fatalf("axe's answer on %s: %v: %s", page.path, err, res)
		}
		for _, v := range violations {
			t.Errorf("%s: %s (%s): %v", page.path, v["id"], v["help"], v["nodes"])
		}
	}
}
