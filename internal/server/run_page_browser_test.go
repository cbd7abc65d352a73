package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backapp/backapp/internal/agent"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/testenv/browser"
)

// TestFailedRunPageInBrowser: agent A, shipping its log to the server as the daemon
// does, fails a backup (its source is gone), completes another and restores a third
// in the same minute. The failed run's page leads with what failed and what to do,
// before the facts; shows no archive, manifest or checksum (none exists); and its log
// holds this run's lines only, not the other backup's or the restore's. A completed
// run's long object keys are shortened, the whole key one click away. The history
// shows each backup's type (full, incremental) and where it ran. The pages pass the
// WCAG 2.1 AA audit.
func TestFailedRunPageInBrowser(t *testing.T) {
	b := browser.Start(t, 2*time.Minute)
	e := startRestoreEnv(t, pgtest.New(t))
	base := browser.Serve(t, e.Srv.Config.Handler)
	t.Cleanup(e.App.Events.Close)

	runner := agentRunner(t, e.Env, e.KeyA)
	ship := agent.NewLogShipper(runner.Client)
	runner.Log = slog.New(ship.Handler(slog.DiscardHandler, slog.LevelInfo))
	gone := filepath.Join(t.TempDir(), "gone")
	body := with(goodConfig(e.AgentA), "name", "Broken", "sources", []map[string]any{{"path": gone}},
		"destination", map[string]any{"destinationId": e.DestID}, "options", map[string]any{"type": "full", "compression": "zstd", "onError": "fail"})
	r := e.Alice.JSON("POST", "/api/configs", body)
	want(t, r, http.StatusCreated)
	ctx := context.Background()
	res, err := runner.Backup(ctx, agent.BackupRequest{ConfigID: r.Body["id"].(string)})
	if res.RunID == "" || res.Status != "failed" {
		t.Fatalf("backup of a missing source: %+v, %v; want a failed run", res, err)
	}
	failed := res.RunID
	other := backupRun(t, runner, e.ConfigID)
	if _, err := runner.Restore(ctx, agent.RestoreRequest{RunID: e.Run1, Target: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	ship.Flush(ctx)

	b.Run("sign in",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login-email`)),
		chromedp.SendKeys(chromedp.CSS(`#login-email`), "alice@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), pw),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav a[href="/configs"]`)))
	b.Run("open the failed run", chromedp.Navigate(base+"/backups/"+failed), chromedp.WaitVisible(chromedp.CSS(`h1`)))

	cause := b.Text(`#run-cause`)
	if !strings.Contains(cause, "What failed") || !strings.Contains(cause, "gone") || !strings.Contains(cause, "What to do") {
		t.Errorf("the failed run's cause reads %q", cause)
	}
	first, err := chromedp.Run(b.Ctx, chromedp.Evaluate[bool](
		`!!(document.querySelector('#run-cause .callout').compareDocumentPosition(document.querySelector('#run-cards')) & Node.DOCUMENT_POSITION_FOLLOWING)`))
	if err != nil || !first {
		t.Errorf("the cause does not come before the facts (%v)", err)
	}
	terms, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#run-cards dt')].map(d => d.textContent)`))
	if err != nil {
		b.Fail("read the facts", err)
	}
	for _, dt := range terms {
		if dt == "Archive" || dt == "Manifest" || dt == "SHA-256" {
			t.Errorf("the failed run shows %s, which does not exist (facts %q)", dt, terms)
		}
	}
	logs := b.Text(`section.logs`)
	if !strings.Contains(logs, "backup failed") {
		t.Errorf("the failed run's log lacks its own line: %q", logs)
	}
	for _, l := range []string{"backup completed", "restore started", other} {
		if strings.Contains(logs, l) {
			t.Errorf("the failed run's log shows another run's or a restore's line (%q): %q", l, logs)
		}
	}
	b.Audit("failed run")

	b.Run("open a completed run", chromedp.Navigate(base+"/backups/"+other), chromedp.WaitVisible(chromedp.CSS(`#run-cards`)))
	key, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('#run-cards details.key')].map(d => d.querySelector('summary code').textContent + "|" + d.querySelector(':scope > code').textContent)`))
	if err != nil || len(key) == 0 {
		b.Fail("the completed run's archive key", fmt.Errorf("no shortened key with the full one on demand (%v)", err))
	}
	short, full, _ := strings.Cut(key[0], "|")
	if len(short) >= len(full) || !strings.HasSuffix(full, strings.SplitN(short, "…", 2)[1]) || !strings.Contains(full, "/configs/") {
		t.Errorf("archive key shown as %q, full %q", short, full)
	}
	// Everything the run stored, not only the archive.
	stored, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](
		`[...document.querySelectorAll('#run-cards dt')].filter(d => d.textContent == 'Stored').map(d => d.nextElementSibling.textContent).join('')`))
	if err != nil || !strings.Contains(stored, "archive") || !strings.Contains(stored, "manifest") {
		t.Errorf("the completed run's Stored reads %q (%v); want its archive and manifest", stored, err)
	}
	b.Audit("completed run")

	// The history says each backup's type and where it ran.
	b.Run("open the history", chromedp.Navigate(base+"/backups"), chromedp.WaitVisible(chromedp.CSS(`table.backups`)))
	rows, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('table.backups tr')].map(r => [...r.children].map(c => c.textContent.trim()).join("|"))`))
	if err != nil {
		b.Fail("read the history", err)
	}
	// Without the sortable headers' arrows (decoration, aria-hidden).
	table := strings.NewReplacer(" ▼", "", " ▲", "", " ↕", "").Replace(strings.Join(rows, "\n"))
	if !strings.HasPrefix(table, "Started|Status|Configuration|Type|Runs on|Agent|") ||
		!strings.Contains(table, "|full|agent|alpha|") || !strings.Contains(table, "|incremental|agent|alpha|") {
		t.Errorf("the history lacks the type and where each backup ran:\n%s", table)
	}
	b.Audit("history")
}
