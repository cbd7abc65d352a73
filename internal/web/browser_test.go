package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	chromium "github.com/backapp/backapp/internal/testenv/browser"
)

// TestBrowser drives Debian's chromium through what a person does first: create the
// first admin, sign out, sign in, change the password; then a second account is a
// plain user who is refused the users page; and the admin deletes it through the
// JavaScript <dialog>, under the server's Content-Security-Policy.
func TestBrowser(t *testing.T) {
	b := chromium.Start(t, 90*time.Second)
	e := newEnv(t)
	base := chromium.Serve(t, e.srv.Config.Handler)
	ctx := b.Ctx
	fail := b.Fail
	run := b.Run
	textOf := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			fail("read "+sel, err)
		}
		return strings.Join(strings.Fields(s), " ")
	}
	location := func() string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			fail("location", err)
		}
		return strings.TrimPrefix(s, base)
	}
	signOut := func() {
		t.Helper()
		run("sign out",
			chromedp.Click(chromedp.CSS(`header form[action="/logout"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`#login-email`)))
	}
	signIn := func(email, password string) {
		t.Helper()
		run("sign in as "+email,
			chromedp.WaitVisible(chromedp.CSS(`#login-email`)),
			chromedp.SendKeys(chromedp.CSS(`#login-email`), email),
			chromedp.SendKeys(chromedp.CSS(`#login-password`), password),
			chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`#acct-h`)))
	}
	register := func(name, email, password string) {
		t.Helper()
		run("register "+email,
			chromedp.WaitVisible(chromedp.CSS(`#register-name`)),
			chromedp.SendKeys(chromedp.CSS(`#register-name`), name),
			chromedp.SendKeys(chromedp.CSS(`#register-email`), email),
			chromedp.SendKeys(chromedp.CSS(`#register-password`), password),
			chromedp.SendKeys(chromedp.CSS(`#register-password_confirm`), password),
			chromedp.Click(chromedp.CSS(`form[action="/register"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`#acct-h`)))
	}

	// An empty server invites to create the first admin.
	run("open", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`#first-run`)))
	run("follow the invitation", chromedp.Click(chromedp.CSS(`.callout a[href="/register"]`)))
	register("Ada Admin", "ada@example.com", adminPass)
	if got := location(); got != "/dashboard" {
		t.Fatalf("after registering: at %s, want /dashboard", got)
	}
	if got := textOf("main"); !strings.Contains(got, "Your account is the administrator") {
		t.Errorf("dashboard of the first account: %q", got)
	}

	signOut()
	if got := textOf(".flash"); !strings.Contains(got, "You have signed out") {
		t.Errorf("after sign-out: %q", got)
	}
	signIn("ada@example.com", adminPass)

	const newPass = "browser chosen passphrase"
	run("change password",
		chromedp.Click(chromedp.CSS(`nav a[href="/settings/profile"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#password-current_password`)),
		chromedp.SendKeys(chromedp.CSS(`#password-current_password`), adminPass),
		chromedp.SendKeys(chromedp.CSS(`#password-new_password`), newPass),
		chromedp.SendKeys(chromedp.CSS(`#password-new_password_confirm`), newPass),
		chromedp.Click(chromedp.CSS(`form[action="/settings/password"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	if got := textOf(".flash"); !strings.Contains(got, "Your password was changed") {
		t.Errorf("after the password change: %q", got)
	}
	signOut()
	run("old password refused",
		chromedp.SendKeys(chromedp.CSS(`#login-email`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), adminPass),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.form-error`)))
	if got := textOf(".form-error"); !strings.Contains(got, "wrong e-mail or password") {
		t.Errorf("old password: %q", got)
	}
	run("clear the form", chromedp.Clear(chromedp.CSS(`#login-email`)))
	signIn("ada@example.com", newPass)
	signOut()

	// A second account is a plain user: no Users link, and 403 on the page itself.
	run("go to register", chromedp.Navigate(base+"/register"))
	register("Uma User", "uma@example.com", userPass)
	links, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('nav a[href="/users"]').length`))
	if err != nil || links != 0 {
		t.Errorf("a user's navigation links to /users (%d, %v)", links, err)
	}
	res, err := chromedp.RunResponse(ctx, chromedp.Navigate(base+"/users"))
	if err != nil {
		fail("open /users", err)
	}
	if res.Status != http.StatusForbidden {
		t.Errorf("a user on /users: status %d, want 403", res.Status)
	}
	if got := textOf("h1"); got != "You cannot do this" {
		t.Errorf("a user on /users sees %q", got)
	}
	run("back to the dashboard", chromedp.Click(chromedp.CSS(`main a[href="/dashboard"]`)), chromedp.WaitVisible(chromedp.CSS(`#acct-h`)))
	signOut()

	// The admin deletes the user; with JavaScript the confirmation is a <dialog>.
	signIn("ada@example.com", newPass)
	uma := userByEmail(t, e, "uma@example.com")
	dialog := `#delete-` + uma.ID
	run("open the delete dialog",
		chromedp.Click(chromedp.CSS(`nav a[href="/users"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#list-h`)),
		chromedp.Click(chromedp.CSS(`a[data-dialog="delete-`+uma.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(dialog)))
	if got := location(); got != "/users" {
		t.Errorf("the delete link navigated to %s instead of opening the dialog", got)
	}
	run("cancel", chromedp.Click(chromedp.CSS(dialog+` button[formmethod=dialog]`)), chromedp.WaitNotVisible(chromedp.CSS(dialog)))
	run("delete",
		chromedp.Click(chromedp.CSS(`a[data-dialog="delete-`+uma.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(dialog)),
		chromedp.Click(chromedp.CSS(dialog+` button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	if got := textOf(".flash"); !strings.Contains(got, "uma@example.com was deleted") {
		t.Errorf("after delete: %q", got)
	}
}
