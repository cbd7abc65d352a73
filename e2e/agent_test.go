package e2e

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/agent"
	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/testenv"
)

// TestAgentsEndToEnd: a server on PostgreSQL with an S3 destination and two enrolled
// agent daemons. Agent A backs a tree up on demand, the archive lands at the seed's key,
// agent B can obtain no URL for A's objects, and a restore of A's run on B reproduces
// the tree byte for byte.
func TestAgentsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	t.Parallel()
	app := startApp(t, "--run-stale-after", "15s")
	w := app.w
	destID, s3dest := app.s3Destination("test s3")

	// Two agents, enrolled and running.
	a, b := app.enroll("agent A"), app.enroll("agent B")

	// A tree on A, a config for A, and "run now".
	src := t.TempDir()
	files := map[string][]byte{"docs/report.txt": []byte("quarterly numbers\n"), "docs/ünïcødé name.md": []byte("# hi\n"),
		"empty": nil, "bin/blob": make([]byte, 3<<20)}
	rand.Read(files["bin/blob"])
	writeTree(t, src, files)
	var cfg struct {
		ID string `json:"id"`
	}
	w.do("POST", "/api/configs", map[string]any{"name": "home", "enabled": true, "executionMode": "agent", "agentId": a.id,
		"sources": []map[string]any{{"path": src}}, "destination": map[string]string{"destinationId": destID},
		"options": map[string]any{"type": "full", "compression": "zstd", "encryption": false}}, &cfg)
	var queued backupLog
	w.do("POST", "/api/backups/execute/"+cfg.ID, nil, &queued)
	var run backupLog
	testenv.EventuallyWithin(t, 2*time.Minute, "the run to complete", func() bool {
		w.do("GET", "/api/backups/"+queued.ID, nil, &run)
		if run.Status == "failed" || run.Status == "cancelled" {
			t.Fatalf("run %s: %s: %v", run.ID, run.Status, run.Error)
		}
		return run.Status == "completed"
	})

	// The object at the seed's key.
	var user struct {
		ID string `json:"id"`
	}
	w.do("GET", "/api/profile", nil, &user)
	keyRE := regexp.MustCompile(`^users/` + regexp.QuoteMeta(user.ID) + `/agents/` + regexp.QuoteMeta(a.id) +
		`/configs/` + regexp.QuoteMeta(cfg.ID) + `/backup-\d{4}-\d{2}-\d{2}-\d{6}\.tar\.zst$`)
	if !keyRE.MatchString(run.ObjectKey) {
		t.Errorf("object key %q does not follow the seed's pattern", run.ObjectKey)
	}
	ctx := context.Background()
	if o, err := s3dest.Stat(ctx, run.ObjectKey); err != nil || o.Size == 0 {
		t.Errorf("archive %s in S3: %+v, %v", run.ObjectKey, o, err)
	}

	// Agent B gets no URL for A's config or run.
	cb, err := agent.NewClient(agent.ClientOptions{Server: app.base, Key: b.key, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	forbidden := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, agent.ErrForbidden) && !errors.Is(err, agent.ErrNotFound) {
			t.Errorf("agent B, %s: got %v, want 403 or 404", what, err)
		}
	}
	t.Run("B cannot download A's run unless a restore of it is assigned to B", func(t *testing.T) {
		_, err := cb.Download(ctx, run.ID, nil)
		forbidden("download of A's run", err)
	})
	_, err = cb.BackupStart(ctx, agentproto.BackupStartRequest{ConfigID: cfg.ID})
	forbidden("backup/start of A's config", err)
	_, err = cb.BackupParts(ctx, agentproto.PartsRequest{RunID: run.ID, Object: agentproto.ObjectArchive, PartNumbers: []int{1}})
	forbidden("part URLs of A's run", err)
	_, err = cb.BackupComplete(ctx, agentproto.BackupCompleteRequest{RunID: run.ID, Status: agentproto.StatusFailed})
	forbidden("completing A's run", err)

	// Restoring A's run on B (asked by the user) reproduces the tree byte for byte.
	dst := app.restore(run.ID, b.id, 2*time.Minute)
	if diff := sameTree(readTree(t, filepath.Join(dst, strings.TrimPrefix(src, "/"))), files); diff != "" {
		t.Errorf("the tree restored on B differs from the source: %s", diff)
	}

	t.Run("SIGKILL mid-upload", func(t *testing.T) {
		// A slow run: 24 MiB of random data at 512 KB/s.
		big := t.TempDir()
		blob := make([]byte, 24<<20)
		rand.Read(blob)
		os.WriteFile(filepath.Join(big, "big.bin"), blob, 0o644)
		var cfg2 struct {
			ID string `json:"id"`
		}
		w.do("POST", "/api/configs", map[string]any{"name": "big", "enabled": true, "executionMode": "agent", "agentId": a.id,
			"sources": []map[string]any{{"path": big}}, "destination": map[string]string{"destinationId": destID},
			"options": map[string]any{"type": "full", "compression": "none", "bandwidth": 512}}, &cfg2)
		var q backupLog
		w.do("POST", "/api/backups/execute/"+cfg2.ID, nil, &q)
		var r backupLog
		testenv.EventuallyWithin(t, 2*time.Minute, "bytes uploaded", func() bool {
			w.do("GET", "/api/backups/"+q.ID, nil, &r)
			return r.Status == "running" && r.BytesTransferred > 0
		})
		a.p.kill()
		w.do("GET", "/api/backups/"+q.ID, nil, &r)
		if r.Status == "completed" {
			t.Fatalf("a run whose agent was killed is completed")
		}
		ups, err := s3dest.ListUploads(ctx, "")
		if err != nil || len(ups) == 0 {
			t.Errorf("no incomplete multipart upload while the killed run is open: %v, %v", ups, err)
		}
		// The server's reaper fails the silent run and aborts its uploads once it has
		// been silent for --run-stale-after (15 s here).
		testenv.EventuallyWithin(t, 3*time.Minute, "the reaper to fail the run", func() bool {
			w.do("GET", "/api/backups/"+q.ID, nil, &r)
			return r.Status == "failed"
		})
		testenv.EventuallyWithin(t, time.Minute, "the upload aborted", func() bool {
			ups, err := s3dest.ListUploads(ctx, "")
			return err == nil && len(ups) == 0
		})
		a.p = start(t, "agent A again", cleanEnv(), app.agentBin, "run", "--config-dir", a.dir)
		var q2 backupLog
		w.do("POST", "/api/backups/execute/"+cfg2.ID, nil, &q2)
		testenv.EventuallyWithin(t, 3*time.Minute, "the next run to complete", func() bool {
			w.do("GET", "/api/backups/"+q2.ID, nil, &r)
			return r.Status == "completed"
		})

		// Killed and started again at once: the restarted agent's first heartbeat
		// settles the dead run, well before the reaper would (15 s of silence).
		var q3 backupLog
		w.do("POST", "/api/backups/execute/"+cfg2.ID, nil, &q3)
		testenv.EventuallyWithin(t, 2*time.Minute, "bytes uploaded", func() bool {
			w.do("GET", "/api/backups/"+q3.ID, nil, &r)
			return r.Status == "running" && r.BytesTransferred > 0
		})
		a.p.kill()
		a.p = start(t, "agent A restarted", cleanEnv(), app.agentBin, "run", "--config-dir", a.dir)
		testenv.EventuallyWithin(t, time.Minute, "the restarted agent's run to be failed", func() bool {
			w.do("GET", "/api/backups/"+q3.ID, nil, &r)
			return r.Status != "running"
		})
		if msg := fmt.Sprint(r.Error); r.Status != "failed" || !strings.Contains(msg, "the agent restarted during the backup") {
			t.Errorf("run of the killed and restarted agent: %s %s; want failed: the agent restarted during the backup", r.Status, msg)
		}
		testenv.EventuallyWithin(t, time.Minute, "the upload aborted", func() bool {
			ups, err := s3dest.ListUploads(ctx, "")
			return err == nil && len(ups) == 0
		})
	})
}
