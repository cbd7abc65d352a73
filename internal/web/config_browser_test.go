package web

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	chromium "github.com/backapp/backapp/internal/testenv/browser"
)

// TestConfigPreviewBrowser drives chromium through the configuration form under the
// server's Content-Security-Policy: typing a schedule updates the next runs through
// the external preview script, and a bad one shows its message.
func TestConfigPreviewBrowser(t *testing.T) {
	b := chromium.Start(t, 60*time.Second)
	e := newConfigEnv(t)
	base := chromium.Serve(t, e.srv.Config.Handler)
	ctx := b.Ctx
	run := b.Run
	// waitPreview waits until the preview's text contains want.
	waitPreview := func(want string) string {
		t.Helper()
		var got string
		for i := 0; i < 50; i++ {
			s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#config-preview`)))
			if err == nil {
				got = strings.Join(strings.Fields(s), " ")
				if strings.Contains(got, want) {
					return got
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("preview never showed %q; it shows %q", want, got)
		return ""
	}

	run("register",
		chromedp.Navigate(base+"/register"),
		chromedp.WaitVisible(chromedp.CSS(`#register-name`)),
		chromedp.SendKeys(chromedp.CSS(`#register-name`), "Ada"),
		chromedp.SendKeys(chromedp.CSS(`#register-email`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#register-password`), "correct horse battery"),
		chromedp.SendKeys(chromedp.CSS(`#register-password_confirm`), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`form[action="/register"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav a[href="/configs"]`)))
	run("open the form",
		chromedp.Click(chromedp.CSS(`nav a[href="/configs"]`)),
		chromedp.WaitVisible(chromedp.CSS(`main a[href="/configs/new"]`)),
		chromedp.Click(chromedp.CSS(`main a[href="/configs/new"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[name="schedule.cronExpression"]`)))
	waitPreview("daily at 02:00") // rendered by the server

	run("type a schedule",
		chromedp.Clear(chromedp.CSS(`[name="schedule.cronExpression"]`)),
		chromedp.SendKeys(chromedp.CSS(`[name="schedule.cronExpression"]`), "30 2 * * 0"),
		chromedp.Clear(chromedp.CSS(`[name="schedule.timezone"]`)),
		chromedp.SendKeys(chromedp.CSS(`[name="schedule.timezone"]`), "Europe/Berlin"))
	got := waitPreview("weekly on Sunday at 02:30")
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#config-preview li').length`))
	if err != nil || n != 5 || !strings.Contains(got, "Sun") || !(strings.Contains(got, "CET") || strings.Contains(got, "CEST")) {
		t.Errorf("live preview: %d items (%v): %q", n, err, got)
	}

	// Clear only resets the value attribute, which typing has made stale.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.querySelector('[name="schedule.cronExpression"]').value = "", true)`)); err != nil {
		t.Fatal(err)
	}
	run("type a bad schedule",
		chromedp.SendKeys(chromedp.CSS(`[name="schedule.cronExpression"]`), "61 * * * *"))
	waitPreview("61 is out of range 0-59")
}
