package server_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/testenv"
	"github.com/backapp/backapp/internal/testenv/browser"
)

// TestTablesSortAndMenuBadge: in chromium, the history's and the users' headers sort
// on click, both ways, the rows in the order the header says (the history by the
// store, so paging follows the order) and aria-sort naming it; at 390 px the open-alert
// count shows beside the closed Menu button, live as an alert is raised, in the
// button's name. Each state passes the WCAG 2.1 AA audit, light and dark.
func TestTablesSortAndMenuBadge(t *testing.T) {
	br := browser.Start(t, 3*time.Minute)
	now := time.Now().UTC().Truncate(time.Second)
	e := startRuns(t, "", newSchedClock(now), false)
	admin := e.Client()
	uid := registerID(t, admin, "mallory@example.com")
	for _, email := range []string{"zed@example.com", "bob@example.com"} {
		e.Client().Register(email)
	}
	agentID, _, _ := admin.CreateAgent("box")
	cfg := e.MkScheduled(uid, agentID, "nightly", "", `{}`)
	ctx := context.Background()
	mk := func(ago time.Duration, status string, took time.Duration, size int64) string {
		t.Helper()
		r := store.Run{ConfigID: cfg.ID, UserID: uid, AgentID: agentID, StartTime: now.Add(-ago), Status: status, TotalBytes: size}
		end, ms := r.StartTime.Add(took), took.Milliseconds()
		r.EndTime, r.DurationMS = &end, &ms
		if err := e.App.Store.CreateRun(ctx, &r); err != nil {
			t.Fatal(err)
		}
		return "/backups/" + r.ID
	}
	a := mk(4*time.Hour, "completed", 5*time.Minute, 300<<20)
	b := mk(3*time.Hour, "failed", time.Minute, 100<<20)
	c := mk(2*time.Hour, "completed", 10*time.Minute, 200<<20)

	base := browser.Serve(t, e.App.Handler())
	t.Cleanup(e.App.Events.Close)
	br.Run("sign in",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login-email`)),
		chromedp.SendKeys(chromedp.CSS(`#login-email`), "mallory@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), pw),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav a[href="/configs"]`)))
	eval := func(what, expr string) []string {
		t.Helper()
		v, err := chromedp.Run(br.Ctx, chromedp.Evaluate[[]string](expr))
		if err != nil {
			br.Fail(what, err)
		}
		return v
	}
	sorted := func(table, key, dir, rowsJS string, want ...string) {
		t.Helper()
		checkSorted(t, br, key != "", table, key, dir, rowsJS, want...)
	}
	runs := `[...document.querySelectorAll('table.backups tbody th a')].map(a => a.getAttribute('href'))`

	br.Run("open the history", chromedp.Navigate(base+"/backups"), chromedp.WaitVisible(chromedp.CSS(`table.backups`)))
	testenv.EventuallyWithin(t, 10*time.Second, "newest first", func() bool {
		return slices.Equal(eval("default aria-sort", `[...document.querySelectorAll('table.backups thead th[aria-sort]')].map(th => th.querySelector('a').textContent.replace(/\s+/g, ' ').trim() + ' ' + th.getAttribute('aria-sort'))`), []string{"Started ▼ descending"})
	})
	if got := eval("rows", runs); !slices.Equal(got, []string{c, b, a}) {
		t.Errorf("history by default: %q, want newest first %q", got, []string{c, b, a})
	}
	br.Audit("history")
	sorted("backups", "size", "ascending", runs, b, c, a)
	br.Audit("history by size")
	sorted("backups", "size", "descending", runs, a, c, b)
	sorted("backups", "duration", "ascending", runs, b, a, c)
	sorted("backups", "duration", "descending", runs, c, a, b)
	sorted("backups", "status", "ascending", runs, a, c, b)
	sorted("backups", "started", "descending", runs, c, b, a)
	sorted("backups", "started", "ascending", runs, a, b, c)
	br.Audit("history oldest first")

	emails := `[...document.querySelectorAll('table.users tbody th .email')].map(s => s.textContent.trim())`
	br.Run("open the users", chromedp.Navigate(base+"/users"), chromedp.WaitVisible(chromedp.CSS(`table.users`)))
	// By creation by default; the test's clock stands still, so the e-mail breaks the tie.
	sorted("users", "", "ascending", emails, "bob@example.com", "mallory@example.com", "zed@example.com")
	sorted("users", "account", "ascending", emails, "bob@example.com", "mallory@example.com", "zed@example.com")
	br.Audit("users by account")
	sorted("users", "account", "descending", emails, "zed@example.com", "mallory@example.com", "bob@example.com")
	sorted("users", "role", "ascending", emails, "mallory@example.com", "bob@example.com", "zed@example.com") // "admin" < "user", then by e-mail

	// The phone's Menu button carries the open-alert count, live, the menu closed.
	br.Run("390 px wide", chromedp.EmulateViewport(390, 800))
	br.Run("open the history at 390 px", chromedp.Navigate(base+"/backups"), chromedp.WaitVisible(chromedp.CSS(`nav.sidenav summary`)))
	badge := func() []string {
		return eval("menu badge", `(b => [String(b.hidden), String(b.checkVisibility()), String(document.querySelector('#navmenu').open),
			document.querySelector('#navmenu > summary').textContent.replace(/\s+/g, ' ').trim()])(document.getElementById('menu-alert-count'))`)
	}
	if got := badge(); got[0] != "true" || got[2] != "false" {
		t.Fatalf("before any alert the menu badge is (hidden, visible, menu open, text) %q", got)
	}
	testenv.Eventually(t, "the page's event stream", func() bool { return e.App.Events.Stats().Subscribers == 1 })
	cfg2 := e.MkScheduled(uid, agentID, "hourly", "", `{}`)
	e.Finish(e.MkRun(cfg2, "running"), "failed")
	if err := e.App.Alerts.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	defer func() {
		if t.Failed() {
			t.Logf("the menu badge last read (hidden, visible, menu open, text) %q", got)
		}
	}()
	testenv.EventuallyWithin(t, 30*time.Second, "the badge beside the closed Menu to show 1", func() bool {
		got = badge()
		return got[0] == "false" && got[1] == "true" && got[2] == "false" && got[3] == "☰ Menu 1 (1 open alert)"
	})
	br.Audit("history at 390 px, menu closed, an alert open")
	br.Run("390 px wide again", chromedp.EmulateViewport(390, 800))
	br.Run("reload", chromedp.Navigate(base+"/users"), chromedp.WaitVisible(chromedp.CSS(`nav.sidenav summary`)))
	if got := badge(); got[0] != "false" || got[1] != "true" || got[2] != "false" || got[3] != "☰ Menu 1 (1 open alert)" {
		t.Errorf("after a reload the menu badge is (hidden, visible, menu open, text) %q", got)
	}
}

// checkSorted waits for table to be sorted by key in dir (aria-sort on that header
// alone) and checks its rows' keys (rowsJS) are want. With click, it first clicks
// key's header, from the page's own script: live.js swaps lists in place when the
// stream says so, and a click from outside could land between finding the header and
// pressing it.
func checkSorted(t *testing.T, br *browser.Browser, click bool, table, key, dir, rowsJS string, want ...string) {
	t.Helper()
	if click {
		if _, err := chromedp.Run(br.Ctx, chromedp.Evaluate[bool](`(a => (a.click(), true))(document.querySelector('table.`+table+` thead a[href*="sort=`+key+`&"], table.`+table+` thead a[href$="sort=`+key+`"]'))`)); err != nil {
			br.Fail("sort "+table+" by "+key, err)
		}
	}
	var got []string
	testenv.EventuallyWithin(t, 30*time.Second, table+" sorted by "+key+" "+dir, func() bool {
		// Read again when the read meets the navigation.
		aria, err := chromedp.Run(br.Ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('table.`+table+` thead th[aria-sort]')].map(th => th.querySelector('a').getAttribute('href') + ' ' + th.getAttribute('aria-sort'))`))
		if err != nil || len(aria) != 1 || !strings.Contains(aria[0], "sort="+key) || !strings.HasSuffix(aria[0], " "+dir) {
			return false
		}
		got, err = chromedp.Run(br.Ctx, chromedp.Evaluate[[]string](rowsJS))
		return err == nil
	})
	if !slices.Equal(got, want) {
		t.Errorf("%s sorted by %s, %s: rows %q, want %q", table, key, dir, got, want)
	}
}
