package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backapp/backapp/internal/config"
	"github.com/backapp/backapp/internal/testenv/browser"
)

// TestNotificationsPageInBrowser: in chromium, a user adds a webhook channel (a
// refused URL first: the form says why), sends a test and sees the receiver's
// answer and the attempt, and deletes the channel after confirming. axe-core audits
// every state.
func TestNotificationsPageInBrowser(t *testing.T) {
	br := browser.Start(t, 3*time.Minute)
	e := start(t, "", func(c *config.Config) { c.WebhookAllow = "127.0.0.1" })
	hook := newHookReceiver(t, "browser-secret-0123456789")
	api := e.Client()
	api.Register("ada@example.com")

	base := browser.Serve(t, e.App.Handler())
	t.Cleanup(e.App.Events.Close) // before the test server's Close waits for open streams
	br.Run("sign in", signIn(base, "ada@example.com")...)
	br.Run("open the page from the settings navigation",
		chromedp.Click(chromedp.CSS(`nav a[href="/settings/notifications"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#channel-name`)))
	br.Audit("no channel yet")

	br.Run("add a channel with an ftp URL",
		chromedp.SendKeys(chromedp.CSS(`#channel-name`), "team hook"),
		chromedp.SendKeys(chromedp.CSS(`#channel-target`), "ftp://example.com/hook"),
		chromedp.SendKeys(chromedp.CSS(`#channel-secret`), "browser-secret-0123456789"),
		chromedp.Click(chromedp.CSS(`form[action="/settings/notifications"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#channel-target-error`)))
	if got := br.Text(`#channel-target-error`); !strings.Contains(got, "http:// or https://") {
		t.Errorf("the URL's error says %q", got)
	}
	br.Audit("a refused URL")

	br.Run("correct the URL",
		chromedp.Clear(chromedp.CSS(`#channel-target`)),
		chromedp.SendKeys(chromedp.CSS(`#channel-target`), hook.URL+"/hook"),
		chromedp.Click(chromedp.CSS(`form[action="/settings/notifications"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.channels`)))
	if got := br.Text(`.flash`); !strings.Contains(got, "team hook was saved") {
		t.Errorf("flash = %q", got)
	}
	br.Audit("a channel")

	br.Run("send a test",
		chromedp.Click(chromedp.CSS(`table.channels form[action$="/test"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`table.attempts`)))
	if got := br.Text(`.flash`); !strings.Contains(got, "answered 200") || !strings.Contains(got, "received test") {
		t.Errorf("the test's result says %q, want the receiver's answer", got)
	}
	if got := br.Text(`table.attempts tbody`); !strings.Contains(got, "Delivered") || !strings.Contains(got, "received test") {
		t.Errorf("the attempts say %q", got)
	}
	br.Audit("a test's answer and the attempts")

	br.Run("delete, confirming",
		chromedp.Click(chromedp.CSS(`table.channels a.danger`)),
		chromedp.WaitVisible(chromedp.CSS(`table.channels form[action$="/delete"] button`)))
	br.Audit("the delete confirmation")
	br.Run("confirm",
		chromedp.Click(chromedp.CSS(`table.channels form[action$="/delete"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	if got := br.Text(`.flash`); !strings.Contains(got, "team hook was deleted") {
		t.Errorf("flash after deleting = %q", got)
	}
	if r := api.JSON("GET", "/api/notifications/channels", nil); len(r.Body["channels"].([]any)) != 0 {
		t.Errorf("channels after deleting: %v", r.Body["channels"])
	}
}

// TestNotificationsEmailUnavailableInBrowser: on a server without SMTP settings the
// form says beforehand that e-mail channels cannot be added and what to set; adding
// one anyway shows the error beside the kind, with what was typed kept. axe-core
// audits both states.
func TestNotificationsEmailUnavailableInBrowser(t *testing.T) {
	br := browser.Start(t, 3*time.Minute)
	e := start(t, "", func(c *config.Config) { c.SMTPHost = "" })
	e.Client().Register("ada@example.com")

	base := browser.Serve(t, e.App.Handler())
	t.Cleanup(e.App.Events.Close)
	br.Run("sign in and open the page", append(signIn(base, "ada@example.com"),
		chromedp.Navigate(base+"/settings/notifications"),
		chromedp.WaitVisible(chromedp.CSS(`#channel-kind-help`)))...)
	if got := br.Text(`#channel-kind-help`); !strings.Contains(got, "--smtp-host") || !strings.Contains(got, "BACKAPP_SMTP_HOST") {
		t.Errorf("the form's note on e-mail says %q, want the settings to set", got)
	}
	br.Audit("e-mail unavailable")

	br.Run("add an e-mail channel anyway",
		chromedp.SendKeys(chromedp.CSS(`#channel-name`), "ops mail"),
		chromedp.SetValue(chromedp.CSS(`#channel-kind`), "email"),
		chromedp.SendKeys(chromedp.CSS(`#channel-target`), "ops@example.com"),
		chromedp.Click(chromedp.CSS(`form[action="/settings/notifications"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#channel-kind-error`)))
	if got := br.Text(`#channel-kind-error`); !strings.Contains(got, "--smtp-from") || !strings.Contains(got, "BACKAPP_SMTP_FROM") {
		t.Errorf("the kind's error says %q, want the settings to set", got)
	}
	kept, err := chromedp.Run(br.Ctx, chromedp.Evaluate[[]string](
		`["#channel-name", "#channel-kind", "#channel-target"].map(s => document.querySelector(s).value)`))
	if err != nil || strings.Join(kept, "|") != "ops mail|email|ops@example.com" {
		t.Errorf("the form kept %q (%v), want name, kind and address as typed", kept, err)
	}
	if shown, err := chromedp.Run(br.Ctx, chromedp.Evaluate[bool](`document.getElementById("channel-kind-help") !== null`)); err != nil || shown {
		t.Errorf("the note is shown beside the error that says the same (%v)", err)
	}
	br.Audit("an e-mail channel refused")
}

// signIn signs email in with the tests' password on the login page of base, and waits
// for the navigation.
func signIn(base, email string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(base + "/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login-email`)),
		chromedp.SendKeys(chromedp.CSS(`#login-email`), email),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), pw),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav a[href="/configs"]`)),
	}
}
