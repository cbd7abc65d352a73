package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/agentkey"
	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/store"
)

// TestAgentKeyShownOnce: the key is in the registration (and rotation) response and
// nowhere else: not in the database, the audit log, the server log, or any later
// page or API answer.
func TestAgentKeyShownOnce(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := startAgents(t, db)
		c := e.Client()
		c.Register("ada@example.com")
		id, key, r := c.CreateAgent("web-1")
		if !agentkey.WellFormed(key) {
			t.Errorf("apiKey %q is not a well-formed agent key", key)
		}
		wantCmd := "backapp-agent enroll --server " + e.Srv.URL + " --key " + key
		if r.Body["enrollCommand"] != wantCmd {
			t.Errorf("enrollCommand %q, want %q", r.Body["enrollCommand"], wantCmd)
		}
		if r.Body["installCommand"] != "sudo backapp-agent install" {
			t.Errorf("installCommand %q", r.Body["installCommand"])
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q on the response with the key, want no-store", r.Header.Get("Cache-Control"))
		}
		if strings.Contains(strings.ToLower(r.Raw), "hash") {
			t.Errorf("registration response mentions the hash: %s", r.Raw)
		}
		rotated := c.JSON("POST", "/api/agents/"+id+"/rotate-key", nil)
		want(t, rotated, http.StatusOK)
		key2, _ := rotated.Body["apiKey"].(string)
		if !agentkey.WellFormed(key2) || key2 == key {
			t.Fatalf("rotate-key apiKey %q: want a new well-formed key", key2)
		}

		// The agent enrols with the key; that must not put it in the log either.
		host := agentproto.Host{Hostname: "web-1.lan", Platform: "linux", Arch: "amd64", Version: "1.0.0"}
		want(t, e.Client().AgentCall(agentproto.PathRegister, key2, agentproto.RegisterRequest{Host: host}), http.StatusOK)

		// Every later answer, of the API and of the pages.
		later := []response{
			c.JSON("GET", "/api/agents", nil),
			c.JSON("GET", "/api/agents/"+id, nil),
			c.JSON("GET", "/api/agents/"+id+"/logs", nil),
			c.JSON("PATCH", "/api/agents/"+id, map[string]string{"name": "web-one"}),
			c.Send("GET", "/agents", "", nil),
			c.Send("GET", "/agents/"+id, "", nil),
			c.Send("GET", "/agents/"+id+"/rotate-key", "", nil),
			c.Send("GET", "/dashboard", "", nil),
		}
		for i, r := range later {
			if r.Status != http.StatusOK {
				t.Errorf("later request %d: status %d", i, r.Status)
			}
			for _, k := range []string{key, key2} {
				if strings.Contains(r.Raw, k) {
					t.Errorf("later request %d shows a key: %s", i, r.Raw)
				}
			}
		}
		raw := e.RawDatabase(t)
		if !strings.Contains(raw, agentkey.Hash(key2)) {
			t.Fatal("the raw database scan does not find the current key's hash: the scan sees nothing")
		}
		for _, k := range []string{key, key2} {
			if strings.Contains(raw, k) {
				t.Errorf("the database holds a key")
			}
			if strings.Contains(e.Log.String(), k) {
				t.Errorf("the server log holds a key")
			}
		}
		// Live rows only: SQLite's files may keep a replaced value in free pages or the
		// WAL until they are reused, which is harmless for the hash of a dead key.
		if db != "" && strings.Contains(raw, agentkey.Hash(key)) {
			t.Error("the rotated-out key's hash is still in the database")
		}
		audit, err := e.App.Store.ListAudit(context.Background(), 100)
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
		if !strings.Contains(e.Log.String(), "agent.create") {
			t.Error("the capture sees no audit lines in the server log: the log check proves nothing")
		}
	})
}

// TestAgentOfflineAfterFiveMinutes: status comes from last_seen and the injected
// clock, with no background job.
func TestAgentOfflineAfterFiveMinutes(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := startAgents(t, db)
		c := e.Client()
		c.Register("ada@example.com")
		id, _, r := c.CreateAgent("web-1")
		if r.Body["status"] != "offline" {
			t.Errorf("a new agent's status %v, want offline", r.Body["status"])
		}
		ctx := context.Background()
		hb := store.AgentHeartbeat{Time: e.Clock.Now(), Platform: "linux", Arch: "arm64", Version: "1.2.3", Hostname: "web-1.example.com"}
		if err := e.App.Store.RecordHeartbeat(ctx, id, hb); err != nil {
			t.Fatal(err)
		}
		status := func() string {
			t.Helper()
			r := c.JSON("GET", "/api/agents/"+id, nil)
			want(t, r, http.StatusOK)
			s, _ := r.Body["status"].(string)
			return s
		}
		if got := status(); got != "online" {
			t.Fatalf("status right after a heartbeat %q, want online", got)
		}
		r = c.JSON("GET", "/api/agents", nil)
		a := r.Body["agents"].([]any)[0].(map[string]any)
		for k, v := range map[string]string{"platform": "linux", "arch": "arm64", "version": "1.2.3", "hostname": "web-1.example.com", "status": "online"} {
			if a[k] != v {
				t.Errorf("list: %s = %v, want %q", k, a[k], v)
			}
		}
		e.Clock.Add(4*time.Minute + 59*time.Second)
		if got := status(); got != "online" {
			t.Errorf("status after 4m59s %q, want online", got)
		}
		page := c.Send("GET", "/agents", "", nil)
		if !strings.Contains(visible(page.Raw), "● Online") {
			t.Errorf("list page lacks ● Online: %s", visible(page.Raw))
		}
		e.Clock.Add(time.Second)
		if got := status(); got != "offline" {
			t.Errorf("status after 5m without a heartbeat %q, want offline", got)
		}
		page = c.Send("GET", "/agents", "", nil)
		if !strings.Contains(visible(page.Raw), "○ Offline") {
			t.Errorf("list page lacks ○ Offline after 5 minutes")
		}
		hb.Time = e.Clock.Now()
		if err := e.App.Store.RecordHeartbeat(ctx, id, hb); err != nil {
			t.Fatal(err)
		}
		if got := status(); got != "online" {
			t.Errorf("status after a new heartbeat %q, want online", got)
		}
	})
}

// TestAgentKeyRotateRevokeDelete: rotation replaces the stored hash at once;
// revocation and deletion are audited; a revoked agent gets no new key.
func TestAgentKeyRotateRevokeDelete(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := startAgents(t, db)
		ctx := context.Background()
		c := e.Client()
		c.Register("ada@example.com")
		id, key, _ := c.CreateAgent("web-1")
		if a, err := e.App.Store.GetAgentByKeyHash(ctx, agentkey.Hash(key)); err != nil || a.ID != id {
			t.Fatalf("lookup by the new key: %v %v", a.ID, err)
		}
		agent := e.Client()
		host := agentproto.Host{Hostname: "web-1.lan", Platform: "linux", Arch: "amd64", Version: "1.0.0"}
		want(t, agent.AgentCall(agentproto.PathRegister, key, agentproto.RegisterRequest{Host: host}), http.StatusOK)
		if r := c.JSON("GET", "/api/agents/"+id, nil); r.Body["status"] != "online" || r.Body["hostname"] != "web-1.lan" || r.Body["enrolledAt"] == nil {
			t.Errorf("after enrolment: %s", r.Raw)
		}
		r := c.JSON("POST", "/api/agents/"+id+"/rotate-key", nil)
		want(t, r, http.StatusOK)
		key2 := r.Body["apiKey"].(string)
		hb := agentproto.HeartbeatRequest{Host: host}
		want(t, agent.AgentCall(agentproto.PathHeartbeat, key, hb), http.StatusUnauthorized)
		want(t, agent.AgentCall(agentproto.PathHeartbeat, key2, hb), http.StatusOK)
		if !strings.HasPrefix(r.Body["enrollCommand"].(string), "backapp-agent enroll --server ") || !strings.HasSuffix(r.Body["enrollCommand"].(string), " --key "+key2) {
			t.Errorf("enrollCommand after rotation %q", r.Body["enrollCommand"])
		}
		if _, err := e.App.Store.GetAgentByKeyHash(ctx, agentkey.Hash(key)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old key's hash after rotation: %v, want ErrNotFound", err)
		}
		if a, err := e.App.Store.GetAgentByKeyHash(ctx, agentkey.Hash(key2)); err != nil || a.ID != id {
			t.Errorf("new key's hash after rotation: %v %v", a.ID, err)
		}
		if r.Body["keyPrefix"] != key2[:agentkey.DisplayPrefixLen] {
			t.Errorf("keyPrefix %v, want %q", r.Body["keyPrefix"], key2[:agentkey.DisplayPrefixLen])
		}

		r = c.JSON("POST", "/api/agents/"+id+"/revoke", nil)
		want(t, r, http.StatusOK)
		if r.Body["revoked"] != true || r.Body["status"] != "offline" {
			t.Errorf("after revoke: %s", r.Raw)
		}
		if a, err := e.App.Store.GetAgentByKeyHash(ctx, agentkey.Hash(key2)); err != nil || !a.Revoked {
			t.Errorf("stored agent after revoke: revoked=%v err=%v", a.Revoked, err)
		}
		want(t, agent.AgentCall(agentproto.PathHeartbeat, key2, hb), http.StatusUnauthorized)
		r = c.JSON("POST", "/api/agents/"+id+"/rotate-key", nil)
		want(t, r, http.StatusConflict)
		if !strings.Contains(r.ErrMessage(), "register a new agent") {
			t.Errorf("rotating a revoked agent: %q", r.ErrMessage())
		}
		want(t, c.JSON("DELETE", "/api/agents/"+id, nil), http.StatusNoContent)
		want(t, c.JSON("GET", "/api/agents/"+id, nil), http.StatusNotFound)
		want(t, c.JSON("DELETE", "/api/agents/"+id, nil), http.StatusNotFound)
		if _, err := e.App.Store.GetAgentByKeyHash(ctx, agentkey.Hash(key2)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("key after delete: %v, want ErrNotFound", err)
		}
		audit, err := e.App.Store.ListAudit(ctx, 100)
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

// TestAgentSetupPerPlatform: the set-up commands are each platform's own. A new agent
// gets Linux's, macOS's and Windows' (no sudo there: an elevated prompt runs the .exe);
// a key rotated on an agent that reported Windows gets Windows' only.
func TestAgentSetupPerPlatform(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := startAgents(t, db)
		c := e.Client()
		c.Register("win@example.com")
		id, key, r := c.CreateAgent("desk")
		type setup struct{ platform, enroll, install string }
		setups := func(r response) []setup {
			t.Helper()
			var out []setup
			list, _ := r.Body["setup"].([]any)
			for _, s := range list {
				m := s.(map[string]any)
				out = append(out, setup{m["platform"].(string), m["enrollCommand"].(string), m["installCommand"].(string)})
			}
			return out
		}
		want1 := []setup{
			{"linux", "backapp-agent enroll --server " + e.Srv.URL + " --key " + key, "sudo backapp-agent install"},
			{"darwin", "backapp-agent enroll --server " + e.Srv.URL + " --key " + key, "sudo backapp-agent install"},
			{"windows", `.\backapp-agent.exe enroll --server ` + e.Srv.URL + " --key " + key, `.\backapp-agent.exe install`},
		}
		if got := setups(r); !slices.Equal(got, want1) {
			t.Errorf("setup of a new agent:\n got  %v\n want %v", got, want1)
		}

		host := agentproto.Host{Hostname: "desk", Platform: "windows", Arch: "amd64", Version: "1.0.0"}
		want(t, e.Client().AgentCall(agentproto.PathRegister, key, agentproto.RegisterRequest{Host: host}), http.StatusOK)
		rotated := c.JSON("POST", "/api/agents/"+id+"/rotate-key", nil)
		want(t, rotated, http.StatusOK)
		key2, _ := rotated.Body["apiKey"].(string)
		if got := setups(rotated); len(got) != 1 || got[0].platform != "windows" || strings.Contains(got[0].install, "sudo") {
			t.Errorf("setup after rotating a Windows agent's key: %v", got)
		}
		if rotated.Body["installCommand"] != `.\backapp-agent.exe install` || rotated.Body["enrollCommand"] != `.\backapp-agent.exe enroll --server `+e.Srv.URL+" --key "+key2 {
			t.Errorf("commands for a Windows agent: %s", rotated.Raw)
		}
		pg := c.Send("POST", "/agents/"+id+"/rotate-key", "application/x-www-form-urlencoded", url.Values{"csrf_token": {c.CSRF}, "confirm": {"yes"}}.Encode())
		if pg.Status != http.StatusSeeOther {
			t.Fatalf("rotating the key in the page: %d, want a redirect to the key's page", pg.Status)
		}
		pg = c.Send("GET", pg.Header.Get("Location"), "", nil)
		if txt := visible(pg.Raw); pg.Status != http.StatusOK || strings.Contains(txt, "sudo") || !strings.Contains(txt, "backapp-agent.exe enroll") {
			t.Errorf("the key page of a Windows agent: %s", txt)
		}
	})
}
