package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/backapp/backapp/internal/builtin"
)

// TestServerModeThroughTheAPI: an admin allows a directory, saves a server-mode
// configuration and runs it now; the server's built-in agent backs it up in-process to
// the seed's key under its own prefix. A user cannot create one; a source outside the
// list (after the list shrank) fails at run time with the reason.
func TestServerModeThroughTheAPI(t *testing.T) {
	dialects(t, func(t *testing.T, databaseURL string) {
		e := start(t, databaseURL)
		e.Serve(t)
		admin := e.Client()
		reg := admin.Register("admin@example.com")
		adminID, _ := reg.Body["id"].(string)
		user := e.Client()
		user.Register("user@example.com")

		allowed := t.TempDir()
		src := filepath.Join(allowed, "site")
		if err := os.MkdirAll(src, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "index.html"), []byte("<h1>hi</h1>"), 0o644); err != nil {
			t.Fatal(err)
		}
		want(t, user.JSON("PUT", "/api/settings/server-mode", map[string]any{"allowedDirs": []string{allowed}}), http.StatusForbidden)
		want(t, admin.JSON("PUT", "/api/settings/server-mode", map[string]any{"allowedDirs": []string{allowed}}), http.StatusOK)

		cfg := map[string]any{"name": "site", "enabled": true, "executionMode": "server",
			"sources": []map[string]any{{"path": src}}, "destination": map[string]any{"destinationId": ""},
			"options": map[string]any{"type": "full", "compression": "gzip"}}
		r := user.JSON("POST", "/api/configs", cfg)
		want(t, r, http.StatusBadRequest)
		if !strings.Contains(r.Raw, "executionMode") {
			t.Errorf("user's server-mode config refused without naming executionMode: %s", r.Raw)
		}
		r = admin.JSON("POST", "/api/configs", cfg)
		want(t, r, http.StatusCreated)
		cfgID, _ := r.Body["id"].(string)
		if cfgID == "" {
			c, _ := r.Body["config"].(map[string]any)
			cfgID, _ = c["id"].(string)
		}

		r = admin.JSON("POST", "/api/backups/execute/"+cfgID, nil)
		want(t, r, http.StatusAccepted)
		runID, _ := r.Body["id"].(string)
		r = admin.WaitRun(runID)
		if s := r.Body["status"]; s != "completed" {
			t.Fatalf("server-mode run %v: %s", s, r.Raw)
		}
		agentID, _ := r.Body["agentId"].(string)
		if got := e.App.Builtin.AgentID(adminID); got == "" || got != agentID {
			t.Errorf("run's agent %q, want the admin's built-in agent %q", agentID, got)
		}
		key, _ := r.Body["objectKey"].(string)
		re := regexp.MustCompile(fmt.Sprintf(`^users/%s/agents/%s/configs/%s/backup-\d{4}-\d{2}-\d{2}-\d{6}\.tar\.gz$`, adminID, agentID, cfgID))
		if !re.MatchString(key) {
			t.Errorf("object key %q, want %s", key, re)
		}
		// The built-in local destination holds it.
		dest, err := e.App.Destinations.Resolve(context.Background(), adminID, "")
		if err != nil {
			t.Fatal(err)
		}
		if o, err := dest.Stat(context.Background(), key); err != nil || o.Size == 0 {
			t.Errorf("archive in the local destination: %+v, %v", o, err)
		}

		// The list shrinks: the saved config now fails at run time, nothing is read.
		other := t.TempDir()
		want(t, admin.JSON("PUT", "/api/settings/server-mode", map[string]any{"allowedDirs": []string{other}}), http.StatusOK)
		r = admin.JSON("POST", "/api/backups/execute/"+cfgID, nil)
		want(t, r, http.StatusAccepted)
		runID, _ = r.Body["id"].(string)
		r = admin.WaitRun(runID)
		if s := r.Body["status"]; s != "failed" || !strings.Contains(r.Raw, "outside the directories allowed for server mode") {
			t.Errorf("run after the list shrank: %v, %s; want failed, outside the allowed directories", s, r.Raw)
		}

		// Users never see the built-in agent.
		r = user.JSON("GET", "/api/agents", nil)
		if strings.Contains(r.Raw, builtin.Name) {
			t.Errorf("user's agents list shows the built-in agent: %s", r.Raw)
		}
	})
}
