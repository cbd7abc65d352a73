package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backapp/backapp/internal/agent"
	"github.com/backapp/backapp/internal/server/servertest"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/testenv"
	"github.com/backapp/backapp/internal/testenv/browser"
)

// TestLogsAndConfigPageInBrowser: a real agent backs up two configurations (one
// fails) and ships its log lines; in chromium, /backups/logs lists them newest first
// with their backup and configuration linked; the level and configuration filters
// narrow them and land in the URL (linkable); 250 more lines page by "Older lines"
// without a line twice. A configuration's name in the list leads to its own page:
// the settings in words, the next runs in its timezone, the last runs, the size
// estimate. To a plain user another user's configuration is 404 there and in the
// logs' filter, and other users' lines never show. Every page and state passes the WCAG 2.1 AA audit.
func TestLogsAndConfigPageInBrowser(t *testing.T) {
	b := browser.Start(t, 3*time.Minute)
	e := startRestoreEnv(t, pgtest.New(t))
	base := browser.Serve(t, e.Srv.Config.Handler)
	t.Cleanup(e.App.Events.Close)
	ctx := context.Background()

	runner := servertest.AgentRunner(t, e.Env, e.KeyA)
	ship := agent.NewLogShipper(runner.Client)
	runner.Log = slog.New(ship.Handler(slog.DiscardHandler, slog.LevelInfo))
	body := with(goodConfig(e.AgentA), "name", "Broken", "sources", []map[string]any{{"path": filepath.Join(t.TempDir(), "gone")}},
		"destination", map[string]any{"destinationId": e.DestID}, "options", map[string]any{"type": "full", "compression": "zstd", "onError": "fail"})
	r := e.Alice.JSON("POST", "/api/configs", body)
	want(t, r, http.StatusCreated)
	broken := r.Body["id"].(string)
	if res, _ := runner.Backup(ctx, agent.BackupRequest{ConfigID: broken}); res.Status != "failed" {
		t.Fatalf("backup of a missing source: %+v", res)
	}
	good := servertest.Backup(t, runner, e.ConfigID)
	ship.Flush(ctx)

	// Another user, with an agent, a configuration and a line of their own.
	bob := e.Client()
	bob.Register("bob@example.com")
	bobAgent, _, _ := bob.CreateAgent("bobs")
	r = bob.JSON("POST", "/api/configs", with(goodConfig(bobAgent), "name", "Bob's secrets"))
	want(t, r, http.StatusCreated)
	bobConfig := r.Body["id"].(string)
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	if err := e.App.Store.AddAgentLogs(ctx, []store.AgentLog{{AgentID: bobAgent, Level: "error", Message: "bob-only line",
		Metadata: map[string]string{"config": bobConfig}, Timestamp: t0}}); err != nil {
		t.Fatal(err)
	}

	b.Run("sign in",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login-email`)),
		chromedp.SendKeys(chromedp.CSS(`#login-email`), "alice@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), pw),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav a[href="/configs"]`)))
	js := func(step, expr string) string {
		t.Helper()
		s, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			b.Fail(step, err)
		}
		return s
	}
	rows := func() []string {
		t.Helper()
		s, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#log-lines tbody tr')].map(r => r.textContent.replace(/\s+/g, " ").trim())`))
		if err != nil {
			b.Fail("read the log lines", err)
		}
		return s
	}
	location := func() string {
		s, err := chromedp.Run(b.Ctx, chromedp.Location())
		if err != nil {
			b.Fail("location", err)
		}
		return strings.TrimPrefix(s, base)
	}

	// The logs page, from the Backups page.
	b.Run("open the logs",
		chromedp.Navigate(base+"/backups"),
		chromedp.WaitVisible(chromedp.CSS(`main a[href="/backups/logs"]`)),
		chromedp.Click(chromedp.CSS(`main a[href="/backups/logs"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#log-lines`)))
	// Alice is the administrator: she sees every agent's lines, Bob's too.
	if all := strings.Join(rows(), "\n"); !strings.Contains(all, "backup failed") || !strings.Contains(all, "bob-only line") {
		t.Fatalf("the administrator's logs page lists: %q", all)
	}
	links := js("links", `[...document.querySelectorAll('#log-lines a')].map(a => a.getAttribute('href')).join(" ")`)
	for _, l := range []string{"/backups/" + good, "/configs/" + e.ConfigID, "/configs/" + broken} {
		if !strings.Contains(links, l) {
			t.Errorf("the log lines do not link %s: %s", l, links)
		}
	}
	b.Audit("backup logs")

	b.Run("filter by the broken configuration and errors",
		chromedp.SetValue(chromedp.CSS(`#logs-config`), broken),
		chromedp.SetValue(chromedp.CSS(`#logs-level`), "error"),
		chromedp.Click(chromedp.CSS(`form[action="/backups/logs"] button[type=submit]`)))
	// The filters go into the address (the old page has the same list: wait for the new).
	testenv.EventuallyWithin(t, 30*time.Second, "the filtered page's address", func() bool {
		loc := location()
		return strings.Contains(loc, "config="+broken) && strings.Contains(loc, "level=error")
	})
	b.Run("the filtered lines", chromedp.WaitVisible(chromedp.CSS(`#log-lines`)))
	errs := rows()
	if len(errs) == 0 {
		t.Errorf("no error line of the broken configuration")
	}
	for _, row := range errs {
		if !strings.Contains(row, "Error") || !strings.Contains(row, "Broken") {
			t.Errorf("filtered by errors of Broken, a line reads %q", row)
		}
	}
	b.Audit("backup logs, filtered")

	// Many lines page by keyset: every line once, newest first.
	var many []store.AgentLog
	for i := range 250 {
		many = append(many, store.AgentLog{AgentID: e.AgentA, Level: "info", Message: fmt.Sprintf("bulk line %03d", i),
			Timestamp: t0.Add(time.Duration(i/3) * time.Second)}) // three lines a second: pages end inside a second
	}
	if err := e.App.Store.AddAgentLogs(ctx, many); err != nil {
		t.Fatal(err)
	}
	q := url.Values{"agent": {e.AgentA}, "until": {t0.Add(time.Hour).Format("2006-01-02T15:04:05")}, "since": {t0.Format("2006-01-02T15:04:05")}}
	b.Run("open the bulk lines", chromedp.Navigate(base+"/backups/logs?"+q.Encode()), chromedp.WaitVisible(chromedp.CSS(`#log-lines`)))
	seen := map[string]bool{}
	var order []string
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the pages do not end")
		}
		for _, row := range rows() {
			i := strings.Index(row, "bulk line ")
			if i < 0 {
				continue
			}
			m := row[i : i+len("bulk line 000")]
			if seen[m] {
				t.Errorf("%s on two pages", m)
			}
			seen[m] = true
			order = append(order, m)
		}
		if pages == 1 {
			b.Audit("backup logs, an older page")
		}
		more := js("older link", `(document.querySelector('a[rel="next"]') || {}).href || ""`)
		if more == "" {
			break
		}
		if !strings.Contains(more, "before=") || !strings.Contains(more, "agent="+e.AgentA) {
			t.Errorf("the older page's link %s does not keep the filters and its place", more)
		}
		b.Run("older lines", chromedp.Navigate(more), chromedp.WaitVisible(chromedp.CSS(`#log-lines`)))
	}
	if len(seen) != 250 {
		t.Errorf("paged through %d bulk lines, want 250", len(seen))
	}
	if len(order) > 0 && (order[0] != "bulk line 249" || order[len(order)-1] > "bulk line 002") {
		t.Errorf("bulk lines from %s to %s, want newest (249) first and the oldest second last", order[0], order[len(order)-1])
	}

	// The configuration's page, from its name in the list.
	b.Run("open the configuration from the list",
		chromedp.Navigate(base+"/configs"),
		chromedp.WaitVisible(chromedp.CSS(`table.configs`)),
		chromedp.Click(chromedp.CSS(`table.configs a[href="/configs/`+e.ConfigID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#settings`)))
	if loc := location(); loc != "/configs/"+e.ConfigID {
		t.Errorf("the name leads to %s", loc)
	}
	settings := b.Text(`#settings`)
	for _, w := range []string{e.Src, "Incremental", "daily at 02:00 (Europe/Berlin)", "zstd", "Agent alpha", "Everything is kept"} {
		if !strings.Contains(settings, w) {
			t.Errorf("the settings in words lack %q: %q", w, settings)
		}
	}
	next := js("next runs", `[...document.querySelectorAll('#next-runs li')].map(li => li.textContent).join("|")`)
	if n := strings.Count(next, "|") + 1; next == "" || n != 5 || !strings.Contains(next, "02:00 CE") {
		t.Errorf("next runs: %q, want five at 02:00 Berlin time", next)
	}
	last := js("last runs", `[...document.querySelectorAll('#last-runs tbody a')].map(a => a.getAttribute('href')).join(" ")`)
	for _, run := range []string{good, e.Run2, e.Run1} {
		if !strings.Contains(last, "/backups/"+run) {
			t.Errorf("last runs lack %s: %s", run, last)
		}
	}
	if got := b.Text(`#estimate`); !strings.Contains(got, "No estimate yet") {
		t.Errorf("the estimate section reads %q", got)
	}
	b.Audit("configuration page")
	b.Run("ask for an estimate",
		chromedp.Click(chromedp.CSS(`#estimate button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	if loc := location(); loc != "/configs/"+e.ConfigID+"#estimate" {
		t.Errorf("after asking for an estimate the browser is at %s, want back on the configuration's page", loc)
	}
	b.Audit("configuration page, estimate asked")

	// Bob, a plain user, sees only his own lines; Alice's configuration, in the
	// filter or on its own page, is not found.
	b.Run("sign out", chromedp.Click(chromedp.CSS(`header form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS(`#login-email`)))
	b.Run("sign in as Bob",
		chromedp.SendKeys(chromedp.CSS(`#login-email`), "bob@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), pw),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav a[href="/configs"]`)),
		chromedp.Navigate(base+"/backups/logs"),
		chromedp.WaitVisible(chromedp.CSS(`#log-lines`)))
	if got := rows(); len(got) != 1 || !strings.Contains(got[0], "bob-only line") {
		t.Errorf("Bob's logs page lists %q, want only his line", got)
	}
	for _, p := range []string{"/backups/logs?config=" + e.ConfigID, "/configs/" + e.ConfigID} {
		res, err := chromedp.RunResponse(b.Ctx, chromedp.Navigate(base+p))
		if err != nil || res.Status != http.StatusNotFound {
			t.Errorf("%s for another user: %v %v, want 404", p, res, err)
		}
		if got := b.Text(`main`); strings.Contains(got, "alpha") || strings.Contains(got, e.Src) {
			t.Errorf("%s shows another user's data: %q", p, got)
		}
	}
}
