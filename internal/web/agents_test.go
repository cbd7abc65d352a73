package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/backapp/backapp/internal/agentkey"
	"github.com/backapp/backapp/internal/agents"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/sqlite"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newAgentsEnv is newEnv with the agent pages mounted and an injected clock.
func newAgentsEnv(t *testing.T) (*env, *testClock) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "backapp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := &testClock{t: time.Now().UTC()}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mail := &captureMailer{}
	svc, err := auth.NewService(auth.Config{Store: st, Mailer: mail, Logger: log, BaseURL: "http://backapp.test", PasswordCost: bcrypt.MinCost, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ag, err := agents.New(agents.Config{Store: st, BaseURL: "http://backapp.test", Logger: log, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Auth: svc, Store: st, Logger: log, Version: "test", Now: clock.Now, Agents: ag})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(compose(svc, h))
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, st: st, auth: svc, h: h, mail: mail}, clock
}

// pres is the text of every <pre> on the page.
func pres(r *response) []string {
	var out []string
	for _, n := range find(r.Doc, byAtom(atom.Pre)) {
		out = append(out, text(n))
	}
	return out
}

func TestAgentPages(t *testing.T) {
	e, clock := newAgentsEnv(t)
	b := e.browser()
	b.register("Ada", "ada@example.com", adminPass)

	// Empty state: teaches the one command, links to registration.
	r := b.get("/agents")
	if r.Status != http.StatusOK || !strings.Contains(mainText(r), "No agents yet") {
		t.Fatalf("GET /agents: %d %q, want the empty state", r.Status, mainText(r))
	}
	if got := pres(r); len(got) != 1 || got[0] != "backapp-agent enroll --server http://backapp.test --key <key>" {
		t.Errorf("empty state command %q", got)
	}
	if len(find(r.Doc, func(n *html.Node) bool { return n.DataAtom == atom.A && attr(n, "href") == "/agents/new" })) == 0 {
		t.Error("empty state has no link to /agents/new")
	}
	if cur := find(r.Doc, func(n *html.Node) bool { return n.DataAtom == atom.A && attr(n, "aria-current") == "page" }); len(cur) != 1 || attr(cur[0], "href") != "/agents" {
		t.Error("the Agents navigation item is not marked current")
	}

	// Bad names: 400, the error beside the field, the value kept.
	b.get("/agents/new")
	for _, tc := range []struct{ name, want string }{
		{"", "enter a name"},
		{strings.Repeat("x", 101), "at most 100"},
	} {
		r = b.post("/agents/new", url.Values{"name": {tc.name}})
		if r.Status != http.StatusBadRequest || !strings.Contains(fieldError(t, r, "name"), tc.want) {
			t.Errorf("name %q: %d, field error %q, want 400 with %q", tc.name, r.Status, fieldError(t, r, "name"), tc.want)
		}
		if attr(input(t, r, "name"), "value") != tc.name {
			t.Errorf("name %q not kept in the form", tc.name)
		}
	}

	// Register: the form redirects (a reload never posts it again) to the key, shown
	// on a page never cached, again on reload, and not to another session.
	r = b.post("/agents/new", url.Values{"name": {"web-1"}})
	if r.Status != http.StatusSeeOther || !strings.Contains(r.Location(), "/key?t=") {
		t.Fatalf("register agent: %d %s, want a redirect to the key's page", r.Status, errorsOf(r))
	}
	keyPage := r.Location()
	r = b.follow(r)
	if r.Status != http.StatusOK {
		t.Fatalf("key page: %d %s", r.Status, errorsOf(r))
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("key page Cache-Control %q, want no-store", cc)
	}
	got := pres(r)
	if len(got) != 7 || !agentkey.WellFormed(got[0]) {
		t.Fatalf("key page <pre>s %q: want key, then enroll and install commands for Linux, macOS and Windows", got)
	}
	key := got[0]
	if again := pres(b.get(keyPage)); len(again) == 0 || again[0] != key {
		t.Errorf("reloading the key page shows %q, want the key again", again)
	}
	other := e.browser()
	other.login("ada@example.com", adminPass, "/dashboard")
	if r := other.get(keyPage); len(pres(r)) != 0 || !strings.Contains(mainText(r), "no longer shown") {
		t.Errorf("another session opening the key page: %q", mainText(r))
	}
	unix := "backapp-agent enroll --server http://backapp.test --key " + key
	if want := []string{unix, "sudo backapp-agent install", unix, "sudo backapp-agent install",
		`.\backapp-agent.exe enroll --server http://backapp.test --key ` + key, `.\backapp-agent.exe install`}; !slices.Equal(got[1:], want) {
		t.Errorf("commands %q, want %q", got[1:], want)
	}
	for _, p := range []string{"Linux", "macOS", "Windows", "run as Administrator"} {
		if !strings.Contains(mainText(r), p) {
			t.Errorf("key page lacks %q", p)
		}
	}
	if !strings.Contains(mainText(r), "shown only this once") {
		t.Error("key page does not warn that the key is shown once")
	}
	if r.Doc != nil && len(find(r.Doc, byAtom(atom.Code))) < 3 {
		t.Error("commands are not in <code>")
	}
	as, err := e.st.ListAgents(context.Background(), "")
	if err != nil || len(as) != 1 {
		t.Fatalf("agents in the store: %v %v", as, err)
	}
	id := as[0].ID
	noKey := func(r *response, what string) {
		t.Helper()
		if strings.Contains(r.Body, key) {
			t.Errorf("%s shows the key", what)
		}
	}

	// Duplicate name.
	b.get("/agents/new")
	r = b.post("/agents/new", url.Values{"name": {"Web-1"}})
	if r.Status != http.StatusBadRequest || !strings.Contains(fieldError(t, r, "name"), "already have an agent named") {
		t.Errorf("duplicate name: %d %q", r.Status, fieldError(t, r, "name"))
	}

	// The list and the agent page: not enrolled, no key.
	r = b.get("/agents")
	noKey(r, "the list")
	if !strings.Contains(mainText(r), "web-1") || !strings.Contains(mainText(r), "○ Not enrolled yet") {
		t.Errorf("list: %q", mainText(r))
	}
	r = b.get("/agents/" + id)
	noKey(r, "the agent page")
	if !strings.Contains(mainText(r), "has not enrolled yet") || !strings.Contains(mainText(r), key[:agentkey.DisplayPrefixLen]+"…") {
		t.Errorf("agent page before enrolment: %q", mainText(r))
	}

	// A heartbeat and some logs.
	ctx := context.Background()
	if err := e.st.RecordHeartbeat(ctx, id, store.AgentHeartbeat{Time: clock.Now(), Platform: "linux", Arch: "amd64", Version: "0.9.1", Hostname: "web-1.lan"}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	if err := e.st.AddAgentLogs(ctx, []store.AgentLog{
		{AgentID: id, Level: "info", Message: "backup started", Timestamp: t0},
		{AgentID: id, Level: "warning", Message: "skipped /proc/kcore", Metadata: map[string]string{"path": "/proc/kcore"}, Timestamp: t0.Add(time.Minute)},
		{AgentID: id, Level: "error", Message: "upload failed", Timestamp: t0.Add(2 * time.Minute)},
	}); err != nil {
		t.Fatal(err)
	}
	r = b.get("/agents")
	for _, want := range []string{"● Online", "linux/amd64", "0.9.1", "web-1.lan", "just now"} {
		if !strings.Contains(mainText(r), want) {
			t.Errorf("list lacks %q: %q", want, mainText(r))
		}
	}
	clock.Add(6 * time.Minute)
	if r = b.get("/agents"); !strings.Contains(mainText(r), "○ Offline") || !strings.Contains(mainText(r), "6 min ago") {
		t.Errorf("list six minutes later: %q", mainText(r))
	}
	r = b.get("/agents/" + id)
	for _, want := range []string{"backup started", "skipped /proc/kcore", "path=/proc/kcore", "✕ Error upload failed", "2026-05-01 12:02:00"} {
		if !strings.Contains(mainText(r), want) {
			t.Errorf("agent page logs lack %q", want)
		}
	}
	r = b.get("/agents/" + id + "?level=error")
	if !strings.Contains(mainText(r), "upload failed") || strings.Contains(mainText(r), "backup started") {
		t.Errorf("level=error: %q", mainText(r))
	}
	if opt := find(r.Doc, func(n *html.Node) bool { return n.DataAtom == atom.Option && hasAttr(n, "selected") }); len(opt) != 1 || attr(opt[0], "value") != "error" {
		t.Error("the level filter does not show the chosen level")
	}
	// The form's datetime-local values (UTC) filter too, and are shown back.
	r = b.get("/agents/" + id + "?since=2026-05-01T12:01&until=2026-05-01T12:02:00")
	if !strings.Contains(mainText(r), "skipped /proc/kcore") || strings.Contains(mainText(r), "backup started") || strings.Contains(mainText(r), "upload failed") {
		t.Errorf("since 12:01 until 12:02: %q", mainText(r))
	}
	if v := attr(input(t, r, "since"), "value"); v != "2026-05-01T12:01:00" {
		t.Errorf("since input value %q", v)
	}
	r = b.get("/agents/" + id + "?since=yesterday&level=loud")
	if r.Status != http.StatusBadRequest || !strings.Contains(fieldError(t, r, "since"), "RFC 3339") {
		t.Errorf("bad since: %d %q", r.Status, fieldError(t, r, "since"))
	}
	if !strings.Contains(errorsOf(r), "level must be one of info, warning, error") {
		t.Errorf("bad level not named: %q", errorsOf(r))
	}

	// Rename: errors beside the field; success flashes.
	b.get("/agents/new")
	if r = b.post("/agents/new", url.Values{"name": {"db-1"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("second agent: %d", r.Status)
	}
	b.get("/agents/" + id)
	r = b.post("/agents/"+id+"/rename", url.Values{"name": {"DB-1"}})
	if r.Status != http.StatusBadRequest || !strings.Contains(fieldError(t, r, "name"), "already have an agent named") {
		t.Errorf("rename to a taken name: %d %q", r.Status, fieldError(t, r, "name"))
	}
	r = b.post("/agents/"+id+"/rename", url.Values{"name": {"web-one"}})
	if r.Status != http.StatusSeeOther || r.Location() != "/agents/"+id {
		t.Fatalf("rename: %d → %q", r.Status, r.Location())
	}
	if r = b.follow(r); !strings.Contains(mainText(r), "The agent is now called web-one.") {
		t.Errorf("no rename flash: %q", mainText(r))
	}

	// Rotate: confirmation page, refused without confirm, then the new key once.
	r = b.get("/agents/" + id + "/rotate-key")
	if r.Status != http.StatusOK || !strings.Contains(mainText(r), "stops working at once") {
		t.Errorf("rotate confirmation page: %d %q", r.Status, mainText(r))
	}
	r = b.post("/agents/"+id+"/rotate-key", url.Values{})
	if r.Status != http.StatusBadRequest {
		t.Errorf("rotate without confirm: %d, want 400", r.Status)
	}
	r = b.follow(b.post("/agents/"+id+"/rotate-key", url.Values{"confirm": {"yes"}}))
	if r.Status != http.StatusOK || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("rotate: %d, Cache-Control %q", r.Status, r.Header.Get("Cache-Control"))
	}
	got = pres(r)
	if len(got) < 2 || !agentkey.WellFormed(got[0]) || got[0] == key || !strings.HasSuffix(got[1], "--key "+got[0]) {
		t.Fatalf("rotate page <pre>s %q: want a new key and its enroll command", got)
	}
	key2 := got[0]
	if _, err := e.st.GetAgentByKeyHash(ctx, agentkey.Hash(key)); err == nil {
		t.Error("the old key's hash is still stored after rotation")
	}

	// Revoke, then delete.
	b.get("/agents/" + id)
	r = b.post("/agents/"+id+"/revoke", url.Values{"confirm": {"yes"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", r.Status, errorsOf(r))
	}
	r = b.follow(r)
	if !strings.Contains(mainText(r), "web-one is revoked") || !strings.Contains(mainText(r), "⊘ Revoked") || strings.Contains(r.Body, key2) {
		t.Errorf("after revoke: %q", mainText(r))
	}
	if len(find(r.Doc, func(n *html.Node) bool { return attr(n, "href") == "/agents/"+id+"/rotate-key" })) != 0 {
		t.Error("a revoked agent still offers key rotation")
	}
	r = b.get("/agents/" + id + "/delete")
	if !strings.Contains(mainText(r), "deleted for good") || !strings.Contains(mainText(r), "web-one") {
		t.Errorf("delete confirmation does not name what is lost: %q", mainText(r))
	}
	r = b.post("/agents/"+id+"/delete", url.Values{"confirm": {"yes"}})
	if r.Status != http.StatusSeeOther || r.Location() != "/agents" {
		t.Fatalf("delete: %d → %q", r.Status, r.Location())
	}
	r = b.follow(r)
	if !strings.Contains(mainText(r), "web-one was deleted.") || strings.Contains(mainText(r), "web-one Revoked") {
		t.Errorf("after delete: %q", mainText(r))
	}
	if r = b.get("/agents/" + id); r.Status != http.StatusNotFound {
		t.Errorf("deleted agent's page: %d, want 404", r.Status)
	}
}

// TestAgentPagesIsolation: another user's agent is a 404 page, never a 403.
func TestAgentPagesIsolation(t *testing.T) {
	e, _ := newAgentsEnv(t)
	alice := e.browser()
	alice.register("Alice", "alice@example.com", adminPass) // first account: admin
	bob := e.browser()
	bob.register("Bob", "bob@example.com", userPass)
	bob.get("/agents/new")
	if r := bob.post("/agents/new", url.Values{"name": {"bob-box"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("bob registers an agent: %d", r.Status)
	}
	carol := e.browser()
	carol.register("Carol", "carol@example.com", userPass)
	as, _ := e.st.ListAgents(context.Background(), "")
	id := as[0].ID
	for _, p := range []string{"/agents/" + id, "/agents/" + id + "/delete"} {
		if r := carol.get(p); r.Status != http.StatusNotFound || strings.Contains(r.Body, "bob-box") {
			t.Errorf("carol GET %s: %d, want 404 without the agent", p, r.Status)
		}
	}
	carol.get("/agents")
	if r := carol.post("/agents/"+id+"/delete", url.Values{"confirm": {"yes"}}); r.Status != http.StatusNotFound {
		t.Errorf("carol deletes bob's agent: %d, want 404", r.Status)
	}
	if r := carol.get("/agents"); strings.Contains(r.Body, "bob-box") {
		t.Error("carol's list shows bob's agent")
	}
	// The admin sees it, with its owner.
	if r := alice.get("/agents"); !strings.Contains(mainText(r), "bob-box") || !strings.Contains(mainText(r), "bob@example.com") {
		t.Errorf("admin's list: %q", mainText(r))
	}
}
