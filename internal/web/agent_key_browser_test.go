package web

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	chromium "github.com/backapp/backapp/internal/testenv/browser"
)

// TestAgentKeyPageBrowser: registering an agent in chromium lands on the key's own
// page (post/redirect/get): reloading it shows the same key again instead of posting
// the form twice ("you already have an agent named…") and losing the key. Every
// command on it has a Copy button (added by app.js) named after what it copies. The
// page passes the WCAG 2.1 AA audit.
func TestAgentKeyPageBrowser(t *testing.T) {
	b := chromium.Start(t, 60*time.Second)
	e, _ := newAgentsEnv(t)
	base := chromium.Serve(t, e.srv.Config.Handler)
	b.Run("register",
		chromedp.Navigate(base+"/register"),
		chromedp.WaitVisible(chromedp.CSS(`#register-name`)),
		chromedp.SendKeys(chromedp.CSS(`#register-name`), "Ada"),
		chromedp.SendKeys(chromedp.CSS(`#register-email`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#register-password`), adminPass),
		chromedp.SendKeys(chromedp.CSS(`#register-password_confirm`), adminPass),
		chromedp.Click(chromedp.CSS(`form[action="/register"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav a[href="/configs"]`)))
	b.Run("register an agent",
		chromedp.Navigate(base+"/agents/new"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="name"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="name"]`), "web-1"),
		chromedp.Click(chromedp.CSS(`form[action="/agents/new"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#key-h`)))
	key := b.Text(`#key-h + pre`)
	b.Run("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`h1`)))
	if got := b.Text(`main`); strings.Contains(got, "already") || !strings.Contains(got, key) {
		t.Errorf("after a reload the key page reads %q; want the key %s again", got, key)
	}
	n, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]int](
		`[document.querySelectorAll('pre.command').length, document.querySelectorAll('button.copy[aria-label^="Copy"]').length]`))
	if err != nil || len(n) != 2 || n[0] < 4 || n[0] != n[1] {
		t.Errorf("commands and copy buttons: %v (%v), want a button for each command", n, err)
	}
	b.Audit("agent key page")
}
