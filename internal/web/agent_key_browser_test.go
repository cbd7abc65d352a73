package web

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backapp/backapp/internal/agentdist"
	chromium "github.com/backapp/backapp/internal/testenv/browser"
)

// TestAgentKeyPageBrowser: registering an agent in chromium lands on the key's own
// page (post/redirect/get): reloading it shows the same key again instead of posting
// the form twice ("you already have an agent named…") and losing the key. With agent
// binaries beside the server, it offers the one-line install (curl … | sudo sh) and
// the Windows one (PowerShell running install.ps1) and download. Every
// command on it has a Copy button (added by app.js) named after what it copies. The
// page passes the WCAG 2.1 AA audit.
func TestAgentKeyPageBrowser(t *testing.T) {
	b := chromium.Start(t, 60*time.Second)
	e, _ := newAgentsEnv(t)
	base := chromium.Serve(t, e.srv.Config.Handler)
	bins := t.TempDir()
	for _, f := range []string{"backapp-agent-linux-amd64", "backapp-agent-windows-amd64.exe"} {
		if err := os.WriteFile(filepath.Join(bins, f), []byte("binary"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.h.dist = agentdist.New(bins, "https://backup.example")
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
	if got := b.Text(`#oneline`); !strings.Contains(got, "curl -fsSL https://backup.example/install.sh | sudo sh -s -- "+key) ||
		!strings.Contains(got, "& ([scriptblock]::Create((Invoke-RestMethod 'https://backup.example/install.ps1'))) '"+key+"'") ||
		!strings.Contains(got, "backapp-agent-windows-amd64.exe") {
		t.Errorf("the one-line install reads %q", got)
	}
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
