package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// TestAgentsIsolation: another user's agent is 404 everywhere, API and pages; admins
// see every agent.
func TestAgentsIsolation(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := startAgents(t, db)
		admin := e.Client()
		admin.Register("admin@example.com")
		alice, bob := e.Client(), e.Client()
		alice.Register("alice@example.com")
		bob.Register("bob@example.com")
		id, _, _ := alice.CreateAgent("alice-laptop")
		bob.CreateAgent("bob-desktop")

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
			r := bob.JSON(tc.method, tc.path, tc.body)
			if r.Status != http.StatusNotFound {
				t.Errorf("bob %s %s: %d, want 404; %s", tc.method, tc.path, r.Status, r.Raw)
			}
			if strings.Contains(r.Raw, "alice") {
				t.Errorf("bob %s %s shows alice's agent: %s", tc.method, tc.path, r.Raw)
			}
		}
		for _, p := range []string{"/agents/" + id, "/agents/" + id + "/delete", "/agents/" + id + "/revoke", "/agents/" + id + "/rotate-key"} {
			if r := bob.Send("GET", p, "", nil); r.Status != http.StatusNotFound || strings.Contains(r.Raw, "alice-laptop") {
				t.Errorf("bob GET %s: %d, want 404 without alice's agent", p, r.Status)
			}
		}
		form := "confirm=yes&csrf_token=" + url.QueryEscape(bob.CSRF)
		for _, p := range []string{"/agents/" + id + "/delete", "/agents/" + id + "/revoke", "/agents/" + id + "/rotate-key", "/agents/" + id + "/rename"} {
			if r := bob.Send("POST", p, "application/x-www-form-urlencoded", form+"&name=x"); r.Status != http.StatusNotFound {
				t.Errorf("bob POST %s: %d, want 404", p, r.Status)
			}
		}
		if r := bob.Send("GET", "/agents", "", nil); strings.Contains(r.Raw, "alice-laptop") || !strings.Contains(r.Raw, "bob-desktop") {
			t.Error("bob's agents page shows alice's agent, or not his own")
		}
		names := func(c *client) []string {
			r := c.JSON("GET", "/api/agents", nil)
			want(t, r, http.StatusOK)
			var out []string
			for _, a := range r.Body["agents"].([]any) {
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
		r := alice.JSON("GET", "/api/agents/"+id, nil)
		want(t, r, http.StatusOK)
		if r.Body["name"] != "alice-laptop" || r.Body["revoked"] != false {
			t.Errorf("alice's agent changed: %s", r.Raw)
		}
		// An admin can act on it, and the owner's e-mail shows in the admin's list.
		if r := admin.JSON("GET", "/api/agents", nil); !strings.Contains(r.Raw, `"owner":"alice@example.com"`) {
			t.Errorf("admin list lacks owners: %s", r.Raw)
		}
		want(t, admin.JSON("POST", "/api/agents/"+id+"/revoke", nil), http.StatusOK)
	})
}

// TestAgentLogsFilters: level and time filters, paging, and 400s that name the bad
// parameter.
func TestAgentLogsFilters(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := startAgents(t, db)
		c := e.Client()
		c.Register("ada@example.com")
		id, _, _ := c.CreateAgent("web-1")
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
		if err := e.App.Store.AddAgentLogs(context.Background(), lines); err != nil {
			t.Fatal(err)
		}
		messages := func(path string) ([]string, string) {
			t.Helper()
			r := c.JSON("GET", path, nil)
			want(t, r, http.StatusOK)
			var out struct {
				Logs []struct{ Level, Message string }
				Next string
			}
			if err := json.Unmarshal([]byte(r.Raw), &out); err != nil {
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
			r := c.JSON("GET", base+"?"+tc.query, nil)
			want(t, r, http.StatusBadRequest)
			fields, _ := r.Body["error"].(map[string]any)["fields"].(map[string]any)
			if fields[tc.param] == nil || !strings.Contains(r.ErrMessage(), tc.param) {
				t.Errorf("?%s: error %s, want it to name %q", tc.query, r.Raw, tc.param)
			}
		}
	})
}

// TestAgentBadInput: names are required, unique per user, not too long; the messages
// say what to fix and nothing is written.
func TestAgentBadInput(t *testing.T) {
	e := startAgents(t, "")
	e.Client().Register("root@example.com") // the admin; ada and bob are users
	c := e.Client()
	c.Register("ada@example.com")
	id, _, _ := c.CreateAgent("web-1")
	other := e.Client()
	other.Register("bob@example.com")
	other.CreateAgent("web-1") // names are unique per user, not across users

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
			r := c.Send("POST", "/api/agents", "application/json", tc.body)
			want(t, r, tc.status)
			fields, _ := r.Body["error"].(map[string]any)["fields"].(map[string]any)
			if fields[tc.field] == nil || !strings.Contains(r.ErrMessage(), tc.message) {
				t.Errorf("error %s, want a message containing %q for field %q", r.Raw, tc.message, tc.field)
			}
		})
	}
	r := c.JSON("PATCH", "/api/agents/"+id, map[string]string{"name": ""})
	want(t, r, http.StatusBadRequest)
	want(t, c.JSON("PATCH", "/api/agents/"+id, map[string]string{"name": "WEB-1"}), http.StatusOK) // its own name, other case
	c.CreateAgent("db-1")
	r = c.JSON("PATCH", "/api/agents/"+id, map[string]string{"name": "db-1"})
	want(t, r, http.StatusBadRequest)
	if !strings.Contains(r.ErrMessage(), "already have an agent named") {
		t.Errorf("rename to a taken name: %q", r.ErrMessage())
	}
	if r := c.JSON("GET", "/api/agents", nil); len(r.Body["agents"].([]any)) != 2 {
		t.Errorf("%d agents after bad input, want 2: %s", len(r.Body["agents"].([]any)), r.Raw)
	}
	want(t, e.Client().JSON("GET", "/api/agents", nil), http.StatusUnauthorized)
	want(t, e.Client().JSON("POST", "/api/agents", map[string]string{"name": "x"}), http.StatusUnauthorized)
}
