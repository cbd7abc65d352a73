package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/crypto/bcrypt"

	"github.com/backapp/backapp/internal/config"
	"github.com/backapp/backapp/internal/server"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/testenv"
	"github.com/backapp/backapp/internal/testenv/smtptest"
)

// env is a running server and what a test needs to talk to it.
type env struct {
	t    *testing.T
	app  *server.App
	srv  *httptest.Server
	smtp *smtptest.Server
}

// dialects runs fn once on SQLite and once on PostgreSQL.
func dialects(t *testing.T, fn func(t *testing.T, databaseURL string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, "") })
	t.Run("postgres", func(t *testing.T) { fn(t, pgtest.New(t)) })
}

func start(t *testing.T, databaseURL string, tweak ...func(*config.Config)) *env {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	cfg := config.Register(fs)
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = databaseURL
	e := &env{t: t, smtp: smtptest.Start(t)}
	cfg.SMTPHost = e.smtp.Host()
	cfg.SMTPPort = e.smtp.Port()
	cfg.SMTPTLS = "none"
	cfg.SMTPFrom = "backapp@example.com"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.BaseURL = "http://" + ln.Addr().String()
	for _, f := range tweak {
		f(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app, err := server.Open(context.Background(), cfg, log, server.Options{PasswordCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	e.app = app
	e.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: app.Handler()}}
	e.srv.Start()
	t.Cleanup(func() { e.srv.Close(); app.Close() })
	return e
}

// client is a cookie-keeping API client, like curl with a cookie jar.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: e.t, base: e.srv.URL, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r response) errCode() string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (r response) errMessage() string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

// do sends body (a string is sent as is, anything else as JSON) with contentType.
func (c *client) send(method, path, contentType string, body any, hdr ...string) response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (c *client) json(method, path string, body any) response {
	c.t.Helper()
	return c.send(method, path, "application/json", body)
}

func want(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.raw)
	}
}

const pw = "correct horse battery"

func (c *client) register(email string) response {
	c.t.Helper()
	r := c.json("POST", "/api/auth/register", map[string]string{"email": email, "password": pw, "name": "N " + email})
	want(c.t, r, http.StatusCreated)
	c.csrf, _ = r.body["csrfToken"].(string)
	return r
}

func (c *client) login(email, password string) response {
	c.t.Helper()
	r := c.json("POST", "/api/auth/login", map[string]string{"email": email, "password": password})
	if r.status == http.StatusOK {
		c.csrf, _ = r.body["csrfToken"].(string)
	}
	return r
}

func TestAccountsFlowAPI(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := start(t, db)
		admin := e.client()
		r := admin.register("admin@example.com")
		if r.body["role"] != "admin" {
			t.Fatalf("first user role %v, want admin", r.body["role"])
		}
		want(t, admin.json("POST", "/api/auth/logout", nil), http.StatusNoContent)
		want(t, admin.json("GET", "/api/auth/session", nil), http.StatusUnauthorized)
		want(t, admin.login("admin@example.com", pw), http.StatusOK)
		want(t, admin.json("POST", "/api/profile/password", map[string]string{"currentPassword": pw, "newPassword": "a new password 42"}), http.StatusNoContent)
		want(t, e.client().login("admin@example.com", pw), http.StatusUnauthorized)
		want(t, e.client().login("admin@example.com", "a new password 42"), http.StatusOK)

		user := e.client()
		if r := user.register("user@example.com"); r.body["role"] != "user" {
			t.Fatalf("second user role %v, want user", r.body["role"])
		}
		want(t, user.json("GET", "/api/users", nil), http.StatusForbidden)
		got := admin.json("GET", "/api/users", nil)
		want(t, got, http.StatusOK)
		if us, _ := got.body["users"].([]any); len(us) != 2 {
			t.Errorf("admin sees %d users, want 2", len(us))
		}
		if strings.Contains(got.raw, "$2a$") || strings.Contains(strings.ToLower(got.raw), "hash") {
			t.Errorf("user list leaks password hashes: %s", got.raw)
		}
	})
}

func TestCrossOriginPostRefused(t *testing.T) {
	e := start(t, "")
	c := e.client()
	r := c.send("POST", "/api/auth/login", "application/json", `{"email":"a@example.com","password":"x"}`,
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	want(t, r, http.StatusForbidden)
	r = c.send("POST", "/login", "application/x-www-form-urlencoded", "email=a%40example.com&password=x",
		"Origin", "https://evil.example")
	want(t, r, http.StatusForbidden)
}

func TestMissingCSRFTokenRefused(t *testing.T) {
	e := start(t, "")
	c := e.client()
	c.register("admin@example.com")
	token := c.csrf
	c.csrf = ""
	r := c.json("PUT", "/api/profile", map[string]string{"name": "Changed", "email": "admin@example.com"})
	want(t, r, http.StatusForbidden)
	if !strings.Contains(r.errMessage(), "CSRF") {
		t.Errorf("message %q does not say what is missing", r.errMessage())
	}
	c.csrf = "wrong"
	want(t, c.json("PUT", "/api/profile", map[string]string{"name": "Changed", "email": "admin@example.com"}), http.StatusForbidden)
	c.csrf = token
	if r := c.json("GET", "/api/profile", nil); r.body["name"] != "N admin@example.com" {
		t.Errorf("name %v changed by refused requests", r.body["name"])
	}
	want(t, c.json("PUT", "/api/profile", map[string]string{"name": "Changed", "email": "admin@example.com"}), http.StatusOK)
	// An anonymous form post without the token is refused too.
	want(t, e.client().send("POST", "/login", "application/x-www-form-urlencoded", "email=a%40example.com&password=x"), http.StatusForbidden)
}

func TestSessionCookieFlags(t *testing.T) {
	check := func(t *testing.T, e *env, secure bool) {
		c := e.client()
		r := c.json("POST", "/api/auth/register", map[string]string{"email": "a@example.com", "password": pw, "name": "A"})
		want(t, r, http.StatusCreated)
		var found bool
		for _, line := range r.header.Values("Set-Cookie") {
			if !strings.HasPrefix(line, "backapp_session=") {
				continue
			}
			found = true
			for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="} {
				if !strings.Contains(line, attr) {
					t.Errorf("session cookie %q lacks %s", line, attr)
				}
			}
			if got := strings.Contains(line, "; Secure"); got != secure {
				t.Errorf("session cookie %q: Secure = %v, want %v", line, got, secure)
			}
		}
		if !found {
			t.Fatalf("no session cookie in %v", r.header.Values("Set-Cookie"))
		}
	}
	t.Run("http", func(t *testing.T) { check(t, start(t, ""), false) })
	t.Run("behind https", func(t *testing.T) {
		check(t, start(t, "", func(c *config.Config) { c.BaseURL = "https://backup.example.com" }), true)
	})
}

func TestBadInputGetsClear4xxAndWritesNothing(t *testing.T) {
	e := start(t, "", func(c *config.Config) { c.MaxBodyBytes = 4096 })
	c := e.client()
	c.register("taken@example.com")
	anon := e.client()
	cases := []struct {
		name, contentType, body string
		status                  int
		code, field             string
	}{
		{"malformed JSON", "application/json", `{"email":`, 400, "invalid", ""},
		{"not an object", "application/json", `[1,2]`, 400, "invalid", ""},
		{"wrong content type", "text/plain", `{"email":"a@example.com"}`, 415, "unsupported", ""},
		{"form to the API", "application/x-www-form-urlencoded", `email=a@example.com`, 415, "unsupported", ""},
		{"oversized body", "application/json", `{"name":"` + strings.Repeat("x", 5000) + `"}`, 413, "too_large", ""},
		{"unknown field", "application/json", `{"email":"a@example.com","password":"long enough pw","name":"A","admin":true}`, 400, "invalid", "admin"},
		{"wrong type", "application/json", `{"email":42,"password":"long enough pw","name":"A"}`, 400, "invalid", "email"},
		{"invalid e-mail", "application/json", `{"email":"nope","password":"long enough pw","name":"A"}`, 400, "invalid", "email"},
		{"short password", "application/json", `{"email":"a@example.com","password":"short","name":"A"}`, 400, "invalid", "password"},
		{"password is the e-mail", "application/json", `{"email":"abcdefgh@example.com","password":"abcdefgh@example.com","name":"A"}`, 400, "invalid", "password"},
		{"duplicate e-mail", "application/json", `{"email":"Taken@Example.com","password":"long enough pw","name":"A"}`, 400, "invalid", "email"},
		{"empty body", "application/json", ``, 400, "invalid", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := anon.send("POST", "/api/auth/register", tc.contentType, tc.body)
			want(t, r, tc.status)
			if r.errCode() != tc.code || r.errMessage() == "" {
				t.Errorf("error %s, want code %s with a message", r.raw, tc.code)
			}
			if tc.field != "" {
				fields, _ := r.body["error"].(map[string]any)["fields"].(map[string]any)
				if fields[tc.field] == nil {
					t.Errorf("fields %v, want a message for %q", fields, tc.field)
				}
			}
		})
	}
	got := c.json("GET", "/api/users", nil)
	if us, _ := got.body["users"].([]any); len(us) != 1 {
		t.Errorf("%d users after bad registrations, want 1", len(us))
	}
	// Unknown user and wrong password get the same answer.
	wrong, unknown := anon.login("taken@example.com", "wrong password!"), anon.login("nobody@example.com", "wrong password!")
	if wrong.status != 401 || unknown.status != 401 || wrong.errMessage() != unknown.errMessage() {
		t.Errorf("wrong password %d %q, unknown user %d %q: want identical 401s", wrong.status, wrong.errMessage(), unknown.status, unknown.errMessage())
	}
}

func TestEleventhWrongPasswordIs429(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := start(t, db)
		e.client().register("a@example.com")
		c := e.client()
		for i := range 10 {
			if r := c.login("a@example.com", "wrong password!"); r.status != http.StatusUnauthorized {
				t.Fatalf("attempt %d: status %d, want 401", i+1, r.status)
			}
		}
		r := c.login("a@example.com", pw)
		want(t, r, http.StatusTooManyRequests)
		if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Errorf("Retry-After %q, want seconds to wait", ra)
		}
		if !strings.Contains(r.errMessage(), "try again in") {
			t.Errorf("message %q does not say when to try again", r.errMessage())
		}
	})
}

func TestUsersCannotReachEachOther(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := start(t, db)
		admin := e.client()
		admin.register("admin@example.com")
		alice, bob := e.client(), e.client()
		aliceID := alice.register("alice@example.com").body["id"].(string)
		bobID := bob.register("bob@example.com").body["id"].(string)

		want(t, bob.json("GET", "/api/users/"+aliceID, nil), http.StatusNotFound)
		want(t, bob.json("PATCH", "/api/users/"+aliceID, map[string]any{"role": "admin"}), http.StatusForbidden)
		want(t, bob.json("PATCH", "/api/users/"+bobID, map[string]any{"role": "admin"}), http.StatusForbidden)
		want(t, bob.json("DELETE", "/api/users/"+aliceID, nil), http.StatusForbidden)
		// Profile changes apply to the caller only; taking another's e-mail is refused.
		want(t, bob.json("PUT", "/api/profile", map[string]string{"name": "Bob", "email": "alice@example.com"}), http.StatusBadRequest)
		if r := alice.json("GET", "/api/profile", nil); r.body["email"] != "alice@example.com" || r.body["name"] != "N alice@example.com" {
			t.Errorf("alice's profile changed: %s", r.raw)
		}
		// The pages: a user gets 403 on the users admin page, not the list.
		r := bob.send("GET", "/users", "", nil)
		want(t, r, http.StatusForbidden)
		if strings.Contains(r.raw, "alice@example.com") {
			t.Error("users page shows another user's e-mail to a non-admin")
		}
		if r := bob.send("GET", "/settings/profile", "", nil); strings.Contains(r.raw, "alice@example.com") {
			t.Error("profile page shows another user's e-mail")
		}
	})
}

func TestDisabledUserSessionStopsAtOnce(t *testing.T) {
	e := start(t, "")
	admin := e.client()
	admin.register("admin@example.com")
	user := e.client()
	id := user.register("user@example.com").body["id"].(string)
	want(t, user.json("GET", "/api/auth/session", nil), http.StatusOK)
	want(t, admin.json("PATCH", "/api/users/"+id, map[string]any{"disabled": true}), http.StatusOK)
	want(t, user.json("GET", "/api/auth/session", nil), http.StatusUnauthorized)
	r := e.client().login("user@example.com", pw)
	want(t, r, http.StatusForbidden)
}

func TestPasswordResetByRealSMTP(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := start(t, db)
		c := e.client()
		c.register("a@example.com")
		anon := e.client()
		want(t, anon.json("POST", "/api/auth/forgot-password", map[string]string{"email": "nobody@example.com"}), http.StatusAccepted)
		want(t, anon.json("POST", "/api/auth/forgot-password", map[string]string{"email": "A@example.com"}), http.StatusAccepted)
		m := e.smtp.WaitForMessage(t, "a@example.com", 10*time.Second)
		var link string
		for _, f := range strings.Fields(m.Text) {
			if strings.HasPrefix(f, e.srv.URL+"/reset-password?token=") {
				link = f
			}
		}
		if link == "" {
			t.Fatalf("no reset link for %s in mail:\n%s", e.srv.URL, m.Text)
		}
		u, _ := url.Parse(link)
		token := u.Query().Get("token")
		want(t, anon.json("POST", "/api/auth/reset-password", map[string]string{"token": token, "password": "fresh password 99"}), http.StatusNoContent)
		want(t, c.json("GET", "/api/auth/session", nil), http.StatusUnauthorized) // old sessions ended
		want(t, e.client().login("a@example.com", "fresh password 99"), http.StatusOK)
		r := anon.json("POST", "/api/auth/reset-password", map[string]string{"token": token, "password": "second try 12345"})
		want(t, r, http.StatusBadRequest)
		if !strings.Contains(r.errMessage(), "expired or was already used") {
			t.Errorf("reuse message %q", r.errMessage())
		}
	})
}

func TestHealthAndSecurityHeaders(t *testing.T) {
	e := start(t, "")
	c := e.client()
	want(t, c.json("GET", "/healthz", nil), http.StatusOK)
	r := c.json("GET", "/readyz", nil)
	want(t, r, http.StatusOK)
	r = c.send("GET", "/login", "", nil)
	want(t, r, http.StatusOK)
	for h, v := range map[string]string{
		"Content-Security-Policy": "frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "same-origin",
	} {
		if !strings.Contains(r.header.Get(h), v) {
			t.Errorf("%s = %q, want it to contain %q", h, r.header.Get(h), v)
		}
	}
	if csp := r.header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline code: %s", csp)
	}
	if r.header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
	want(t, c.json("GET", "/api/nothing-here", nil), http.StatusNotFound)
}

func TestGracefulShutdown(t *testing.T) {
	e := start(t, "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.app.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String() + "/healthz"
	testenv.Eventually(t, "the server to answer "+url, func() bool {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context was cancelled")
	}
	if _, err := http.Get(url); err == nil {
		t.Error("server still answers after shutdown")
	}
}

func TestUnknownPageIsHTML404(t *testing.T) {
	e := start(t, "")
	r := e.client().send("GET", "/no/such/page", "", nil)
	want(t, r, http.StatusNotFound)
	if !strings.Contains(r.header.Get("Content-Type"), "text/html") {
		t.Errorf("404 content type %q, want the HTML page", r.header.Get("Content-Type"))
	}
}
