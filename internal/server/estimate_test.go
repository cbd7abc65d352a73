package server_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/agent"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/testenv"
	"github.com/backapp/backapp/internal/testenv/treetest"
)

// estimateTree writes two sources and returns them. With src1's excludes (*.log,
// cache/) and src2's include (*.md), a backup would read: src1/a.txt (100 bytes),
// src1/e.md (7), src1/sub/c.bin (3000) and its hard link src1/sub/hard (stored once),
// src2/readme.md (10), src2/notes/n.md (30) and src2/cache/z.md (5: the cache/
// exclude is src1's only): 7 files, 3152 bytes, in 5 directories (src1, src1/sub,
// src2, src2/notes, src2/cache). src1/link is a symbolic link to a.txt: one file and
// 100 bytes more when links are followed.
func estimateTree(t *testing.T) (src1, src2 string) {
	t.Helper()
	src1, src2 = t.TempDir(), t.TempDir()
	treetest.Write(t, src1, map[string][]byte{
		"a.txt": random(100), "b.log": random(200), "sub/c.bin": random(3000), "sub/d.log": random(50),
		"cache/x.bin": random(999), "e.md": random(7),
	})
	if err := os.Link(filepath.Join(src1, "sub/c.bin"), filepath.Join(src1, "sub/hard")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.txt", filepath.Join(src1, "link")); err != nil {
		t.Fatal(err)
	}
	treetest.Write(t, src2, map[string][]byte{
		"readme.md": random(10), "x.txt": random(20), "notes/n.md": random(30), "notes/y.txt": random(40),
		"cache/z.md": random(5), "other.log": random(60),
	})
	return src1, src2
}

// waitEstimate polls the estimate of config id until it is done or failed.
func waitEstimate(t *testing.T, c *client, id string) map[string]any {
	t.Helper()
	var last map[string]any
	testenv.EventuallyWithin(t, 30*time.Second, "the estimate of config "+id, func() bool {
		r := c.JSON("GET", "/api/configs/"+id+"/estimate", nil)
		want(t, r, http.StatusOK)
		last = r.Body
		s := last["status"]
		return s == "done" || s == "failed"
	})
	return last
}

func checkEstimate(t *testing.T, what string, got map[string]any, files, dirs, bytes int) {
	t.Helper()
	if got["status"] != "done" || got["files"] != float64(files) || got["dirs"] != float64(dirs) ||
		got["bytes"] != float64(bytes) || got["issues"] != float64(0) {
		t.Errorf("%s: got %v; want done, %d files, %d dirs, %d bytes, no issues", what, got, files, dirs, bytes)
	}
}

// TestEstimateFromTheAgentsScan: the size estimate of a saved configuration comes
// from its agent's real daemon scanning the sources with each source's own patterns:
// exact files and bytes of a generated tree. Asked while the agent has never
// connected, it waits with a note and runs when the agent comes; asked again after
// an edit it follows the edit (symbolic links followed); a missing source fails it
// with the reason; an agent offline for an hour gets a note with when it was last
// seen. Another user's configuration is 404 for both endpoints.
func TestEstimateFromTheAgentsScan(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := start(t, db)
		alice := e.Client()
		alice.Register("alice@example.com")
		agentID, key, _ := alice.CreateAgent("alpha")
		src1, src2 := estimateTree(t)
		body := with(goodConfig(agentID), "sources", []map[string]any{
			{"path": src1, "excludePatterns": []string{"*.log", "cache/"}},
			{"path": src2, "includePatterns": []string{"*.md"}},
		})
		r := alice.JSON("POST", "/api/configs", body)
		want(t, r, http.StatusCreated)
		id := r.Body["id"].(string)

		r = alice.JSON("GET", "/api/configs/"+id+"/estimate", nil)
		want(t, r, http.StatusNotFound)
		if !strings.Contains(r.ErrMessage(), "no size estimate") {
			t.Errorf("estimate before any asked: %q", r.ErrMessage())
		}

		// The agent has never connected: the estimate waits, and says why.
		r = alice.JSON("POST", "/api/configs/"+id+"/estimate", nil)
		want(t, r, http.StatusAccepted)
		if r.Body["status"] != "pending" || !strings.Contains(r.Body["note"].(string), `agent "alpha" has never connected`) {
			t.Errorf("estimate of an agent never connected: %v", r.Body)
		}

		// Its daemon comes: the estimate runs.
		ctx, cancel := context.WithCancel(context.Background())
		d := &agent.Daemon{Runner: agentRunner(t, e, key), Heartbeat: 100 * time.Millisecond}
		done := make(chan struct{})
		go func() { defer close(done); _ = d.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		got := waitEstimate(t, alice, id)
		checkEstimate(t, "estimate", got, 7, 5, 3152)
		if got["note"] != nil || got["startedAt"] == nil || got["finishedAt"] == nil {
			t.Errorf("finished estimate: %v", got)
		}

		// Asked again after an edit: the scan follows symbolic links now.
		r = alice.JSON("PUT", "/api/configs/"+id, with(body, "options.followSymlinks", true))
		want(t, r, http.StatusOK)
		r = alice.JSON("POST", "/api/configs/"+id+"/estimate", nil)
		want(t, r, http.StatusAccepted)
		if r.Body["note"] != nil {
			t.Errorf("estimate of an online agent has a note: %v", r.Body)
		}
		checkEstimate(t, "estimate following links", waitEstimate(t, alice, id), 8, 5, 3252)

		// A source that does not exist fails the estimate with the agent's reason.
		r = alice.JSON("PUT", "/api/configs/"+id, with(body, "sources", []map[string]any{{"path": filepath.Join(src1, "gone")}}))
		want(t, r, http.StatusOK)
		r = alice.JSON("POST", "/api/configs/"+id+"/estimate", nil)
		want(t, r, http.StatusAccepted)
		got = waitEstimate(t, alice, id)
		if got["status"] != "failed" || !strings.Contains(got["error"].(string), "does not exist") {
			t.Errorf("estimate of a missing source: %v", got)
		}

		// An agent offline for an hour: the estimate waits with the time it was last seen.
		bravoID, _, _ := alice.CreateAgent("bravo")
		if err := e.App.Store.RecordHeartbeat(context.Background(), bravoID, store.AgentHeartbeat{Time: time.Now().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		r = alice.JSON("POST", "/api/configs", with(body, "name", "On bravo", "agentId", bravoID))
		want(t, r, http.StatusCreated)
		r = alice.JSON("POST", "/api/configs/"+r.Body["id"].(string)+"/estimate", nil)
		want(t, r, http.StatusAccepted)
		if note, _ := r.Body["note"].(string); r.Body["status"] != "pending" || !strings.Contains(note, `agent "bravo" is offline (last seen `) ||
			!strings.Contains(note, "the estimate runs when it is back") {
			t.Errorf("estimate of an offline agent: %v", r.Body)
		}

		bob := e.Client()
		bob.Register("bob@example.com")
		for _, m := range []string{"GET", "POST"} {
			r = bob.JSON(m, "/api/configs/"+id+"/estimate", nil)
			want(t, r, http.StatusNotFound)
		}
		// Bob's asking changed nothing.
		r = alice.JSON("GET", "/api/configs/"+id+"/estimate", nil)
		want(t, r, http.StatusOK)
		if r.Body["status"] != "failed" {
			t.Errorf("alice's estimate after bob's tries: %v", r.Body)
		}
	})
}
