package e2e

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/agent"
	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/testenv"
	"github.com/backapp/backapp/internal/testenv/faultproxy"
)

// outage is how long the database is down; the case is 120 s.
const outage = 120 * time.Second

// TestDatabaseOutage: the real server on a PostgreSQL cluster of the test's own, a
// real agent daemon, S3 through a fault proxy that slows transfers down. PostgreSQL
// is stopped for two minutes while a backup uploads and a restore downloads (both in
// the same outage, to keep the test's time down): the server answers 503, the agent
// keeps transferring and retries its calls, and once the database is back both the
// backup and the restore complete, and the backup restores identically. This is the
// suite's long test (about 2.5 minutes, mostly the outage); it runs in parallel with
// the others.
func TestDatabaseOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	t.Parallel()
	pg := startPGCluster(t)
	app := startAppOn(t, pg.URL(), "--run-stale-after", "4m")
	w := app.w
	var proxy *faultproxy.Proxy
	destID, _ := app.s3DestinationVia("slow s3", func(endpoint string) string {
		proxy = faultproxy.Start(t, endpoint, faultproxy.Config{Seed: 1})
		return proxy.URL()
	})
	slow := func() {
		if err := proxy.SetRules(
			faultproxy.Rule{Name: "slow-put", Match: faultproxy.PartUploads(), Probability: 1, Fault: faultproxy.Throttle{BytesPerSecond: 1 << 20}},
			faultproxy.Rule{Name: "slow-get", Match: faultproxy.Methods("GET"), Probability: 1, Fault: faultproxy.Throttle{BytesPerSecond: 512 << 10}},
		); err != nil {
			t.Fatal(err)
		}
	}
	slow()
	ag := app.enroll("agent")

	tree := func(sizes ...int) (string, map[string][]byte) {
		dir := t.TempDir()
		files := map[string][]byte{}
		for i, n := range sizes {
			b := make([]byte, n)
			rand.Read(b)
			files[string(rune('a'+i))+".bin"] = b
		}
		writeTree(t, dir, files)
		return dir, files
	}
	config := func(name, src string) string {
		var cfg struct {
			ID string `json:"id"`
		}
		w.do("POST", "/api/configs", map[string]any{"name": name, "enabled": true, "executionMode": "agent", "agentId": ag.id,
			"sources": []map[string]any{{"path": src}}, "destination": map[string]string{"destinationId": destID},
			"options": map[string]any{"type": "full", "compression": "zstd", "encryption": false}}, &cfg)
		return cfg.ID
	}
	run := func(configID string) string {
		var queued backupLog
		w.do("POST", "/api/backups/execute/"+configID, nil, &queued)
		return queued.ID
	}
	status := func(runID string) backupLog {
		var r backupLog
		w.do("GET", "/api/backups/"+runID, nil, &r)
		if r.Status == "failed" || r.Status == "cancelled" {
			t.Fatalf("run %s: %s: %v", r.ID, r.Status, r.Error)
		}
		return r
	}
	type restore struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	restoreStatus := func(id string) restore {
		var rs restore
		w.do("GET", "/api/restores/"+id, nil, &rs)
		if rs.Status == "failed" || rs.Status == "cancelled" {
			t.Fatalf("restore %s: %s: %s", rs.ID, rs.Status, rs.Error)
		}
		return rs
	}

	// A completed backup to restore during the outage.
	srcA, filesA := tree(8<<20, 8<<20, 8<<20)
	runA := run(config("restored during the outage", srcA))
	testenv.EventuallyWithin(t, 2*time.Minute, "the first backup", func() bool { return status(runA).Status == "completed" })

	// A backup and a restore under way, then the database goes down.
	srcB, filesB := tree(16<<20, 16<<20, 8<<20)
	runB := run(config("backed up during the outage", srcB))
	dst := t.TempDir()
	var rs restore
	w.do("POST", "/api/restores", map[string]any{"runId": runA, "agentId": ag.id, "targetDir": dst}, &rs)
	testenv.EventuallyWithin(t, time.Minute, "the backup and the restore to run", func() bool {
		return status(runB).Status == "running" && restoreStatus(rs.ID).Status == "running"
	})
	pg.Stop()
	down := time.Now()

	// While it is down the agent API says 503: "try again", not "broken".
	c, err := agent.NewClient(agent.ClientOptions{Server: app.base, Key: ag.key, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Heartbeat(context.Background(), agentproto.HeartbeatRequest{}, 0)
	var ae *agent.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable {
		t.Errorf("heartbeat while the database is down: %v; want status 503", err)
	}
	time.Sleep(time.Until(down.Add(outage))) // the outage itself, not a wait for something
	pg.Start()
	t.Logf("database down for %s", time.Since(down).Round(time.Second))

	testenv.EventuallyWithin(t, 3*time.Minute, "the backup and the restore to complete after the outage", func() bool {
		return status(runB).Status == "completed" && restoreStatus(rs.ID).Status == "completed"
	})
	if d := sameTree(readTree(t, filepath.Join(dst, strings.TrimPrefix(srcA, "/"))), filesA); d != "" {
		t.Errorf("restore during the outage: %s", d)
	}
	if err := proxy.SetRules(); err != nil {
		t.Fatal(err)
	}
	if d := sameTree(readTree(t, filepath.Join(app.restore(runB, ag.id, 2*time.Minute), strings.TrimPrefix(srcB, "/"))), filesB); d != "" {
		t.Errorf("backup made during the outage, restored: %s", d)
	}
}
