package auth

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/sqlite"
)

// captureMailer records reset e-mails (the server's tests deliver them over real SMTP).
type captureMailer struct {
	mu    sync.Mutex
	links []string
}

func (m *captureMailer) SendPasswordReset(_ context.Context, to, name, link string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.links = append(m.links, link)
	return nil
}

func (m *captureMailer) last(t *testing.T) string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.links) == 0 {
		t.Fatal("no reset e-mail sent")
	}
	u, err := url.Parse(m.links[len(m.links)-1])
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

type fixture struct {
	svc    *Service
	st     store.Store
	mail   *captureMailer
	now    time.Time
	nowMu  sync.Mutex
	ctx    context.Context
	remote Meta
}

func (f *fixture) clock() time.Time {
	f.nowMu.Lock()
	defer f.nowMu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.nowMu.Lock()
	f.now = f.now.Add(d)
	f.nowMu.Unlock()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, mail: &captureMailer{}, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), ctx: ctx, remote: Meta{IP: "192.0.2.1"}}
	f.svc, err = NewService(Config{Store: st, Mailer: f.mail, BaseURL: "http://backapp.test", Now: f.clock, PasswordCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) register(t *testing.T, email string) store.User {
	t.Helper()
	u, err := f.svc.Register(f.ctx, RegisterInput{Email: email, Password: "correct horse battery", Name: "Test"}, f.remote)
	if err != nil {
		t.Fatalf("register %s: %v", email, err)
	}
	return u
}

func wantKind(t *testing.T, err error, kind apperr.Kind) *apperr.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", kind)
	}
	e := apperr.From(err)
	if e.Kind != kind {
		t.Fatalf("got %s error %q, want %s", e.Kind, err, kind)
	}
	return e
}

func TestFirstAccountIsAdmin(t *testing.T) {
	f := newFixture(t)
	if u := f.register(t, "First@Example.com"); u.Role != store.RoleAdmin || u.Email != "first@example.com" {
		t.Errorf("first user: role %q email %q, want admin first@example.com", u.Role, u.Email)
	}
	if u := f.register(t, "second@example.com"); u.Role != store.RoleUser {
		t.Errorf("second user role %q, want user", u.Role)
	}
}

func TestRegisterValidation(t *testing.T) {
	f := newFixture(t)
	f.register(t, "taken@example.com")
	cases := []struct {
		in    RegisterInput
		field string
	}{
		{RegisterInput{Email: "not-an-email", Password: "long enough password", Name: "A"}, "email"},
		{RegisterInput{Email: "a@example.com", Password: "short", Name: "A"}, "password"},
		{RegisterInput{Email: "longaddress@example.com", Password: "LongAddress@example.com", Name: "A"}, "password"},
		{RegisterInput{Email: "a@example.com", Password: "long enough password", Name: ""}, "name"},
		{RegisterInput{Email: "TAKEN@example.com", Password: "long enough password", Name: "A"}, "email"},
	}
	for _, c := range cases {
		_, err := f.svc.Register(f.ctx, c.in, f.remote)
		e := wantKind(t, err, apperr.Invalid)
		if e.Fields[c.field] == "" {
			t.Errorf("%+v: fields %v, want a message for %q", c.in, e.Fields, c.field)
		}
	}
	n, _ := f.st.CountUsers(f.ctx)
	if n != 1 {
		t.Errorf("%d users after rejected registrations, want 1", n)
	}
}

func TestRegistrationClosed(t *testing.T) {
	f := newFixture(t)
	admin := f.register(t, "admin@example.com")
	user := f.register(t, "user@example.com")
	wantKind(t, f.svc.SetRegistrationOpen(f.ctx, user, false, f.remote), apperr.Forbidden)
	if err := f.svc.SetRegistrationOpen(f.ctx, admin, false, f.remote); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Register(f.ctx, RegisterInput{Email: "late@example.com", Password: "long enough password", Name: "L"}, f.remote)
	wantKind(t, err, apperr.Forbidden)
}

func TestLoginUnknownUserLooksLikeWrongPassword(t *testing.T) {
	f := newFixture(t)
	f.register(t, "a@example.com")
	_, _, errWrong := f.svc.Login(f.ctx, "a@example.com", "wrong password here", f.remote)
	_, _, errUnknown := f.svc.Login(f.ctx, "nobody@example.com", "wrong password here", f.remote)
	w, u := wantKind(t, errWrong, apperr.Unauthorized), wantKind(t, errUnknown, apperr.Unauthorized)
	if w.Message != u.Message {
		t.Errorf("wrong password says %q, unknown user says %q; they must be identical", w.Message, u.Message)
	}
}

func TestEleventhFailureIsRateLimited(t *testing.T) {
	f := newFixture(t)
	f.register(t, "a@example.com")
	for i := range 10 {
		_, _, err := f.svc.Login(f.ctx, "a@example.com", "wrong password here", Meta{IP: "198.51.100." + string(rune('0'+i))})
		wantKind(t, err, apperr.Unauthorized)
	}
	// Even the right password is refused now: the attacker cannot tell.
	_, _, err := f.svc.Login(f.ctx, "a@example.com", "correct horse battery", f.remote)
	e := wantKind(t, err, apperr.RateLimited)
	if e.RetryAfter <= 0 || e.RetryAfter > 15*time.Minute {
		t.Errorf("RetryAfter = %v, want within the 15 min window", e.RetryAfter)
	}
	f.advance(15 * time.Minute)
	if _, _, err := f.svc.Login(f.ctx, "a@example.com", "correct horse battery", f.remote); err != nil {
		t.Errorf("login after the window: %v", err)
	}
	audit, err := f.st.ListAudit(f.ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range audit {
		count[e.Action]++
	}
	if count["login.failure"] != 10 || count["login.success"] != 1 {
		t.Errorf("audit counts %v, want 10 login.failure and 1 login.success", count)
	}
}

func TestSessionExpiry(t *testing.T) {
	f := newFixture(t)
	f.register(t, "a@example.com")
	login := func() string {
		_, tok, err := f.svc.Login(f.ctx, "a@example.com", "correct horse battery", f.remote)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tok := login()
	if _, err := f.svc.Authenticate(f.ctx, tok); err != nil {
		t.Fatal(err)
	}
	f.advance(23 * time.Hour)
	if _, err := f.svc.Authenticate(f.ctx, tok); err != nil {
		t.Fatalf("session rejected within the idle timeout: %v", err)
	}
	f.advance(24 * time.Hour)
	wantKind(t, func() error { _, err := f.svc.Authenticate(f.ctx, tok); return err }(), apperr.Unauthorized)

	// Absolute expiry: used every 12 hours, still ends after 7 days.
	tok = login()
	for range 13 {
		f.advance(12 * time.Hour)
		if _, err := f.svc.Authenticate(f.ctx, tok); err != nil {
			t.Fatalf("active session rejected early: %v", err)
		}
	}
	f.advance(12 * time.Hour)
	wantKind(t, func() error { _, err := f.svc.Authenticate(f.ctx, tok); return err }(), apperr.Unauthorized)
}

func TestDisabledUserSessionsStopAtOnce(t *testing.T) {
	f := newFixture(t)
	admin := f.register(t, "admin@example.com")
	user := f.register(t, "user@example.com")
	_, tok, err := f.svc.Login(f.ctx, "user@example.com", "correct horse battery", f.remote)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetDisabled(f.ctx, admin, user.ID, true, f.remote); err != nil {
		t.Fatal(err)
	}
	wantKind(t, func() error { _, err := f.svc.Authenticate(f.ctx, tok); return err }(), apperr.Unauthorized)
	_, _, err = f.svc.Login(f.ctx, "user@example.com", "correct horse battery", f.remote)
	wantKind(t, err, apperr.Forbidden)
}

func TestResetTokenSingleUseAndExpiry(t *testing.T) {
	f := newFixture(t)
	f.register(t, "a@example.com")
	_, tok, _ := f.svc.Login(f.ctx, "a@example.com", "correct horse battery", f.remote)

	if err := f.svc.RequestPasswordReset(f.ctx, "nobody@example.com", f.remote); err != nil {
		t.Fatalf("unknown e-mail: %v; want the same silent success", err)
	}
	if len(f.mail.links) != 0 {
		t.Fatal("mail sent for an unknown address")
	}
	if err := f.svc.RequestPasswordReset(f.ctx, "a@example.com", f.remote); err != nil {
		t.Fatal(err)
	}
	token := f.mail.last(t)
	wantKind(t, f.svc.ResetPassword(f.ctx, token, "short", f.remote), apperr.Invalid)
	if err := f.svc.ResetPassword(f.ctx, token, "a brand new password", f.remote); err != nil {
		t.Fatalf("reset (a too-short first try must not burn the token): %v", err)
	}
	e := wantKind(t, f.svc.ResetPassword(f.ctx, token, "another new password", f.remote), apperr.Invalid)
	if !strings.Contains(e.Message, "expired or was already used") {
		t.Errorf("reuse message %q", e.Message)
	}
	wantKind(t, func() error { _, err := f.svc.Authenticate(f.ctx, tok); return err }(), apperr.Unauthorized)
	if _, _, err := f.svc.Login(f.ctx, "a@example.com", "a brand new password", f.remote); err != nil {
		t.Fatalf("login with the new password: %v", err)
	}

	if err := f.svc.RequestPasswordReset(f.ctx, "a@example.com", f.remote); err != nil {
		t.Fatal(err)
	}
	token = f.mail.last(t)
	f.advance(30 * time.Minute)
	wantKind(t, f.svc.ResetPassword(f.ctx, token, "too late password", f.remote), apperr.Invalid)
}

// Only the newest reset link of an account works: issuing a newer one ends the older
// ones, and using one ends every other.
func TestResetLinkEndsOlderLinks(t *testing.T) {
	f := newFixture(t)
	f.register(t, "a@example.com")
	request := func() string {
		t.Helper()
		if err := f.svc.RequestPasswordReset(f.ctx, "a@example.com", f.remote); err != nil {
			t.Fatal(err)
		}
		return f.mail.last(t)
	}
	first := request()
	f.advance(time.Minute)
	second := request()
	if first == second {
		t.Fatal("two requests sent the same link")
	}
	e := wantKind(t, f.svc.ResetPassword(f.ctx, first, "password from the old link", f.remote), apperr.Invalid)
	if !strings.Contains(e.Message, "expired or was already used") {
		t.Errorf("older link after a newer was issued: %q", e.Message)
	}
	if err := f.svc.ResetPassword(f.ctx, second, "password from the new link", f.remote); err != nil {
		t.Fatalf("newest link: %v", err)
	}
	wantKind(t, f.svc.ResetPassword(f.ctx, first, "yet another password", f.remote), apperr.Invalid)
	wantKind(t, f.svc.ResetPassword(f.ctx, second, "yet another password", f.remote), apperr.Invalid)
	if _, _, err := f.svc.Login(f.ctx, "a@example.com", "password from the new link", f.remote); err != nil {
		t.Fatalf("login with the password set through the newest link: %v", err)
	}
}

func TestChangePassword(t *testing.T) {
	f := newFixture(t)
	f.register(t, "a@example.com")
	_, keep, _ := f.svc.Login(f.ctx, "a@example.com", "correct horse battery", f.remote)
	_, other, _ := f.svc.Login(f.ctx, "a@example.com", "correct horse battery", f.remote)
	sess, err := f.svc.Authenticate(f.ctx, keep)
	if err != nil {
		t.Fatal(err)
	}
	e := wantKind(t, f.svc.ChangePassword(f.ctx, sess, "wrong current pw", "new password 123", f.remote), apperr.Invalid)
	if e.Fields["current_password"] == "" {
		t.Errorf("fields %v, want current_password", e.Fields)
	}
	if err := f.svc.ChangePassword(f.ctx, sess, "correct horse battery", "new password 123", f.remote); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(f.ctx, keep); err != nil {
		t.Errorf("current session ended by its own password change: %v", err)
	}
	wantKind(t, func() error { _, err := f.svc.Authenticate(f.ctx, other); return err }(), apperr.Unauthorized)
	_, _, err = f.svc.Login(f.ctx, "a@example.com", "correct horse battery", f.remote)
	wantKind(t, err, apperr.Unauthorized)
}

func TestRolesEnforced(t *testing.T) {
	f := newFixture(t)
	admin := f.register(t, "admin@example.com")
	user := f.register(t, "user@example.com")
	other := f.register(t, "other@example.com")

	_, err := f.svc.ListUsers(f.ctx, user)
	wantKind(t, err, apperr.Forbidden)
	_, err = f.svc.GetUser(f.ctx, user, other.ID)
	wantKind(t, err, apperr.NotFound)
	if _, err := f.svc.GetUser(f.ctx, user, user.ID); err != nil {
		t.Errorf("user reading themselves: %v", err)
	}
	_, err = f.svc.SetRole(f.ctx, user, other.ID, store.RoleAdmin, f.remote)
	wantKind(t, err, apperr.Forbidden)
	wantKind(t, f.svc.DeleteUser(f.ctx, user, other.ID, f.remote), apperr.Forbidden)
	_, err = f.svc.SetRole(f.ctx, admin, admin.ID, store.RoleUser, f.remote)
	wantKind(t, err, apperr.Forbidden)

	u, err := f.svc.SetRole(f.ctx, admin, user.ID, store.RoleAdmin, f.remote)
	if err != nil || u.Role != store.RoleAdmin {
		t.Fatalf("promote: %v %q", err, u.Role)
	}
	if err := f.svc.DeleteUser(f.ctx, admin, other.ID, f.remote); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.GetUser(f.ctx, other.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted user still there: %v", err)
	}
	audit, _ := f.st.ListAudit(f.ctx, 100)
	seen := map[string]bool{}
	for _, e := range audit {
		seen[e.Action] = true
	}
	for _, a := range []string{"user.role", "user.delete"} {
		if !seen[a] {
			t.Errorf("no %s audit entry", a)
		}
	}
}

func TestResetWithoutMailerSaysSoForEveryAddress(t *testing.T) {
	f := newFixture(t)
	f.register(t, "a@example.com")
	svc, err := NewService(Config{Store: f.st, Now: f.clock, PasswordCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	known := apperr.From(svc.RequestPasswordReset(f.ctx, "a@example.com", f.remote))
	unknown := apperr.From(svc.RequestPasswordReset(f.ctx, "nobody@example.com", f.remote))
	if known.Kind != apperr.Unavailable || known.Message != unknown.Message || known.Kind != unknown.Kind {
		t.Errorf("known address: %s %q; unknown: %s %q; want the same Unavailable answer", known.Kind, known.Message, unknown.Kind, unknown.Message)
	}
}
