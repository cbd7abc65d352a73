package server_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/config"
	"github.com/backapp/backapp/internal/server/servertest"
	"github.com/backapp/backapp/internal/testenv"
)

// The harness, by the names these tests use.
type (
	env      = servertest.Env
	client   = servertest.Client
	response = servertest.Response
	runsEnv  = servertest.RunsEnv
)

var (
	dialects        = servertest.Dialects
	start           = servertest.Start
	want            = servertest.Want
	userID          = servertest.UserID
	goodConfig      = servertest.GoodConfig
	with            = servertest.With
	startAgents     = servertest.StartWithClock
	visible         = servertest.Visible
	newSchedClock   = servertest.NewSchedClock
	startRuns       = servertest.StartRuns
	startRunsWith   = servertest.StartRunsWith
	registerID      = servertest.RegisterID
	startRestoreEnv = servertest.StartRestoreEnv
	agentRunner     = servertest.AgentRunner
	random          = servertest.Random
	backupRun       = servertest.Backup
)

const pw = servertest.Password

func TestCrossOriginPostRefused(t *testing.T) {
	e := start(t, "")
	c := e.Client()
	r := c.Send("POST", "/api/auth/login", "application/json", `{"email":"a@example.com","password":"x"}`,
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	want(t, r, http.StatusForbidden)
	r = c.Send("POST", "/login", "application/x-www-form-urlencoded", "email=a%40example.com&password=x",
		"Origin", "https://evil.example")
	want(t, r, http.StatusForbidden)
}

func TestMissingCSRFTokenRefused(t *testing.T) {
	e := start(t, "")
	c := e.Client()
	c.Register("admin@example.com")
	token := c.CSRF
	c.CSRF = ""
	r := c.JSON("PUT", "/api/profile", map[string]string{"name": "Changed", "email": "admin@example.com"})
	want(t, r, http.StatusForbidden)
	if !strings.Contains(r.ErrMessage(), "CSRF") {
		t.Errorf("message %q does not say what is missing", r.ErrMessage())
	}
	c.CSRF = "wrong"
	want(t, c.JSON("PUT", "/api/profile", map[string]string{"name": "Changed", "email": "admin@example.com"}), http.StatusForbidden)
	c.CSRF = token
	if r := c.JSON("GET", "/api/profile", nil); r.Body["name"] != "N admin@example.com" {
		t.Errorf("name %v changed by refused requests", r.Body["name"])
	}
	want(t, c.JSON("PUT", "/api/profile", map[string]string{"name": "Changed", "email": "admin@example.com"}), http.StatusOK)
	// An anonymous form post without the token is refused too.
	want(t, e.Client().Send("POST", "/login", "application/x-www-form-urlencoded", "email=a%40example.com&password=x"), http.StatusForbidden)
}

func TestSessionCookieFlags(t *testing.T) {
	check := func(t *testing.T, e *env, secure bool) {
		c := e.Client()
		r := c.JSON("POST", "/api/auth/register", map[string]string{"email": "a@example.com", "password": pw, "name": "A"})
		want(t, r, http.StatusCreated)
		var found bool
		for _, line := range r.Header.Values("Set-Cookie") {
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
			t.Fatalf("no session cookie in %v", r.Header.Values("Set-Cookie"))
		}
	}
	t.Run("http", func(t *testing.T) { check(t, start(t, ""), false) })
	t.Run("behind https", func(t *testing.T) {
		check(t, start(t, "", func(c *config.Config) { c.BaseURL = "https://backup.example.com" }), true)
	})
}

func TestPasswordResetByRealSMTP(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := start(t, db)
		c := e.Client()
		c.Register("a@example.com")
		anon := e.Client()
		want(t, anon.JSON("POST", "/api/auth/forgot-password", map[string]string{"email": "nobody@example.com"}), http.StatusAccepted)
		want(t, anon.JSON("POST", "/api/auth/forgot-password", map[string]string{"email": "A@example.com"}), http.StatusAccepted)
		m := e.SMTP.WaitForMessage(t, "a@example.com", 10*time.Second)
		var link string
		for _, f := range strings.Fields(m.Text) {
			if strings.HasPrefix(f, e.Srv.URL+"/reset-password?token=") {
				link = f
			}
		}
		if link == "" {
			t.Fatalf("no reset link for %s in mail:\n%s", e.Srv.URL, m.Text)
		}
		u, _ := url.Parse(link)
		token := u.Query().Get("token")
		want(t, anon.JSON("POST", "/api/auth/reset-password", map[string]string{"token": token, "password": "fresh password 99"}), http.StatusNoContent)
		want(t, c.JSON("GET", "/api/auth/session", nil), http.StatusUnauthorized) // old sessions ended
		want(t, e.Client().Login("a@example.com", "fresh password 99"), http.StatusOK)
		r := anon.JSON("POST", "/api/auth/reset-password", map[string]string{"token": token, "password": "second try 12345"})
		want(t, r, http.StatusBadRequest)
		if !strings.Contains(r.ErrMessage(), "expired or was already used") {
			t.Errorf("reuse message %q", r.ErrMessage())
		}
	})
}

func TestHealthAndSecurityHeaders(t *testing.T) {
	e := start(t, "")
	c := e.Client()
	want(t, c.JSON("GET", "/healthz", nil), http.StatusOK)
	r := c.JSON("GET", "/readyz", nil)
	want(t, r, http.StatusOK)
	r = c.Send("GET", "/login", "", nil)
	want(t, r, http.StatusOK)
	for h, v := range map[string]string{
		"Content-Security-Policy": "frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "same-origin",
	} {
		if !strings.Contains(r.Header.Get(h), v) {
			t.Errorf("%s = %q, want it to contain %q", h, r.Header.Get(h), v)
		}
	}
	if csp := r.Header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline code: %s", csp)
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
	want(t, c.JSON("GET", "/api/nothing-here", nil), http.StatusNotFound)
}

func TestGracefulShutdown(t *testing.T) {
	e := start(t, "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.App.Serve(ctx, ln) }()
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
	r := e.Client().Send("GET", "/no/such/page", "", nil)
	want(t, r, http.StatusNotFound)
	if !strings.Contains(r.Header.Get("Content-Type"), "text/html") {
		t.Errorf("404 content type %q, want the HTML page", r.Header.Get("Content-Type"))
	}
}
