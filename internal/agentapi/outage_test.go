package agentapi_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/store"
)

// downStore is a store whose database can be made unreachable: while down, the calls
// an agent's requests and the reaper make fail as pgx's do when PostgreSQL is stopped.
type downStore struct {
	store.Store
	down atomic.Bool
}

func (s *downStore) err() error {
	if s.down.Load() {
		return &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	return nil
}

func (s *downStore) GetAgentByKeyHash(ctx context.Context, h string) (store.Agent, error) {
	if err := s.err(); err != nil {
		return store.Agent{}, err
	}
	return s.Store.GetAgentByKeyHash(ctx, h)
}

func (s *downStore) StaleRuns(ctx context.Context, before time.Time) ([]store.Run, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.StaleRuns(ctx, before)
}

// A database outage: the agent API answers 503 (not 500), and once the database is
// back the reaper does not fail a run whose progress could not be recorded during the
// outage; only silence after the outage counts.
func TestDatabaseOutageSparesRuns(t *testing.T) {
	ds := &downStore{Store: openSQLite(t)}
	e := newEnv(t, ds, false)
	ctx := context.Background()
	u := e.user("u@example.com")
	a := e.agent(u, "a")
	cfg := e.config(a, "", `{"type":"full"}`)
	start := a.startAndUpload(t, cfg.ID)

	e.clock.Add(5 * time.Minute)
	ds.down.Store(true)
	code, msg := a.call("POST", agentproto.PathBackupProgress, agentproto.Progress{RunID: start.RunID}, nil)
	wantStatus(t, "progress while the database is down", code, msg, http.StatusServiceUnavailable)
	if n, _ := e.api.Runs().Reap(ctx); n != 0 {
		t.Errorf("Reap while the database is down = %d; want 0", n)
	}

	e.clock.Add(6 * time.Minute) // 11 min after the last recorded progress
	ds.down.Store(false)
	if n, err := e.api.Runs().Reap(ctx); err != nil || n != 0 {
		t.Fatalf("Reap 6 min after the outage = %d, %v; want 0 (the outage kept the progress out)", n, err)
	}
	if run := e.run(start.RunID); run.Status != agentproto.StatusRunning {
		t.Fatalf("run after the outage: %s, want running", run.Status)
	}
	e.clock.Add(5 * time.Minute) // silent for 11 min since the outage
	if n, err := e.api.Runs().Reap(ctx); err != nil || n != 1 {
		t.Fatalf("Reap 11 min after the outage = %d, %v; want 1", n, err)
	}
	if run := e.run(start.RunID); run.Status != agentproto.StatusFailed || !strings.Contains(string(run.Errors), "agent stopped reporting") {
		t.Errorf("run silent after the outage: %s %s, want failed: agent stopped reporting", run.Status, run.Errors)
	}
}
