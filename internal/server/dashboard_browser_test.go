package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backapp/backapp/internal/testenv"
)

// TestDashboardLiveAcrossReplicas: chromium shows the dashboard from replica B while
// the agent reports to replica A. The running backup's files advance and it leaves
// "Running backups" when it completes, without a reload, from the event stream.
func TestDashboardLiveAcrossReplicas(t *testing.T) {
	// Two pages; slow when the machine is loaded.
	l := startLiveReplicas(t, 4*time.Minute)
	runID := l.running(t)
	l.signIn(`#dash-running`)
	br, user, key, base := l.br, l.user, l.key, l.base
	if got := br.Text(`#dash-running`); !strings.Contains(got, "1 running: nightly") {
		t.Fatalf("running backups %q, want nightly running", got)
	}
	// Mark the page so a reload would be seen: the mark must survive the updates.
	if _, err := chromedp.Run(br.Ctx, chromedp.Evaluate[bool](`window.notReloaded = true`)); err != nil {
		br.Fail("mark the page", err)
	}
	testenv.Eventually(t, "the dashboard's event stream", func() bool { return l.b.App.Events.Stats().Subscribers == 1 })
	waitText := func(sel, text string) { t.Helper(); l.waitText(t, sel, text) }
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
	run2 := l.running(t)
	br.Run("open the backups list", chromedp.Navigate(base+"/backups"), chromedp.WaitVisible(chromedp.CSS(`#backups-list`)))
	if _, err := chromedp.Run(br.Ctx, chromedp.Evaluate[bool](`window.notReloaded = true`)); err != nil {
		br.Fail("mark the list", err)
	}
	testenv.Eventually(t, "the list's event stream", func() bool { return l.b.App.Events.Stats().Subscribers == 1 })
	if got := br.Text(`#backups-live`); !strings.Contains(got, "nightly running") {
		t.Errorf("the list's live region says %q, want nightly running", got)
	}
	want(t, user.AgentCall("/api/agent/backup/progress", key, map[string]any{"runId": run2, "filesProcessed": 777, "bytesScanned": 777000, "bytesTransferred": 1 << 20}), http.StatusOK)
	waitText(`#backups-list`, "777")
	waitText(`#backups-list`, "1.0 MiB sent")
	want(t, user.AgentCall("/api/agent/backup/complete", key, map[string]any{"runId": run2, "status": "cancelled", "error": "stopped again"}), http.StatusOK)
	waitText(`#backups-live`, "No backup on this page is queued or running")
	if kept, err := chromedp.Run(br.Ctx, chromedp.Evaluate[bool](`window.notReloaded === true`)); err != nil || !kept {
		t.Error("the backups list was reloaded; it should update in place")
	}
}
