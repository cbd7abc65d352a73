// Package servertest starts the assembled backapp server for tests and talks to it
// over HTTP as browsers, API clients and agents do: a running Env on SQLite or
// PostgreSQL, a cookie-keeping Client, and the Response it reads; RunsEnv (runs.go)
// is a server on a clock the test moves, RestoreEnv (restores.go) one with a tree
// backed up twice by a real agent. Tests of the JSON API (package api), of the agent
// protocol (agentapi), of pages through the whole server (web) and the
// cross-package tests of package server use it.
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/crypto/bcrypt"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/config"
	"github.com/backapp/backapp/internal/server"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/store/postgres"
	"github.com/backapp/backapp/internal/testenv"
	"github.com/backapp/backapp/internal/testenv/smtptest"
)

// Env is a running server and what a test needs to talk to it.
type Env struct {
	T    *testing.T
	App  *server.App
	Srv  *httptest.Server
	SMTP *smtptest.Server
}

// Dialects runs fn once on SQLite and once on PostgreSQL.
func Dialects(t *testing.T, fn func(t *testing.T, databaseURL string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, "") })
	t.Run("postgres", func(t *testing.T) { fn(t, pgtest.New(t)) })
}

// Start opens the server on databaseURL ("" for SQLite) with an SMTP server of its
// own, and serves its handler (without the background loops: see Serve) until the
// test ends. tweak changes the configuration before it is checked.
func Start(t *testing.T, databaseURL string, tweak ...func(*config.Config)) *Env {
	t.Helper()
	e := &Env{T: t, SMTP: smtptest.Start(t)}
	cfg, ln := listen(t, databaseURL, append([]func(*config.Config){func(cfg *config.Config) {
		cfg.SMTPHost = e.SMTP.Host()
		cfg.SMTPPort = e.SMTP.Port()
		cfg.SMTPTLS = "none"
		cfg.SMTPFrom = "backapp@example.com"
	}}, tweak...)...)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app, err := server.Open(context.Background(), cfg, log, server.Options{PasswordCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	e.App = app
	e.Srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: app.Handler()}}
	e.Srv.Start()
	t.Cleanup(func() { e.Srv.Close(); app.Close() })
	return e
}

// listen is a checked configuration on databaseURL ("" for SQLite) with its data in a
// temporary directory, changed by tweak, and the listener its BaseURL names.
func listen(t *testing.T, databaseURL string, tweak ...func(*config.Config)) (*config.Config, net.Listener) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	cfg := config.Register(fs)
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = databaseURL
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
	return cfg, ln
}

// Serve starts the app's background jobs (scheduler, built-in agent, …) as `backapp
// serve` does, on a second listener nobody uses; they stop when the test ends.
func (e *Env) Serve(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.App.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("Serve did not return within 30 s of its context ending")
		}
	})
}

// Client is a cookie-keeping API client, like curl with a cookie jar.
type Client struct {
	T    *testing.T
	Base string
	HC   *http.Client
	CSRF string
}

// Client returns a new client of e's server, signed out.
func (e *Env) Client() *Client { return NewClient(e.T, e.Srv.URL) }

// NewClient returns a client of the server at base, signed out.
func NewClient(t *testing.T, base string) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{T: t, Base: base, HC: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Response is an answer as the test reads it: Body is the JSON body decoded (nil
// when it is not JSON), Raw the body as text.
type Response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// ErrCode is the JSON error's code.
func (r Response) ErrCode() string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// ErrMessage is the JSON error's message.
func (r Response) ErrMessage() string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

// Send sends body (a string is sent as is, anything else as JSON) with contentType;
// hdr are extra header names and values.
func (c *Client) Send(method, path, contentType string, body any, hdr ...string) Response {
	c.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.Base+path, rd)
	if err != nil {
		c.T.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.CSRF != "" {
		req.Header.Set("X-CSRF-Token", c.CSRF)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.HC.Do(req)
	if err != nil {
		c.T.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := Response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}

// JSON sends body as JSON.
func (c *Client) JSON(method, path string, body any) Response {
	c.T.Helper()
	return c.Send(method, path, "application/json", body)
}

// Want fails the test unless r has status.
func Want(t *testing.T, r Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Raw)
	}
}

// Password is the password Register gives every user.
const Password = "correct horse battery"

// Register signs up as email with Password and keeps the session.
func (c *Client) Register(email string) Response {
	c.T.Helper()
	r := c.JSON("POST", "/api/auth/register", map[string]string{"email": email, "password": Password, "name": "N " + email})
	Want(c.T, r, http.StatusCreated)
	c.CSRF, _ = r.Body["csrfToken"].(string)
	return r
}

// Login signs in; the session is kept when it succeeds.
func (c *Client) Login(email, password string) Response {
	c.T.Helper()
	r := c.JSON("POST", "/api/auth/login", map[string]string{"email": email, "password": password})
	if r.Status == http.StatusOK {
		c.CSRF, _ = r.Body["csrfToken"].(string)
	}
	return r
}

// CreateAgent registers an agent through the API and returns its id and key.
func (c *Client) CreateAgent(name string) (id, key string, r Response) {
	c.T.Helper()
	r = c.JSON("POST", "/api/agents", map[string]string{"name": name})
	Want(c.T, r, http.StatusCreated)
	id, _ = r.Body["id"].(string)
	key, _ = r.Body["apiKey"].(string)
	if id == "" || key == "" {
		c.T.Fatalf("create agent: no id or apiKey in %s", r.Raw)
	}
	return id, key, r
}

// AgentCall calls the agent API as an agent with key would.
func (c *Client) AgentCall(path, key string, body any) Response {
	c.T.Helper()
	return c.Send("POST", path, "application/json", body, "Authorization", "Bearer "+key, agentproto.HeaderProtocol, "1")
}

// Heartbeat is one heartbeat of the agent with key; it returns the commands.
func (c *Client) Heartbeat(key, query string) []agentproto.Command {
	c.T.Helper()
	r := c.AgentCall("/api/agent/heartbeat"+query, key, agentproto.HeartbeatRequest{Host: agentproto.Host{Hostname: "box", Platform: "linux", Arch: "amd64", Version: "test"}})
	Want(c.T, r, http.StatusOK)
	var resp agentproto.HeartbeatResponse
	if err := json.Unmarshal([]byte(r.Raw), &resp); err != nil {
		c.T.Fatal(err)
	}
	return resp.Commands
}

// Page GETs path as c and wants status; it returns the body.
func (c *Client) Page(path string, status int) string {
	c.T.Helper()
	r := c.Send("GET", path, "", nil)
	if r.Status != status {
		c.T.Fatalf("GET %s: status %d, want %d", path, r.Status, status)
	}
	return r.Raw
}

// WaitRun polls GET /api/backups/{id} until the run ends.
func (c *Client) WaitRun(id string) Response {
	c.T.Helper()
	var r Response
	testenv.EventuallyWithin(c.T, time.Minute, "run "+id+" to end", func() bool {
		r = c.JSON("GET", "/api/backups/"+id, nil)
		Want(c.T, r, http.StatusOK)
		s, _ := r.Body["status"].(string)
		return s != "queued" && s != "running"
	})
	return r
}

// UserID is the id of the user signed in as c.
func UserID(t *testing.T, c *Client) string {
	t.Helper()
	r := c.JSON("GET", "/api/auth/session", nil)
	Want(t, r, http.StatusOK)
	if id, _ := r.Body["id"].(string); id != "" {
		return id
	}
	u, _ := r.Body["user"].(map[string]any)
	id, _ := u["id"].(string)
	if id == "" {
		t.Fatalf("no user id in %s", r.Raw)
	}
	return id
}

// Clock is a server's injected clock that a test sets and moves.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// LogBuffer collects a server's log output.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// ClockEnv is a server on an injected clock, its log captured at debug level.
type ClockEnv struct {
	*Env
	Clock   *Clock
	Log     *LogBuffer
	DataDir string
}

// StartWithClock is Start (without SMTP) on a Clock that starts now.
func StartWithClock(t *testing.T, databaseURL string) *ClockEnv {
	t.Helper()
	cfg, ln := listen(t, databaseURL)
	ce := &ClockEnv{Clock: &Clock{t: time.Now().UTC()}, Log: &LogBuffer{}, DataDir: cfg.DataDir}
	log := slog.New(slog.NewTextHandler(ce.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	app, err := server.Open(context.Background(), cfg, log, server.Options{PasswordCost: bcrypt.MinCost, Now: ce.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{T: t, App: app}
	e.Srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: app.Handler()}}
	e.Srv.Start()
	t.Cleanup(func() { e.Srv.Close(); app.Close() })
	ce.Env = e
	return ce
}

// RawDatabase is every value the database holds, as text: the SQLite files byte for
// byte, or every row of every PostgreSQL table as JSON.
func (e *ClockEnv) RawDatabase(t *testing.T) string {
	t.Helper()
	var sb strings.Builder
	if pg, ok := e.App.Store.(*postgres.Store); ok {
		ctx := context.Background()
		rows, err := pg.Pool().Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			tables = append(tables, n)
		}
		rows.Close()
		if len(tables) == 0 {
			t.Fatal("no tables found in PostgreSQL")
		}
		for _, tbl := range tables {
			rows, err := pg.Pool().Query(ctx, `SELECT row_to_json(t)::text FROM "`+tbl+`" t`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					t.Fatal(err)
				}
				sb.WriteString(s)
				sb.WriteByte('\n')
			}
			rows.Close()
		}
		return sb.String()
	}
	n := 0
	err := filepath.WalkDir(e.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		sb.Write(b)
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("read the SQLite files in %s: %d files, %v", e.DataDir, n, err)
	}
	return sb.String()
}

var tags = regexp.MustCompile(`<[^>]*>`)

// Visible is a page's text without its tags, whitespace collapsed.
func Visible(page string) string {
	return strings.Join(strings.Fields(tags.ReplaceAllString(page, "")), " ")
}

// GoodConfig is a valid configuration body for agent agentID.
func GoodConfig(agentID string) map[string]any {
	return map[string]any{
		"name": "Home", "enabled": true, "executionMode": "agent", "agentId": agentID,
		"sources":     []map[string]any{{"path": "/home", "excludePatterns": []string{"*.tmp", "node_modules/"}}},
		"destination": map[string]any{"destinationId": ""},
		"schedule":    map[string]any{"cronExpression": "0 2 * * *", "timezone": "Europe/Berlin"},
		"options":     map[string]any{"type": "incremental", "compression": "zstd"},
	}
}

// With returns a copy of c with path (dot-separated, "sources.0.path") set to v.
func With(c map[string]any, kv ...any) map[string]any {
	out := clone(c).(map[string]any)
	for i := 0; i+1 < len(kv); i += 2 {
		path := strings.Split(kv[i].(string), ".")
		var cur any = out
		for j, k := range path {
			last := j == len(path)-1
			switch m := cur.(type) {
			case map[string]any:
				if last {
					m[k] = kv[i+1]
				} else {
					if m[k] == nil {
						m[k] = map[string]any{}
					}
					cur = m[k]
				}
			case []map[string]any:
				n := int(k[0] - '0')
				if last {
					panic("cannot replace a list element")
				}
				cur = m[n]
			}
		}
	}
	return out
}

func clone(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			m[k] = clone(e)
		}
		return m
	case []map[string]any:
		s := make([]map[string]any, len(x))
		for i, e := range x {
			s[i] = clone(e).(map[string]any)
		}
		return s
	}
	return v
}

// Fields are the JSON error's messages by form field.
func Fields(r Response) map[string]any {
	e, _ := r.Body["error"].(map[string]any)
	f, _ := e["fields"].(map[string]any)
	return f
}
