package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backapp/backapp/internal/testenv"
)

// TestConfigPreviewBrowser drives chromium through the configuration form under the
// server's Content-Security-Policy: typing a schedule updates the next runs through
// the external preview script, and a bad one shows its message.
func TestConfigPreviewBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test in -short mode")
	}
	path := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	testenv.Require(t, path != "", "chromium is not installed (make tools installs Debian's chromium)")

	e := newConfigEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		e.srv.Config.Handler.ServeHTTP(w, r)
	}))
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelCtx := chromedp.NewContext(actx)
	defer cancelCtx()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("%s: %v\n%s", step, err, body)
		}
	}
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
		chromedp.Navigate(srv.URL+"/register"),
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
