package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/testenv/browser"
)

// TestSmallThingsInBrowser: on a server without SMTP settings the forgot-password page
// says before anything is submitted that reset by e-mail is off; a failed S3 connection
// test keeps the access key id typed (only the secret is asked again); a configuration
// with a generated key and gzip shows the gzip tar command to restore without backapp;
// a queued run's page offers Cancel, not "Run again". Every page passes the WCAG audit.
func TestSmallThingsInBrowser(t *testing.T) {
	b := browser.Start(t, 2*time.Minute)
	e := startAgents(t, pgtest.New(t))
	base := browser.Serve(t, e.Srv.Config.Handler)
	t.Cleanup(e.App.Events.Close)
	c := e.Client()
	c.Register("alice@example.com")
	agentID, _, _ := c.CreateAgent("alpha")
	js := func(step, expr string) string {
		t.Helper()
		s, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			b.Fail(step, err)
		}
		return s
	}

	b.Run("forgot password", chromedp.Navigate(base+"/forgot-password"), chromedp.WaitVisible(chromedp.CSS(`h1`)))
	if got := js("read the page", `(document.querySelector('#reset-off') || {}).textContent || ""`); !strings.Contains(got, "reset by e-mail is off") {
		t.Errorf("forgot-password without SMTP does not say reset by e-mail is off: %q", b.Text(`main`))
	}
	b.Audit("forgot password without SMTP")

	b.Run("sign in",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login-email`)),
		chromedp.SendKeys(chromedp.CSS(`#login-email`), "alice@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), pw),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav a[href="/configs"]`)))

	s3cfg := s3test.NewConfig(t)
	b.Run("test an S3 connection with a wrong secret",
		chromedp.Navigate(base+"/settings/storage/new"),
		chromedp.WaitVisible(chromedp.CSS(`#s3-name`)),
		chromedp.SendKeys(chromedp.CSS(`#s3-name`), "S3"),
		chromedp.SendKeys(chromedp.CSS(`#s3-endpoint`), s3cfg.Endpoint),
		chromedp.SendKeys(chromedp.CSS(`#s3-bucket`), s3cfg.Bucket),
		chromedp.Click(chromedp.CSS(`#s3-pathStyle`)),
		chromedp.SendKeys(chromedp.CSS(`#s3-accessKeyId`), s3cfg.AccessKey),
		chromedp.SendKeys(chromedp.CSS(`#s3-secretAccessKey`), "not-the-secret"),
		chromedp.Click(chromedp.CSS(`button[name="action"][value="test"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.field-error, .form-error`)))
	if got := js("read the key id", `document.querySelector('#s3-accessKeyId').value`); got != s3cfg.AccessKey {
		t.Errorf("after a failed test the access key id is %q, want %q kept", got, s3cfg.AccessKey)
	}
	if got := js("read the secret", `document.querySelector('#s3-secretAccessKey').value`); got != "" {
		t.Errorf("after a failed test the secret is filled in again")
	}
	b.Audit("failed S3 test")

	b.Run("new configuration, gzip, generated key",
		chromedp.Navigate(base+"/configs/new"),
		chromedp.WaitVisible(chromedp.CSS(`#config-name`)),
		chromedp.SendKeys(chromedp.CSS(`#config-name`), "Gzipped"),
		chromedp.SetValue(chromedp.CSS(`[name="agentId"]`), agentID),
		chromedp.SendKeys(chromedp.CSS(`#config-source-0-path`), "/srv"),
		chromedp.SetValue(chromedp.CSS(`[name="options.compression"]`), "gzip"))
	js("choose a generated key", `(document.querySelector('[name="options.encryptionMode"][value="generate"]').click(), "")`)
	b.Run("save", chromedp.Click(chromedp.CSS(`button[name="action"][value="save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#restore-h`)))
	if got := b.Text(`#restore-h + p`); !strings.Contains(got, ".tar.gz.age | tar -xz") || strings.Contains(got, "zst") {
		t.Errorf("the gzip configuration's restore hint is %q", got)
	}
	b.Audit("identity page")

	r := c.JSON("POST", "/api/configs", with(goodConfig(agentID), "name", "Queued"))
	want(t, r, http.StatusCreated)
	q := c.JSON("POST", "/api/backups/execute/"+r.Body["id"].(string), nil)
	want(t, q, http.StatusAccepted)
	run := q.Body["id"].(string)
	b.Run("open the queued run", chromedp.Navigate(base+"/backups/"+run), chromedp.WaitVisible(chromedp.CSS(`#run-actions`)))
	if got := b.Text(`#run-actions`); strings.Contains(got, "Run again") || !strings.Contains(got, "Cancel") {
		b.Fail("the queued run's actions", fmt.Errorf("%q: want Cancel, not Run again", got))
	}
	b.Audit("queued run")
}
