package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/builtin"
	"github.com/backapp/backapp/internal/testenv"
)

// serve starts the app's background jobs (scheduler, built-in agent, …) as `backapp
// serve` does, on a second listener nobody uses; they stop when the test ends.
func (e *env) serve(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.app.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("Serve did not return within 30 s of its context ending")
		}
	})
}

// waitRun polls GET /api/backups/{id} until the run ends.
func (c *client) waitRun(id string) response {
	c.t.Helper()
	var r response
	testenv.EventuallyWithin(c.t, time.Minute, "run "+id+" to end", func() bool {
		r = c.json("GET", "/api/backups/"+id, nil)
		want(c.t, r, http.StatusOK)
		s, _ := r.body["status"].(string)
		return s != "queued" && s != "running"
	})
	return r
}

// TestServerModeThroughTheAPI: an admin allows a directory, saves a server-mode
// configuration and runs it now; the server's built-in agent backs it up in-process to
// the seed's key under its own prefix. A user cannot create one; a source outside the
// list (after the list shrank) fails at run time with the reason.
func TestServerModeThroughTheAPI(t *testing.T) {
	dialects(t, func(t *testing.T, databaseURL string) {
		e := start(t, databaseURL)
		e.serve(t)
		admin := e.client()
		reg := admin.register("admin@example.com")
		adminID, _ := reg.body["id"].(string)
		user := e.client()
		user.register("user@example.com")

		allowed := t.TempDir()
		src := filepath.Join(allowed, "site")
		if err := os.MkdirAll(src, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "index.html"), []byte("<h1>hi</h1>"), 0o644); err != nil {
			t.Fatal(err)
		}
		want(t, user.json("PUT", "/api/settings/server-mode", map[string]any{"allowedDirs": []string{allowed}}), http.StatusForbidden)
		want(t, admin.json("PUT", "/api/settings/server-mode", map[string]any{"allowedDirs": []string{allowed}}), http.StatusOK)

		cfg := map[string]any{"name": "site", "enabled": true, "executionMode": "server",
			"sources": []map[string]any{{"path": src}}, "destination": map[string]any{"destinationId": ""},
			"options": map[string]any{"type": "full", "compression": "gzip"}}
		r := user.json("POST", "/api/configs", cfg)
		want(t, r, http.StatusBadRequest)
		if !strings.Contains(r.raw, "executionMode") {
			t.Errorf("user's server-mode config refused without naming executionMode: %s", r.raw)
		}
		r = admin.json("POST", "/api/configs", cfg)
		want(t, r, http.StatusCreated)
		cfgID, _ := r.body["id"].(string)
		if cfgID == "" {
			c, _ := r.body["config"].(map[string]any)
			cfgID, _ = c["id"].(string)
		}

		r = admin.json("POST", "/api/backups/execute/"+cfgID, nil)
		want(t, r, http.StatusAccepted)
		runID, _ := r.body["id"].(string)
		r = admin.waitRun(runID)
		if s := r.body["status"]; s != "completed" {
			t.Fatalf("server-mode run %v: %s", s, r.raw)
		}
		agentID, _ := r.body["agentId"].(string)
		if got := e.app.Builtin.AgentID(adminID); got == "" || got != agentID {
			t.Errorf("run's agent %q, want the admin's built-in agent %q", agentID, got)
		}
		key, _ := r.body["objectKey"].(string)
		re := regexp.MustCompile(fmt.Sprintf(`^users/%s/agents/%s/configs/%s/backup-\d{4}-\d{2}-\d{2}-\d{6}\.tar\.gz$`, adminID, agentID, cfgID))
		if !re.MatchString(key) {
			t.Errorf("object key %q, want %s", key, re)
		}
		// The built-in local destination holds it.
		dest, err := e.app.Destinations.Resolve(context.Background(), adminID, "")
		if err != nil {
			t.Fatal(err)
		}
		if o, err := dest.Stat(context.Background(), key); err != nil || o.Size == 0 {
			t.Errorf("archive in the local destination: %+v, %v", o, err)
		}

		// The list shrinks: the saved config now fails at run time, nothing is read.
		other := t.TempDir()
		want(t, admin.json("PUT", "/api/settings/server-mode", map[string]any{"allowedDirs": []string{other}}), http.StatusOK)
		r = admin.json("POST", "/api/backups/execute/"+cfgID, nil)
		want(t, r, http.StatusAccepted)
		runID, _ = r.body["id"].(string)
		r = admin.waitRun(runID)
		if s := r.body["status"]; s != "failed" || !strings.Contains(r.raw, "outside the directories allowed for server mode") {
			t.Errorf("run after the list shrank: %v, %s; want failed, outside the allowed directories", s, r.raw)
		}

		// Users never see the built-in agent.
		r = user.json("GET", "/api/agents", nil)
		if strings.Contains(r.raw, builtin.Name) {
			t.Errorf("user's agents list shows the built-in agent: %s", r.raw)
		}
	})
}
