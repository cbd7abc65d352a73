package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/backapp/backapp/internal/store"
)

const (
	adminPass = "correct horse battery"
	userPass  = "another long passphrase"
)

// TestAccountFlow walks the path the issue judges by: the first registration becomes
// admin, sign out, sign in, change the password (the old one stops working); a
// second registration becomes a user who gets 403 on the users page.
func TestAccountFlow(t *testing.T) {
	e := newEnv(t)
	admin := e.browser()

	if r := admin.get("/"); r.Status != http.StatusSeeOther || r.Location() != "/login" {
		t.Fatalf("GET / signed out: got %d → %q, want 303 → /login", r.Status, r.Location())
	}
	r := admin.get("/login")
	if got := mainText(r); !strings.Contains(got, "No account exists yet") {
		t.Errorf("login page of an empty server does not invite to create the first admin: %q", got)
	}
	if len(find(r.Doc, func(n *html.Node) bool { return n.DataAtom == atom.A && attr(n, "href") == "/register" })) == 0 {
		t.Error("login page of an empty server has no link to /register")
	}

	admin.register("Ada Admin", "ada@example.com", adminPass)
	r = admin.get("/dashboard")
	if r.Status != http.StatusOK {
		t.Fatalf("GET /dashboard: %d", r.Status)
	}
	for _, want := range []string{"Welcome, Ada Admin", "Administrator", "1 account", "Your account is the administrator"} {
		if !strings.Contains(mainText(r), want) {
			t.Errorf("dashboard lacks %q: %q", want, mainText(r))
		}
	}
	if got := navLinks(r); !equal(got, []string{"/dashboard", "/agents", "/configs", "/backups", "/restores", "/reports", "/settings/profile", "/settings/storage", "/settings/server", "/users"}) {
		t.Errorf("admin navigation links = %v, want the links of the pages that exist", got)
	}

	admin.logout()
	r = admin.get("/login")
	if !strings.Contains(mainText(r), "You have signed out") {
		t.Errorf("no sign-out flash on the login page: %q", mainText(r))
	}
	if r := admin.get("/dashboard"); r.Status != http.StatusSeeOther || r.Location() != "/login?next=%2Fdashboard" {
		t.Fatalf("dashboard after sign-out: got %d → %q, want 303 → /login?next=%%2Fdashboard", r.Status, r.Location())
	}

	// Wrong password: 401, the e-mail kept, the password never sent back.
	r = admin.post("/login", url.Values{"email": {"ada@example.com"}, "password": {"wrong password here"}})
	if r.Status != http.StatusUnauthorized || !strings.Contains(errorsOf(r), "wrong e-mail or password") {
		t.Fatalf("wrong password: got %d %q, want 401 with the reason", r.Status, errorsOf(r))
	}
	if got := attr(input(t, r, "email"), "value"); got != "ada@example.com" {
		t.Errorf("e-mail not kept after a failed sign-in: %q", got)
	}
	if strings.Contains(r.Body, "wrong password here") {
		t.Error("the password was echoed back into the page")
	}

	// Sign-in returns to the page that asked for it.
	admin.get("/login?next=/settings/profile")
	r = admin.post("/login", url.Values{"email": {"ada@example.com"}, "password": {adminPass}, "next": {"/settings/profile"}})
	if r.Status != http.StatusSeeOther || r.Location() != "/settings/profile" {
		t.Fatalf("login with next: got %d → %q", r.Status, r.Location())
	}

	// Change the password.
	admin.get("/settings/profile")
	const newPass = "a brand new passphrase"
	r = admin.post("/settings/password", url.Values{"current_password": {adminPass}, "new_password": {newPass}, "new_password_confirm": {newPass}})
	if r.Status != http.StatusSeeOther || r.Location() != "/settings/profile" {
		t.Fatalf("change password: got %d → %q: %s", r.Status, r.Location(), errorsOf(r))
	}
	if r = admin.get("/settings/profile"); !strings.Contains(mainText(r), "Your password was changed") {
		t.Errorf("no flash after the password change: %q", mainText(r))
	}
	admin.logout()
	admin.get("/login")
	if r := admin.post("/login", url.Values{"email": {"ada@example.com"}, "password": {adminPass}}); r.Status != http.StatusUnauthorized {
		t.Errorf("old password after change: got %d, want 401", r.Status)
	}
	admin.login("ada@example.com", newPass, "/dashboard")

	// A second registration is a plain user, who may not see the users page.
	user := e.browser()
	user.register("Uma User", "uma@example.com", userPass)
	r = user.get("/dashboard")
	if strings.Contains(mainText(r), "Administrator") || strings.Contains(mainText(r), "accounts") {
		t.Errorf("a user's dashboard shows admin information: %q", mainText(r))
	}
	if got := navLinks(r); !equal(got, []string{"/dashboard", "/agents", "/configs", "/backups", "/restores", "/reports", "/settings/profile", "/settings/storage"}) {
		t.Errorf("user navigation links = %v, want dashboard and profile only", got)
	}
	r = user.get("/users")
	if r.Status != http.StatusForbidden {
		t.Fatalf("GET /users as a user: got %d, want 403", r.Status)
	}
	if !strings.Contains(mainText(r), "only administrators") {
		t.Errorf("403 page does not say why: %q", mainText(r))
	}

	// The admin sees both accounts.
	r = admin.get("/users")
	if r.Status != http.StatusOK || !strings.Contains(mainText(r), "uma@example.com") || !strings.Contains(mainText(r), "2 accounts") {
		t.Fatalf("GET /users as admin: %d %q", r.Status, mainText(r))
	}
}

// TestAdminActions covers role change, disable (which ends the user's session at
// once), enable, delete with confirmation, and opening and closing registration.
func TestAdminActions(t *testing.T) {
	e := newEnv(t)
	admin, user := e.browser(), e.browser()
	admin.register("Ada Admin", "ada@example.com", adminPass)
	user.register("Uma User", "uma@example.com", userPass)
	uma := userByEmail(t, e, "uma@example.com")
	ada := userByEmail(t, e, "ada@example.com")

	admin.get("/users")
	r := admin.post("/users/"+uma.ID+"/role", url.Values{"role": {"admin"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("role change: %d %s", r.Status, errorsOf(r))
	}
	if r = admin.get("/users"); !strings.Contains(mainText(r), "uma@example.com is now an administrator") {
		t.Errorf("no flash after the role change: %q", mainText(r))
	}
	if got := userByEmail(t, e, "uma@example.com").Role; got != store.RoleAdmin {
		t.Errorf("role after change = %q, want admin", got)
	}
	admin.post("/users/"+uma.ID+"/role", url.Values{"role": {"user"}})

	// An admin cannot act on their own account: the page says why, with 403.
	admin.get("/users")
	r = admin.post("/users/"+ada.ID+"/disable", url.Values{})
	if r.Status != http.StatusForbidden || !strings.Contains(errorsOf(r), "your own account") {
		t.Errorf("disabling oneself: got %d %q, want 403 with the reason", r.Status, errorsOf(r))
	}

	r = admin.post("/users/"+uma.ID+"/disable", url.Values{})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("disable: %d %s", r.Status, errorsOf(r))
	}
	if r := user.get("/dashboard"); r.Status != http.StatusSeeOther {
		t.Errorf("a disabled user's session still works: %d", r.Status)
	}
	user.get("/login")
	if r := user.post("/login", url.Values{"email": {"uma@example.com"}, "password": {userPass}}); r.Status != http.StatusForbidden {
		t.Errorf("a disabled user signing in: got %d, want 403", r.Status)
	}
	admin.get("/users")
	if r := admin.post("/users/"+uma.ID+"/enable", url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("enable: %d %s", r.Status, errorsOf(r))
	}
	user.login("uma@example.com", userPass, "/dashboard")

	// Delete: the confirmation page (no JavaScript) names what will be lost, and the
	// POST refuses to act without the confirmation.
	r = admin.get("/users/" + uma.ID + "/delete")
	if r.Status != http.StatusOK || !strings.Contains(mainText(r), "uma@example.com") || !strings.Contains(mainText(r), "cannot be undone") {
		t.Fatalf("delete confirmation page: %d %q", r.Status, mainText(r))
	}
	r = admin.post("/users/"+uma.ID+"/delete", url.Values{})
	if r.Status != http.StatusBadRequest || fieldErrorCheckbox(r) == "" {
		t.Fatalf("delete without confirmation: got %d %q, want 400 with the reason", r.Status, errorsOf(r))
	}
	if _, err := e.st.GetUser(context.Background(), uma.ID); err != nil {
		t.Fatalf("user deleted without confirmation: %v", err)
	}
	// With JavaScript the users page has a <dialog> naming the account.
	r = admin.get("/users")
	dialogs := find(r.Doc, byAtom(atom.Dialog))
	if len(dialogs) != 1 || !strings.Contains(text(dialogs[0]), "uma@example.com") {
		t.Errorf("users page: want one delete <dialog> naming uma@example.com, got %d", len(dialogs))
	}
	r = admin.post("/users/"+uma.ID+"/delete", url.Values{"confirm": {"yes"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("delete: %d %s", r.Status, errorsOf(r))
	}
	if r = admin.get("/users"); !strings.Contains(mainText(r), "uma@example.com was deleted") || !strings.Contains(mainText(r), "1 account") {
		t.Errorf("users page after delete: %q", mainText(r))
	}
	if r := user.get("/dashboard"); r.Status != http.StatusSeeOther {
		t.Errorf("a deleted user's session still works: %d", r.Status)
	}
	r = admin.post("/users/"+uma.ID+"/delete", url.Values{"confirm": {"yes"}})
	if r.Status != http.StatusNotFound {
		t.Errorf("deleting a missing user: got %d, want 404", r.Status)
	}

	// Close registration: the page says so plainly and the form is refused.
	admin.get("/users")
	if r := admin.post("/settings/registration", url.Values{"open": {"false"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("close registration: %d %s", r.Status, errorsOf(r))
	}
	if r := admin.get("/users"); !strings.Contains(mainText(r), "Registration is closed") {
		t.Errorf("no flash after closing registration: %q", mainText(r))
	}
	visitor := e.browser()
	r = visitor.get("/register")
	if !strings.Contains(mainText(r), "Registration is closed") || len(find(r.Doc, byAtom(atom.Form))) != 0 {
		t.Errorf("closed registration page: %q", mainText(r))
	}
	if r := visitor.get("/login"); strings.Contains(mainText(r), "Create one") {
		t.Error("login page offers registration while it is closed")
	}
	r = visitor.post("/register", url.Values{"name": {"Vic"}, "email": {"vic@example.com"}, "password": {userPass}, "password_confirm": {userPass}})
	if r.Status != http.StatusForbidden || !strings.Contains(mainText(r), "Registration is closed") {
		t.Errorf("register while closed: got %d %q, want 403 with the reason", r.Status, errorsOf(r))
	}
	admin.get("/users")
	admin.post("/settings/registration", url.Values{"open": {"true"}})
	visitor.register("Vic Visitor", "vic@example.com", userPass)
}

// TestOnlyOwnProfile: a user cannot see or change anyone else's account through the
// UI, whatever the form carries.
func TestOnlyOwnProfile(t *testing.T) {
	e := newEnv(t)
	admin, user := e.browser(), e.browser()
	admin.register("Ada Admin", "ada@example.com", adminPass)
	user.register("Uma User", "uma@example.com", userPass)
	ada := userByEmail(t, e, "ada@example.com")

	r := user.get("/settings/profile")
	if strings.Contains(r.Body, "ada@example.com") {
		t.Error("a user's profile page shows another account")
	}
	r = user.post("/settings/profile", url.Values{"id": {ada.ID}, "user_id": {ada.ID}, "name": {"Hacked"}, "email": {"uma2@example.com"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("profile update: %d %s", r.Status, errorsOf(r))
	}
	if got := userByEmail(t, e, "ada@example.com"); got.Name != "Ada Admin" {
		t.Errorf("the admin's name changed to %q through another user's form", got.Name)
	}
	if got := userByEmail(t, e, "uma2@example.com"); got.Name != "Hacked" {
		t.Errorf("own profile not updated: %+v", got)
	}
	r = user.get("/settings/profile")
	if !strings.Contains(mainText(r), "Your profile was saved") || attr(input(t, r, "email"), "value") != "uma2@example.com" {
		t.Errorf("profile page after save: %q", mainText(r))
	}
	// Taking another account's e-mail is refused beside the field.
	r = user.post("/settings/profile", url.Values{"name": {"Uma"}, "email": {"ada@example.com"}})
	if r.Status != http.StatusBadRequest || !strings.Contains(fieldError(t, r, "email"), "another account") {
		t.Errorf("profile with a taken e-mail: %d %q", r.Status, errorsOf(r))
	}

	for _, path := range []string{"/users/" + ada.ID + "/role", "/users/" + ada.ID + "/disable", "/users/" + ada.ID + "/enable", "/users/" + ada.ID + "/delete", "/settings/registration"} {
		user.get("/settings/profile")
		if r := user.post(path, url.Values{"role": {"user"}, "confirm": {"yes"}, "open": {"false"}}); r.Status != http.StatusForbidden {
			t.Errorf("POST %s as a user: got %d, want 403", path, r.Status)
		}
	}
	if r := user.get("/users/" + ada.ID + "/delete"); r.Status != http.StatusForbidden || strings.Contains(r.Body, "ada@example.com") {
		t.Errorf("GET delete page of another user as a user: %d", r.Status)
	}
	if got := userByEmail(t, e, "ada@example.com"); got.Role != store.RoleAdmin || got.Disabled {
		t.Errorf("admin account changed by a user: %+v", got)
	}
}

// TestFormErrors: errors appear beside their fields, entered values stay, passwords
// are never sent back.
func TestFormErrors(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.get("/register")
	r := b.post("/register", url.Values{"name": {"Ada"}, "email": {"not-an-email"}, "password": {"short"}, "password_confirm": {"short"}})
	if r.Status != http.StatusBadRequest {
		t.Fatalf("invalid registration: got %d, want 400", r.Status)
	}
	if got := fieldError(t, r, "email"); !strings.Contains(got, "valid e-mail") {
		t.Errorf("e-mail error = %q", got)
	}
	if got := fieldError(t, r, "password"); !strings.Contains(got, "at least 12 characters") {
		t.Errorf("password error = %q", got)
	}
	if got := fieldError(t, r, "name"); got != "" {
		t.Errorf("name has an error though it is fine: %q", got)
	}
	if got := attr(input(t, r, "name"), "value"); got != "Ada" {
		t.Errorf("name not kept: %q", got)
	}
	if got := attr(input(t, r, "email"), "value"); got != "not-an-email" {
		t.Errorf("e-mail not kept: %q", got)
	}
	for _, name := range []string{"password", "password_confirm"} {
		if in := input(t, r, name); hasAttr(in, "value") {
			t.Errorf("password field %s sent back with a value", name)
		}
	}
	if in := input(t, r, "email"); attr(in, "aria-invalid") != "true" || !strings.Contains(attr(in, "aria-describedby"), "register-email-error") {
		t.Errorf("e-mail input not marked invalid and described by its error: %v", in.Attr)
	}

	r = b.post("/register", url.Values{"name": {"Ada"}, "email": {"ada@example.com"}, "password": {adminPass}, "password_confirm": {adminPass + "x"}})
	if r.Status != http.StatusBadRequest || !strings.Contains(fieldError(t, r, "password_confirm"), "differ") {
		t.Errorf("mismatched confirmation: %d %q", r.Status, errorsOf(r))
	}

	b.register("Ada", "ada@example.com", adminPass)
	b.get("/settings/profile")
	r = b.post("/settings/password", url.Values{"current_password": {"not my password"}, "new_password": {userPass}, "new_password_confirm": {userPass}})
	if r.Status != http.StatusBadRequest || !strings.Contains(fieldError(t, r, "current_password"), "current password is wrong") {
		t.Errorf("wrong current password: %d %q", r.Status, errorsOf(r))
	}
	// The other form on the page keeps its values and shows no error.
	if got := attr(input(t, r, "email"), "value"); got != "ada@example.com" {
		t.Errorf("profile form lost its values: %q", got)
	}
	if got := fieldError(t, r, "email"); got != "" {
		t.Errorf("password error shown in the profile form: %q", got)
	}
	r = b.post("/settings/password", url.Values{"current_password": {adminPass}, "new_password": {"short"}, "new_password_confirm": {"short"}})
	if r.Status != http.StatusBadRequest || !strings.Contains(fieldError(t, r, "new_password"), "at least 12") {
		t.Errorf("short new password: %d %q", r.Status, errorsOf(r))
	}
	r = b.post("/settings/profile", url.Values{"name": {""}, "email": {"ada@example.com"}})
	if r.Status != http.StatusBadRequest || !strings.Contains(fieldError(t, r, "name"), "name is required") {
		t.Errorf("empty name: %d %q", r.Status, errorsOf(r))
	}
}

// TestCSRF: a form POST without the token is refused with a 403 page that says
// what to do, signed in or not.
func TestCSRF(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.get("/login")
	r := b.post("/register", url.Values{"csrf_token": {""}, "name": {"Ada"}, "email": {"ada@example.com"}, "password": {adminPass}, "password_confirm": {adminPass}})
	if r.Status != http.StatusForbidden || !strings.Contains(mainText(r), "CSRF") {
		t.Fatalf("register without token: got %d %q, want 403", r.Status, mainText(r))
	}
	if n, _ := e.st.CountUsers(context.Background()); n != 0 {
		t.Fatalf("an account was created without a CSRF token")
	}
	b.register("Ada", "ada@example.com", adminPass)
	for _, path := range []string{"/settings/profile", "/settings/password", "/logout", "/settings/registration"} {
		r := b.post(path, url.Values{"csrf_token": {"wrong"}, "name": {"X"}, "email": {"x@example.com"}})
		if r.Status != http.StatusForbidden {
			t.Errorf("POST %s with a wrong token: got %d, want 403", path, r.Status)
		}
	}
	if got := userByEmail(t, e, "ada@example.com").Name; got != "Ada" {
		t.Errorf("profile changed without a valid token: %q", got)
	}
	if r := b.get("/dashboard"); r.Status != http.StatusOK {
		t.Errorf("signed out by a forged logout: %d", r.Status)
	}
}

// TestSignedOutRedirects: app pages send visitors to sign in, remembering where
// they were going; the sign-in page only ever returns to a local path.
func TestSignedOutRedirects(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	for _, path := range []string{"/dashboard", "/settings/profile", "/users", "/users/x/delete", "/dashboard?tab=1"} {
		r := b.get(path)
		want := "/login?next=" + url.QueryEscape(path)
		if r.Status != http.StatusSeeOther || r.Location() != want {
			t.Errorf("GET %s signed out: got %d → %q, want 303 → %s", path, r.Status, r.Location(), want)
		}
	}
	b.get("/forgot-password")
	if r := b.post("/settings/profile", url.Values{"name": {"X"}}); r.Status != http.StatusSeeOther || r.Location() != "/login" {
		t.Errorf("POST /settings/profile signed out: got %d → %q", r.Status, r.Location())
	}

	b.register("Ada", "ada@example.com", adminPass)
	b.logout()
	b.get("/login")
	r := b.post("/login", url.Values{"email": {"ada@example.com"}, "password": {adminPass}, "next": {"https://evil.example/"}})
	if r.Location() != "/dashboard" {
		t.Errorf("login with an external next went to %q", r.Location())
	}
	if r := b.get("/login?next=/users"); r.Status != http.StatusSeeOther || r.Location() != "/users" {
		t.Errorf("GET /login?next=/users while signed in: %d → %q", r.Status, r.Location())
	}
}

func TestSafeNext(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "/dashboard"},
		{"/users", "/users"},
		{"/dashboard?tab=1", "/dashboard?tab=1"},
		{"//evil.example/x", "/dashboard"},
		{"/\\evil.example", "/dashboard"},
		{"https://evil.example/", "/dashboard"},
		{"javascript:alert(1)", "/dashboard"},
		{"users", "/dashboard"},
		{"/login", "/dashboard"},
		{"/static/x/app.css", "/dashboard"},
		{"/a\r\nSet-Cookie: x=1", "/dashboard"},
	} {
		if got := safeNext(tc.in); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestPasswordReset: the forgot page answers the same for every address; the
// e-mailed link sets a new password once; a bad or missing token says so clearly.
func TestPasswordReset(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.register("Ada", "ada@example.com", adminPass)
	b.logout()

	var pages []string
	for _, email := range []string{"ada@example.com", "nobody@example.com"} {
		b.get("/forgot-password")
		r := b.post("/forgot-password", url.Values{"email": {email}})
		if r.Status != http.StatusSeeOther || r.Location() != "/forgot-password?sent=1" {
			t.Fatalf("forgot %s: got %d → %q", email, r.Status, r.Location())
		}
		r = b.follow(r)
		if !strings.Contains(mainText(r), "If an account exists for that address, we sent it a link") {
			t.Errorf("forgot page after request: %q", mainText(r))
		}
		pages = append(pages, mainText(r))
	}
	if pages[0] != pages[1] {
		t.Errorf("the answer differs for a known and an unknown address:\n%s\n%s", pages[0], pages[1])
	}

	r := b.get("/reset-password")
	if r.Status != http.StatusBadRequest || !strings.Contains(mainText(r), "incomplete") || len(find(r.Doc, byAtom(atom.Form))) != 0 {
		t.Errorf("reset page without token: %d %q", r.Status, mainText(r))
	}
	// The token is only checked on submit (checking it on GET would use it up).
	if r := b.get("/reset-password?token=bogus"); r.Status != http.StatusOK || len(find(r.Doc, byAtom(atom.Form))) != 1 {
		t.Errorf("reset page with a token: %d", r.Status)
	}
	r = b.post("/reset-password", url.Values{"token": {"bogus"}, "password": {userPass}, "password_confirm": {userPass}})
	if r.Status != http.StatusBadRequest || !strings.Contains(mainText(r), "expired or was already used") {
		t.Fatalf("bad token: %d %q", r.Status, mainText(r))
	}
	if len(find(r.Doc, func(n *html.Node) bool { return n.DataAtom == atom.A && attr(n, "href") == "/forgot-password" })) == 0 {
		t.Error("bad token page does not offer a new link")
	}

	token := e.mail.token(t)
	r = b.get("/reset-password?token=" + url.QueryEscape(token))
	if got := attr(input(t, r, "token"), "value"); got != token {
		t.Fatalf("token not carried in the form: %q", got)
	}
	// A too-short password is refused without using up the link.
	r = b.post("/reset-password", url.Values{"token": {token}, "password": {"short"}, "password_confirm": {"short"}})
	if r.Status != http.StatusBadRequest || !strings.Contains(fieldError(t, r, "password"), "at least 12") {
		t.Fatalf("short reset password: %d %q", r.Status, errorsOf(r))
	}
	const newPass = "reset passphrase works"
	r = b.post("/reset-password", url.Values{"token": {token}, "password": {newPass}, "password_confirm": {newPass}})
	if r.Status != http.StatusSeeOther || r.Location() != "/login" {
		t.Fatalf("reset: got %d → %q: %s", r.Status, r.Location(), errorsOf(r))
	}
	if r = b.get("/login"); !strings.Contains(mainText(r), "Your password was reset") {
		t.Errorf("no flash after reset: %q", mainText(r))
	}
	b.login("ada@example.com", newPass, "/dashboard")
	b.logout()
	b.get("/login")
	r = b.post("/reset-password", url.Values{"token": {token}, "password": {userPass}, "password_confirm": {userPass}})
	if r.Status != http.StatusBadRequest || !strings.Contains(mainText(r), "expired or was already used") {
		t.Errorf("reused token: %d %q", r.Status, mainText(r))
	}
}

// TestLoginRateLimit: the 11th wrong password gets 429 with Retry-After, on the form.
func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.register("Ada", "ada@example.com", adminPass)
	b.logout()
	b.get("/login")
	var r *response
	for i := 0; i < 11; i++ {
		r = b.post("/login", url.Values{"email": {"ada@example.com"}, "password": {"wrong password guess"}})
	}
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" || !strings.Contains(errorsOf(r), "too many") {
		t.Errorf("11th wrong password: got %d Retry-After=%q %q, want 429 with Retry-After", r.Status, r.Header.Get("Retry-After"), errorsOf(r))
	}
}

// TestErrorPages: unknown users and the error page's statuses.
func TestErrorPages(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.register("Ada", "ada@example.com", adminPass)
	if r := b.get("/users/00000000-0000-0000-0000-000000000000/delete"); r.Status != http.StatusNotFound {
		t.Errorf("delete page of an unknown user: %d, want 404", r.Status)
	}
	if r := b.get("/static/0/nope.css"); r.Status != http.StatusNotFound || r.Doc == nil {
		t.Errorf("unknown static file: %d, want a 404 page", r.Status)
	}
	rec := httptest.NewRecorder()
	e.h.NotFound(rec, httptest.NewRequest(http.MethodGet, "/nowhere", nil))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "Page not found") {
		t.Errorf("NotFound: %d", rec.Code)
	}
}

func userByEmail(t *testing.T, e *env, email string) store.User {
	t.Helper()
	u, err := e.st.GetUserByEmail(context.Background(), email)
	if err != nil {
		t.Fatalf("user %s: %v", email, err)
	}
	return u
}

// navLinks lists the hrefs of the main navigation.
func navLinks(r *response) []string {
	var out []string
	for _, nav := range find(r.Doc, byAtom(atom.Nav)) {
		for _, a := range find(nav, byAtom(atom.A)) {
			out = append(out, attr(a, "href"))
		}
	}
	return out
}

func fieldErrorCheckbox(r *response) string {
	for _, f := range find(r.Doc, byClass("form-error")) {
		return text(f)
	}
	return ""
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
