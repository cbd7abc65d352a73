package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/testenv"
	"github.com/backapp/backapp/internal/testenv/browser"
)

// TestLayoutsFit measures the pages in chromium, with an administrator's lists (owner
// columns), long names, a real agent's runs: at 1280×800 the Configurations table
// shows every row's actions and the Agents table its "Last backup" without scrolling;
// at 390×800 the navigation is one "Menu" button that opens with the keyboard to
// show every link, no page is wider than the screen, and the tables keep their first
// column and status in view with the actions a sideways scroll away (the first
// column staying). Headers sort, saying so in aria-sort and the address. The
// configuration form is in sections a person can scan (fieldsets with legends, the
// rarely changed settings folded) and much shorter than its 4,800 px. Every page and
// state passes the WCAG 2.1 AA audit, light and dark, 390 and 1280 px.
func TestLayoutsFit(t *testing.T) {
	b := browser.Start(t, 4*time.Minute)
	e := startRestoreEnv(t, pgtest.New(t))
	base := browser.Serve(t, e.Srv.Config.Handler)
	t.Cleanup(e.App.Events.Close)
	ctx := context.Background()

	// Long names everywhere a list shows them; another user's agent and configuration
	// so the administrator's lists have their owner column.
	for _, a := range []string{e.AgentA, e.AgentB} {
		if err := e.App.Store.RecordHeartbeat(ctx, a, store.AgentHeartbeat{Time: time.Now().UTC(), Platform: "linux", Arch: "amd64",
			Version: "v1.4.2-17-g3f9a2c1d-dirty", Hostname: "build-server-07.rack-12.datacenter-east.example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"Home directories of the accounting department", "Postgres dumps (nightly, kept 90 days)", "Photos"} {
		r := e.Alice.JSON("POST", "/api/configs", with(goodConfig(e.AgentA), "name", name,
			"schedule", map[string]any{"cronExpression": "30 23 * * 1-5", "timezone": "America/Argentina/Buenos_Aires"}))
		want(t, r, http.StatusCreated)
	}
	bob := e.Client()
	bob.Register("bartholomew.longname@subsidiary.example.com")
	bobAgent, _, _ := bob.CreateAgent("bartholomews-workstation")
	want(t, bob.JSON("POST", "/api/configs", with(goodConfig(bobAgent), "name", "Bartholomew's documents")), http.StatusCreated)

	b.Run("sign in",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login-email`)),
		chromedp.SendKeys(chromedp.CSS(`#login-email`), "alice@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), pw),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav a[href="/configs"]`)))
	width := func(w int64) { b.Run(fmt.Sprintf("%d px wide", w), chromedp.EmulateViewport(w, 800)) }
	open := func(path, sel string) {
		t.Helper()
		b.Run("open "+path, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS(sel)))
	}
	num := func(what, expr string) float64 {
		t.Helper()
		v, err := chromedp.Run(b.Ctx, chromedp.Evaluate[float64](expr))
		if err != nil {
			b.Fail(what, err)
		}
		return v
	}
	strs := func(what, expr string) []string {
		t.Helper()
		v, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string](expr))
		if err != nil {
			b.Fail(what, err)
		}
		return v
	}
	// outside lists the elements sel matches that are not shown (checkVisibility: a
	// closed <details> skips its content) or whose box is not inside the viewport
	// horizontally, by their text.
	outside := func(sel string) []string {
		t.Helper()
		if n := num("count "+sel, `document.querySelectorAll(`+"`"+sel+"`"+`).length`); n == 0 {
			t.Errorf("nothing on %s matches %s", b.Text(`h1`), sel)
		}
		return strs("boxes of "+sel, `[...document.querySelectorAll(`+"`"+sel+"`"+`)].filter(el => {
			const r = el.getBoundingClientRect();
			return !el.checkVisibility() || r.width === 0 || r.height === 0 || r.left < -0.5 || r.right > innerWidth + 0.5;
		}).map(el => el.textContent.replace(/\s+/g, " ").trim().slice(0, 60))`)
	}
	noPageOverflow := func(what string) {
		t.Helper()
		if over := num("page width", `document.scrollingElement.scrollWidth - innerWidth`); over > 0 {
			t.Errorf("%s: the page is %.0f px wider than the screen", what, over)
		}
	}

	// 1280×800: the lists fit.
	width(1280)
	open("/configs", "table.configs")
	if n := num("rows", `document.querySelectorAll('table.configs tbody tr').length`); n != 5 {
		t.Fatalf("the administrator's configurations list has %.0f rows, want 5", n)
	}
	if out := outside(`table.configs tbody .cell-actions`); len(out) > 0 {
		t.Errorf("at 1280×800 the actions of %d configurations are off screen: %q", len(out), out)
	}
	if out := outside(`table.configs tbody th`); len(out) > 0 {
		t.Errorf("at 1280×800 configuration names are off screen: %q", out)
	}
	if over := num("table scroll", `(s => s.scrollWidth - s.clientWidth)(document.querySelector('.table-scroll'))`); over > 0 {
		t.Errorf("at 1280×800 the configurations table scrolls sideways by %.0f px", over)
	}
	noPageOverflow("configurations at 1280")
	b.Audit("configurations")

	open("/agents", "table.agents")
	if out := outside(`table.agents tbody td.last-backup`); len(out) > 0 {
		t.Errorf("at 1280×800 the agents' last backup is cut: %q", out)
	}
	if over := num("table scroll", `(s => s.scrollWidth - s.clientWidth)(document.querySelector('.table-scroll'))`); over > 0 {
		t.Errorf("at 1280×800 the agents table scrolls sideways by %.0f px", over)
	}
	b.Audit("agents")

	// Sortable headers: Name sorts down on the second click, in the address and aria-sort.
	names := func() []string {
		return strs("names", `[...document.querySelectorAll('table.agents tbody th')].map(th => th.textContent.trim())`)
	}
	up := names()
	b.Run("sort by name, descending", chromedp.Click(chromedp.CSS(`table.agents thead th[aria-sort] a`)))
	testenv.EventuallyWithin(t, 30*time.Second, "the address to say the order", func() bool {
		loc, err := chromedp.Run(b.Ctx, chromedp.Location())
		return err == nil && strings.Contains(loc, "sort=name") && strings.Contains(loc, "dir=desc")
	})
	b.Run("the sorted list", chromedp.WaitVisible(chromedp.CSS(`table.agents thead th[aria-sort="descending"]`)))
	down := names()
	if len(up) < 2 || len(up) != len(down) || up[0] != down[len(down)-1] || up[len(up)-1] != down[0] {
		t.Errorf("sorting by name: %q, then descending %q", up, down)
	}
	b.Audit("agents, sorted")

	// The configuration form: sections, the rare ones folded, a fraction of its height.
	open("/configs/new", "#config-name")
	legends := strs("legends", `[...document.querySelectorAll('form fieldset.section > legend')].map(l => l.textContent.trim())`)
	if len(legends) < 8 {
		t.Errorf("the configuration form has %d sections with legends (%q), want every group in one", len(legends), legends)
	}
	if n := num("open details", `document.querySelectorAll('form details.more[open]').length`); n != 0 {
		t.Errorf("%.0f folded sections are open on a new configuration", n)
	}
	h := num("form height", `document.documentElement.scrollHeight`)
	t.Logf("the configuration form at 1280×800: %.0f px tall", h)
	if h > 3200 {
		t.Errorf("the configuration form is %.0f px tall at 1280×800, want under 3,200 (it was 4,800)", h)
	}
	b.Audit("configuration form")

	// 390×800: the navigation collapses into a Menu button.
	width(390)
	open("/dashboard", "main h1")
	if vis := strs("nav links", `[...document.querySelectorAll('nav.sidenav a')].filter(a => a.checkVisibility()).map(a => a.textContent.trim())`); len(vis) > 0 {
		t.Errorf("at 390 px the closed menu shows %q", vis)
	}
	if out := outside(`nav.sidenav summary`); len(out) > 0 {
		t.Errorf("the Menu button is not on screen")
	}
	b.Run("open the menu with the keyboard", chromedp.Focus(chromedp.CSS(`nav.sidenav summary`)), chromedp.KeyEvent(kb.Enter))
	testenv.EventuallyWithin(t, 10*time.Second, "the menu to open", func() bool {
		return num("menu open", `document.querySelector('#navmenu').open ? 1 : 0`) == 1
	})
	links := strs("links", `[...document.querySelectorAll('nav.sidenav a')].map(a => a.textContent.trim())`)
	for _, l := range []string{"Dashboard", "Agents", "Configurations", "Backups", "Restores", "Reports", "Alerts", "Profile", "Storage", "Users"} {
		if !strings.Contains(strings.Join(links, "|"), l) {
			t.Errorf("the menu lacks %s: %q", l, links)
		}
	}
	if out := outside(`nav.sidenav a`); len(out) > 0 {
		t.Errorf("at 390 px, after opening the menu, these links are not on screen: %q", out)
	}
	noPageOverflow("dashboard at 390, menu open")
	b.Audit("dashboard, menu open")
	b.Run("follow Settings · Storage from the menu", chromedp.Click(chromedp.CSS(`nav.sidenav a[href="/settings/storage"]`)), chromedp.WaitVisible(chromedp.CSS(`nav.sidenav a[aria-current="page"][href="/settings/storage"]`)))

	// Tables on a phone: name and status in view, actions a sideways scroll away.
	width(390)
	open("/configs", "table.configs")
	for _, sel := range []string{`table.configs tbody th`, `table.configs tbody td.last-run .status, table.configs tbody td.last-run .muted`} {
		if out := outside(sel); len(out) > 0 {
			t.Errorf("at 390 px these are off screen (%s): %q", sel, out)
		}
	}
	noPageOverflow("configurations at 390")
	num("scroll the table to its end", `(s => (s.scrollLeft = s.scrollWidth, 0))(document.querySelector('.table-scroll'))`)
	testenv.EventuallyWithin(t, 10*time.Second, "the actions in view", func() bool { return len(outside(`table.configs tbody .cell-actions a`)) == 0 })
	if out := outside(`table.configs tbody th a`); len(out) > 0 {
		t.Errorf("at 390 px, scrolled to the actions, the names left the screen (the first column should stay): %q", out)
	}
	b.Audit("configurations at 390 px")
	for _, p := range []struct{ path, sel string }{
		{"/agents", "table.agents"}, {"/backups", "table.backups"}, {"/backups/" + e.Run2, "main h1"},
		{"/backups/logs", "#log-lines"}, {"/restores", "main h1"}, {"/configs/new", "#config-name"},
		{"/configs/" + e.ConfigID, "#settings"}, {"/restores/new?run=" + e.Run2, "#restore-target"},
	} {
		open(p.path, p.sel)
		noPageOverflow(p.path + " at 390")
		if p.sel == "table.agents" || p.sel == "table.backups" {
			if out := outside(`table tbody th`); len(out) > 0 {
				t.Errorf("at 390 px the first column of %s is off screen: %q", p.path, out)
			}
		}
	}
	b.Audit("a run's page at 390 px")
}
