package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/crypto/bcrypt"

	"github.com/backapp/backapp/internal/agentkey"
	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/config"
	"github.com/backapp/backapp/internal/server"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/postgres"
)

// fakeClock is the server's injected clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer collects the server's log output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// agentEnv is a server with an injected clock and its log captured at debug level.
type agentEnv struct {
	*env
	clock   *fakeClock
	log     *syncBuffer
	dataDir string
}

func startAgents(t *testing.T, databaseURL string) *agentEnv {
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
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ae := &agentEnv{clock: &fakeClock{t: time.Now().UTC()}, log: &syncBuffer{}, dataDir: cfg.DataDir}
	log := slog.New(slog.NewTextHandler(ae.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	app, err := server.Open(context.Background(), cfg, log, server.Options{PasswordCost: bcrypt.MinCost, Now: ae.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, app: app}
	e.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: app.Handler()}}
	e.srv.Start()
	t.Cleanup(func() { e.srv.Close(); app.Close() })
	ae.env = e
	return ae
}

// createAgent registers an agent through the API and returns its id and key.
func (c *client) createAgent(name string) (id, key string, r response) {
	c.t.Helper()
	r = c.json("POST", "/api/agents", map[string]string{"name": name})
	want(c.t, r, http.StatusCreated)
	id, _ = r.body["id"].(string)
	key, _ = r.body["apiKey"].(string)
	if id == "" || key == "" {
		c.t.Fatalf("create agent: no id or apiKey in %s", r.raw)
	}
	return id, key, r
}

// agentCall calls the agent API as an agent with key would.
func (c *client) agentCall(path, key string, body any) response {
	c.t.Helper()
	return c.send("POST", path, "application/json", body, "Authorization", "Bearer "+key, agentproto.HeaderProtocol, "1")
}

// rawDatabase is every value the database holds, as text: the SQLite files byte for
// byte, or every row of every PostgreSQL table as JSON.
func (e *agentEnv) rawDatabase(t *testing.T) string {
	t.Helper()
	var sb strings.Builder
	if pg, ok := e.app.Store.(*postgres.Store); ok {
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
	err := filepath.WalkDir(e.dataDir, func(p string, d fs.DirEntry, err error) error {
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
		t.Fatalf("read the SQLite files in %s: %d files, %v", e.dataDir, n, err)
	}
	return sb.String()
}

var tags = regexp.MustCompile(`<[^>]*>`)

// visible is a page's text without its tags, whitespace collapsed.
func visible(page string) string {
	return strings.Join(strings.Fields(tags.ReplaceAllString(page, "")), " ")
}

// TestAgentKeyShownOnce: the key is in the registration (and rotation) response and
// nowhere else: not in the database, the audit log, the server log, or any later
// page or API answer.
func TestAgentKeyShownOnce(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := startAgents(t, db)
		c := e.client()
		c.register("ada@example.com")
		id, key, r := c.createAgent("web-1")
		if !agentkey.WellFormed(key) {
			t.Errorf("apiKey %q is not a well-formed agent key", key)
		}
		wantCmd := "backapp-agent enroll --server " + e.srv.URL + " --key " + key
		if r.body["enrollCommand"] != wantCmd {
			t.Errorf("enrollCommand %q, want %q", r.body["enrollCommand"], wantCmd)
		}
		if r.body["installCommand"] != "sudo backapp-agent install" {
			t.Errorf("installCommand %q", r.body["installCommand"])
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q on the response with the key, want no-store", r.header.Get("Cache-Control"))
		}
		if strings.Contains(strings.ToLower(r.raw), "hash") {
			t.Errorf("registration response mentions the hash: %s", r.raw)
		}
		rotated := c.json("POST", "/api/agents/"+id+"/rotate-key", nil)
		want(t, rotated, http.StatusOK)
		key2, _ := rotated.body["apiKey"].(string)
		if !agentkey.WellFormed(key2) || key2 == key {
			t.Fatalf("rotate-key apiKey %q: want a new well-formed key", key2)
		}

		// The agent enrols with the key; that must not put it in the log either.
		host := agentproto.Host{Hostname: "web-1.lan", Platform: "linux", Arch: "amd64", Version: "1.0.0"}
		want(t, e.client().agentCall(agentproto.PathRegister, key2, agentproto.RegisterRequest{Host: host}), http.StatusOK)

		// Every later answer, of the API and of the pages.
		later := []response{
			c.json("GET", "/api/agents", nil),
			c.json("GET", "/api/agents/"+id, nil),
			c.json("GET", "/api/agents/"+id+"/logs", nil),
			c.json("PATCH", "/api/agents/"+id, map[string]string{"name": "web-one"}),
			c.send("GET", "/agents", "", nil),
			c.send("GET", "/agents/"+id, "", nil),
			c.send("GET", "/agents/"+id+"/rotate-key", "", nil),
			c.send("GET", "/dashboard", "", nil),
		}
		for i, r := range later {
			if r.status != http.StatusOK {
				t.Errorf("later request %d: status %d", i, r.status)
			}
			for _, k := range []string{key, key2} {
				if strings.Contains(r.raw, k) {
					t.Errorf("later request %d shows a key: %s", i, r.raw)
				}
			}
		}
		raw := e.rawDatabase(t)
		if !strings.Contains(raw, agentkey.Hash(key2)) {
			t.Fatal("the raw database scan does not find the current key's hash: the scan sees nothing")
		}
		for _, k := range []string{key, key2} {
			if strings.Contains(raw, k) {
				t.Errorf("the database holds a key")
			}
			if strings.Contains(e.log.String(), k) {
				t.Errorf("the server log holds a key")
			}
		}
		// Live rows only: SQLite's files may keep a replaced value in free pages or the
		// WAL until they are reused, which is harmless for the hash of a dead key.
		if db != "" && strings.Contains(raw, agentkey.Hash(key)) {
			t.Error("the rotated-out key's hash is still in the database")
		}
		audit, err := e.app.Store.ListAudit(context.Background(), 100)
		if err != nil {
			t.Fatal(err)
		}
		actions := map[string]bool{}
		for _, a := range audit {
			actions[a.Action] = true
			for _, k := range []string{key, key2} {
				if strings.Contains(a.Detail, k) || strings.Contains(a.Target, k) {
					t.Errorf("audit entry %s holds a key: %q", a.Action, a.Detail)
				}
			}
		}
		for _, a := range []string{"agent.create", "agent.rotate", "agent.rename"} {
			if !actions[a] {
				t.Errorf("no %s in the audit log", a)
			}
		}
		if !strings.Contains(e.log.String(), "agent.create") {
			t.Error("the capture sees no audit lines in the server log: the log check proves nothing")
		}
	})
}

// TestAgentOfflineAfterFiveMinutes: status comes from last_seen and the injected
// clock, with no background job.
func TestAgentOfflineAfterFiveMinutes(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := startAgents(t, db)
		c := e.client()
		c.register("ada@example.com")
		id, _, r := c.createAgent("web-1")
		if r.body["status"] != "offline" {
			t.Errorf("a new agent's status %v, want offline", r.body["status"])
		}
		ctx := context.Background()
		hb := store.AgentHeartbeat{Time: e.clock.Now(), Platform: "linux", Arch: "arm64", Version: "1.2.3", Hostname: "web-1.example.com"}
		if err := e.app.Store.RecordHeartbeat(ctx, id, hb); err != nil {
			t.Fatal(err)
		}
		status := func() string {
			t.Helper()
			r := c.json("GET", "/api/agents/"+id, nil)
			want(t, r, http.StatusOK)
			s, _ := r.body["status"].(string)
			return s
		}
		if got := status(); got != "online" {
			t.Fatalf("status right after a heartbeat %q, want online", got)
		}
		r = c.json("GET", "/api/agents", nil)
		a := r.body["agents"].([]any)[0].(map[string]any)
		for k, v := range map[string]string{"platform": "linux", "arch": "arm64", "version": "1.2.3", "hostname": "web-1.example.com", "status": "online"} {
			if a[k] != v {
				t.Errorf("list: %s = %v, want %q", k, a[k], v)
			}
		}
		e.clock.Add(4*time.Minute + 59*time.Second)
		if got := status(); got != "online" {
			t.Errorf("status after 4m59s %q, want online", got)
		}
		page := c.send("GET", "/agents", "", nil)
		if !strings.Contains(visible(page.raw), "● Online") {
			t.Errorf("list page lacks ● Online: %s", visible(page.raw))
		}
		e.clock.Add(time.Second)
		if got := status(); got != "offline" {
			t.Errorf("status after 5m without a heartbeat %q, want offline", got)
		}
		page = c.send("GET", "/agents", "", nil)
		if !strings.Contains(visible(page.raw), "○ Offline") {
			t.Errorf("list page lacks ○ Offline after 5 minutes")
		}
		hb.Time = e.clock.Now()
		if err := e.app.Store.RecordHeartbeat(ctx, id, hb); err != nil {
			t.Fatal(err)
		}
		if got := status(); got != "online" {
			t.Errorf("status after a new heartbeat %q, want online", got)
		}
	})
}

// TestAgentsIsolation: another user's agent is 404 everywhere, API and pages; admins
// see every agent.
func TestAgentsIsolation(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := startAgents(t, db)
		admin := e.client()
		admin.register("admin@example.com")
		alice, bob := e.client(), e.client()
		alice.register("alice@example.com")
		bob.register("bob@example.com")
		id, _, _ := alice.createAgent("alice-laptop")
		bob.createAgent("bob-desktop")

		for _, tc := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/api/agents/" + id, nil},
			{"PATCH", "/api/agents/" + id, map[string]string{"name": "mine now"}},
			{"POST", "/api/agents/" + id + "/rotate-key", nil},
			{"POST", "/api/agents/" + id + "/revoke", nil},
			{"DELETE", "/api/agents/" + id, nil},
			{"GET", "/api/agents/" + id + "/logs", nil},
			{"GET", "/api/agents/" + id + "/logs?level=nonsense", nil},
			{"GET", "/api/agents/00000000-0000-7000-8000-000000000000", nil},
			{"GET", "/api/agents/not-a-uuid", nil},
		} {
			r := bob.json(tc.method, tc.path, tc.body)
			if r.status != http.StatusNotFound {
				t.Errorf("bob %s %s: %d, want 404; %s", tc.method, tc.path, r.status, r.raw)
			}
			if strings.Contains(r.raw, "alice") {
				t.Errorf("bob %s %s shows alice's agent: %s", tc.method, tc.path, r.raw)
			}
		}
		for _, p := range []string{"/agents/" + id, "/agents/" + id + "/delete", "/agents/" + id + "/revoke", "/agents/" + id + "/rotate-key"} {
			if r := bob.send("GET", p, "", nil); r.status != http.StatusNotFound || strings.Contains(r.raw, "alice-laptop") {
				t.Errorf("bob GET %s: %d, want 404 without alice's agent", p, r.status)
			}
		}
		form := "confirm=yes&csrf_token=" + url.QueryEscape(bob.csrf)
		for _, p := range []string{"/agents/" + id + "/delete", "/agents/" + id + "/revoke", "/agents/" + id + "/rotate-key", "/agents/" + id + "/rename"} {
			if r := bob.send("POST", p, "application/x-www-form-urlencoded", form+"&name=x"); r.status != http.StatusNotFound {
				t.Errorf("bob POST %s: %d, want 404", p, r.status)
			}
		}
		if r := bob.send("GET", "/agents", "", nil); strings.Contains(r.raw, "alice-laptop") || !strings.Contains(r.raw, "bob-desktop") {
			t.Error("bob's agents page shows alice's agent, or not his own")
		}
		names := func(c *client) []string {
			r := c.json("GET", "/api/agents", nil)
			want(t, r, http.StatusOK)
			var out []string
			for _, a := range r.body["agents"].([]any) {
				out = append(out, a.(map[string]any)["name"].(string))
			}
			return out
		}
		if got := names(bob); len(got) != 1 || got[0] != "bob-desktop" {
			t.Errorf("bob lists %v, want [bob-desktop]", got)
		}
		if got := names(admin); len(got) != 2 {
			t.Errorf("admin lists %v, want both agents", got)
		}
		// Alice's agent is untouched.
		r := alice.json("GET", "/api/agents/"+id, nil)
		want(t, r, http.StatusOK)
		if r.body["name"] != "alice-laptop" || r.body["revoked"] != false {
			t.Errorf("alice's agent changed: %s", r.raw)
		}
		// An admin can act on it, and the owner's e-mail shows in the admin's list.
		if r := admin.json("GET", "/api/agents", nil); !strings.Contains(r.raw, `"owner":"alice@example.com"`) {
			t.Errorf("admin list lacks owners: %s", r.raw)
		}
		want(t, admin.json("POST", "/api/agents/"+id+"/revoke", nil), http.StatusOK)
	})
}

// TestAgentKeyRotateRevokeDelete: rotation replaces the stored hash at once;
// revocation and deletion are audited; a revoked agent gets no new key.
func TestAgentKeyRotateRevokeDelete(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := startAgents(t, db)
		ctx := context.Background()
		c := e.client()
		c.register("ada@example.com")
		id, key, _ := c.createAgent("web-1")
		if a, err := e.app.Store.GetAgentByKeyHash(ctx, agentkey.Hash(key)); err != nil || a.ID != id {
			t.Fatalf("lookup by the new key: %v %v", a.ID, err)
		}
		agent := e.client()
		host := agentproto.Host{Hostname: "web-1.lan", Platform: "linux", Arch: "amd64", Version: "1.0.0"}
		want(t, agent.agentCall(agentproto.PathRegister, key, agentproto.RegisterRequest{Host: host}), http.StatusOK)
		if r := c.json("GET", "/api/agents/"+id, nil); r.body["status"] != "online" || r.body["hostname"] != "web-1.lan" || r.body["enrolledAt"] == nil {
			t.Errorf("after enrolment: %s", r.raw)
		}
		r := c.json("POST", "/api/agents/"+id+"/rotate-key", nil)
		want(t, r, http.StatusOK)
		key2 := r.body["apiKey"].(string)
		hb := agentproto.HeartbeatRequest{Host: host}
		want(t, agent.agentCall(agentproto.PathHeartbeat, key, hb), http.StatusUnauthorized)
		want(t, agent.agentCall(agentproto.PathHeartbeat, key2, hb), http.StatusOK)
		if !strings.HasPrefix(r.body["enrollCommand"].(string), "backapp-agent enroll --server ") || !strings.HasSuffix(r.body["enrollCommand"].(string), " --key "+key2) {
			t.Errorf("enrollCommand after rotation %q", r.body["enrollCommand"])
		}
		if _, err := e.app.Store.GetAgentByKeyHash(ctx, agentkey.Hash(key)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old key's hash after rotation: %v, want ErrNotFound", err)
		}
		if a, err := e.app.Store.GetAgentByKeyHash(ctx, agentkey.Hash(key2)); err != nil || a.ID != id {
			t.Errorf("new key's hash after rotation: %v %v", a.ID, err)
		}
		if r.body["keyPrefix"] != key2[:agentkey.DisplayPrefixLen] {
			t.Errorf("keyPrefix %v, want %q", r.body["keyPrefix"], key2[:agentkey.DisplayPrefixLen])
		}

		r = c.json("POST", "/api/agents/"+id+"/revoke", nil)
		want(t, r, http.StatusOK)
		if r.body["revoked"] != true || r.body["status"] != "offline" {
			t.Errorf("after revoke: %s", r.raw)
		}
		if a, err := e.app.Store.GetAgentByKeyHash(ctx, agentkey.Hash(key2)); err != nil || !a.Revoked {
			t.Errorf("stored agent after revoke: revoked=%v err=%v", a.Revoked, err)
		}
		want(t, agent.agentCall(agentproto.PathHeartbeat, key2, hb), http.StatusUnauthorized)
		r = c.json("POST", "/api/agents/"+id+"/rotate-key", nil)
		want(t, r, http.StatusConflict)
		if !strings.Contains(r.errMessage(), "register a new agent") {
			t.Errorf("rotating a revoked agent: %q", r.errMessage())
		}
		want(t, c.json("DELETE", "/api/agents/"+id, nil), http.StatusNoContent)
		want(t, c.json("GET", "/api/agents/"+id, nil), http.StatusNotFound)
		want(t, c.json("DELETE", "/api/agents/"+id, nil), http.StatusNotFound)
		if _, err := e.app.Store.GetAgentByKeyHash(ctx, agentkey.Hash(key2)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("key after delete: %v, want ErrNotFound", err)
		}
		audit, err := e.app.Store.ListAudit(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, a := range audit {
			got[a.Action] = a.Target
		}
		for _, a := range []string{"agent.create", "agent.rotate", "agent.revoke", "agent.delete"} {
			if got[a] != id {
				t.Errorf("audit %s target %q, want %s", a, got[a], id)
			}
		}
	})
}

// TestAgentLogsFilters: level and time filters, paging, and 400s that name the bad
// parameter.
func TestAgentLogsFilters(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := startAgents(t, db)
		c := e.client()
		c.register("ada@example.com")
		id, _, _ := c.createAgent("web-1")
		t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		var lines []store.AgentLog
		for i := range 10 {
			lvl := "info"
			switch {
			case i%5 == 4:
				lvl = "error"
			case i%5 == 2:
				lvl = "warning"
			}
			lines = append(lines, store.AgentLog{AgentID: id, Level: lvl, Message: "line " + string(rune('a'+i)), Timestamp: t0.Add(time.Duration(i) * time.Minute)})
		}
		// Three lines in one batch share a time, after the others.
		for _, m := range []string{"batch x", "batch y", "batch z"} {
			lines = append(lines, store.AgentLog{AgentID: id, Level: "info", Message: m, Timestamp: t0.Add(time.Hour)})
		}
		if err := e.app.Store.AddAgentLogs(context.Background(), lines); err != nil {
			t.Fatal(err)
		}
		messages := func(path string) ([]string, string) {
			t.Helper()
			r := c.json("GET", path, nil)
			want(t, r, http.StatusOK)
			var out struct {
				Logs []struct{ Level, Message string }
				Next string
			}
			if err := json.Unmarshal([]byte(r.raw), &out); err != nil {
				t.Fatal(err)
			}
			var ms []string
			for _, l := range out.Logs {
				ms = append(ms, l.Message)
			}
			return ms, out.Next
		}
		base := "/api/agents/" + id + "/logs"
		if got, _ := messages(base + "?level=error"); strings.Join(got, ",") != "line j,line e" {
			t.Errorf("level=error: %v", got)
		}
		if got, _ := messages(base + "?level=WARNING"); strings.Join(got, ",") != "line h,line c" {
			t.Errorf("level=WARNING: %v", got)
		}
		since, until := t0.Add(3*time.Minute).Format(time.RFC3339), t0.Add(6*time.Minute).Format(time.RFC3339)
		if got, _ := messages(base + "?since=" + since + "&until=" + until); strings.Join(got, ",") != "line f,line e,line d" {
			t.Errorf("since 12:03 until 12:06: %v (since inclusive, until exclusive)", got)
		}
		// Paging walks every line once, even when a page would split the batch.
		var all []string
		next := base + "?limit=2"
		for pages := 0; next != ""; pages++ {
			if pages > 20 {
				t.Fatal("paging does not end")
			}
			var got []string
			got, next = messages(next)
			all = append(all, got...)
		}
		if len(all) != 13 || all[0] != "batch z" && all[0] != "batch y" && all[0] != "batch x" || all[12] != "line a" {
			t.Errorf("paging with limit 2 gave %d lines %v, want all 13 once, newest first", len(all), all)
		}
		seen := map[string]bool{}
		for _, m := range all {
			if seen[m] {
				t.Errorf("paging repeats %q", m)
			}
			seen[m] = true
		}

		for _, tc := range []struct{ query, param string }{
			{"level=debug", "level"},
			{"since=yesterday", "since"},
			{"until=2026-05-01", "until"},
			{"since=2026-05-02T00:00:00Z&until=2026-05-01T00:00:00Z", "until"},
			{"limit=0", "limit"},
			{"limit=many", "limit"},
			{"limit=100000", "limit"},
		} {
			r := c.json("GET", base+"?"+tc.query, nil)
			want(t, r, http.StatusBadRequest)
			fields, _ := r.body["error"].(map[string]any)["fields"].(map[string]any)
			if fields[tc.param] == nil || !strings.Contains(r.errMessage(), tc.param) {
				t.Errorf("?%s: error %s, want it to name %q", tc.query, r.raw, tc.param)
			}
		}
	})
}

// TestAgentBadInput: names are required, unique per user, not too long; the messages
// say what to fix and nothing is written.
func TestAgentBadInput(t *testing.T) {
	e := startAgents(t, "")
	e.client().register("root@example.com") // the admin; ada and bob are users
	c := e.client()
	c.register("ada@example.com")
	id, _, _ := c.createAgent("web-1")
	other := e.client()
	other.register("bob@example.com")
	other.createAgent("web-1") // names are unique per user, not across users

	for _, tc := range []struct {
		name, body string
		status     int
		field      string
		message    string
	}{
		{"empty name", `{"name":""}`, 400, "name", "enter a name"},
		{"blank name", `{"name":"   "}`, 400, "name", "enter a name"},
		{"missing name", `{}`, 400, "name", `"name" is required`},
		{"duplicate name", `{"name":"web-1"}`, 400, "name", "already have an agent named"},
		{"duplicate name, other case", `{"name":" WEB-1 "}`, 400, "name", "already have an agent named"},
		{"overlong name", `{"name":"` + strings.Repeat("n", 101) + `"}`, 400, "name", "at most 100"},
		{"control character", `{"name":"a\tb"}`, 400, "name", "control characters"},
		{"wrong type", `{"name":42}`, 400, "name", "string"},
		{"unknown field", `{"name":"x","apiKey":"bak_mine"}`, 400, "apiKey", "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.send("POST", "/api/agents", "application/json", tc.body)
			want(t, r, tc.status)
			fields, _ := r.body["error"].(map[string]any)["fields"].(map[string]any)
			if fields[tc.field] == nil || !strings.Contains(r.errMessage(), tc.message) {
				t.Errorf("error %s, want a message containing %q for field %q", r.raw, tc.message, tc.field)
			}
		})
	}
	r := c.json("PATCH", "/api/agents/"+id, map[string]string{"name": ""})
	want(t, r, http.StatusBadRequest)
	want(t, c.json("PATCH", "/api/agents/"+id, map[string]string{"name": "WEB-1"}), http.StatusOK) // its own name, other case
	c.createAgent("db-1")
	r = c.json("PATCH", "/api/agents/"+id, map[string]string{"name": "db-1"})
	want(t, r, http.StatusBadRequest)
	if !strings.Contains(r.errMessage(), "already have an agent named") {
		t.Errorf("rename to a taken name: %q", r.errMessage())
	}
	if r := c.json("GET", "/api/agents", nil); len(r.body["agents"].([]any)) != 2 {
		t.Errorf("%d agents after bad input, want 2: %s", len(r.body["agents"].([]any)), r.raw)
	}
	want(t, e.client().json("GET", "/api/agents", nil), http.StatusUnauthorized)
	want(t, e.client().json("POST", "/api/agents", map[string]string{"name": "x"}), http.StatusUnauthorized)
}

// TestAgentSetupPerPlatform: the set-up commands are each platform's own. A new agent
// gets Linux's, macOS's and Windows' (no sudo there: an elevated prompt runs the .exe);
// a key rotated on an agent that reported Windows gets Windows' only.
func TestAgentSetupPerPlatform(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := startAgents(t, db)
		c := e.client()
		c.register("win@example.com")
		id, key, r := c.createAgent("desk")
		type setup struct{ platform, enroll, install string }
		setups := func(r response) []setup {
			t.Helper()
			var out []setup
			list, _ := r.body["setup"].([]any)
			for _, s := range list {
				m := s.(map[string]any)
				out = append(out, setup{m["platform"].(string), m["enrollCommand"].(string), m["installCommand"].(string)})
			}
			return out
		}
		want1 := []setup{
			{"linux", "backapp-agent enroll --server " + e.srv.URL + " --key " + key, "sudo backapp-agent install"},
			{"darwin", "backapp-agent enroll --server " + e.srv.URL + " --key " + key, "sudo backapp-agent install"},
			{"windows", `.\backapp-agent.exe enroll --server ` + e.srv.URL + " --key " + key, `.\backapp-agent.exe install`},
		}
		if got := setups(r); !slices.Equal(got, want1) {
			t.Errorf("setup of a new agent:\n got  %v\n want %v", got, want1)
		}

		host := agentproto.Host{Hostname: "desk", Platform: "windows", Arch: "amd64", Version: "1.0.0"}
		want(t, e.client().agentCall(agentproto.PathRegister, key, agentproto.RegisterRequest{Host: host}), http.StatusOK)
		rotated := c.json("POST", "/api/agents/"+id+"/rotate-key", nil)
		want(t, rotated, http.StatusOK)
		key2, _ := rotated.body["apiKey"].(string)
		if got := setups(rotated); len(got) != 1 || got[0].platform != "windows" || strings.Contains(got[0].install, "sudo") {
			t.Errorf("setup after rotating a Windows agent's key: %v", got)
		}
		if rotated.body["installCommand"] != `.\backapp-agent.exe install` || rotated.body["enrollCommand"] != `.\backapp-agent.exe enroll --server `+e.srv.URL+" --key "+key2 {
			t.Errorf("commands for a Windows agent: %s", rotated.raw)
		}
		pg := c.send("POST", "/agents/"+id+"/rotate-key", "application/x-www-form-urlencoded", url.Values{"csrf_token": {c.csrf}, "confirm": {"yes"}}.Encode())
		if pg.status != http.StatusSeeOther {
			t.Fatalf("rotating the key in the page: %d, want a redirect to the key's page", pg.status)
		}
		pg = c.send("GET", pg.header.Get("Location"), "", nil)
		if txt := visible(pg.raw); pg.status != http.StatusOK || strings.Contains(txt, "sudo") || !strings.Contains(txt, "backapp-agent.exe enroll") {
			t.Errorf("the key page of a Windows agent: %s", txt)
		}
	})
}
