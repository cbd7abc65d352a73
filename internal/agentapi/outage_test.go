package agentapi_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/backapp/backapp/internal/agentapi"
	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/restores"
	"github.com/backapp/backapp/internal/store"
)

// downStore is a store whose database can be made unreachable: while down, the calls
// an agent's requests and the reaper make fail as pgx's do when PostgreSQL is stopped.
type downStore struct {
	store.Store
	down atomic.Bool
	// downAfterStart takes the database down as soon as a restore is marked running:
	// the rest of that heartbeat fails.
	downAfterStart atomic.Bool
	// runsDown fails reading runs only (the passphrase of a restore's backup).
	runsDown atomic.Bool
	// identityDown fails reading restores' identities only.
	identityDown atomic.Bool
}

func (s *downStore) RestoreIdentity(ctx context.Context, id string, now time.Time) ([]byte, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	if s.identityDown.Load() {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	return s.Store.RestoreIdentity(ctx, id, now)
}

func (s *downStore) GetRun(ctx context.Context, id string) (store.Run, error) {
	if err := s.err(); err != nil {
		return store.Run{}, err
	}
	if s.runsDown.Load() {
		return store.Run{}, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	return s.Store.GetRun(ctx, id)
}

func (s *downStore) StartRestore(ctx context.Context, id string, at time.Time) error {
	if err := s.err(); err != nil {
		return err
	}
	err := s.Store.StartRestore(ctx, id, at)
	if err == nil && s.downAfterStart.Load() {
		s.down.Store(true)
	}
	return err
}

func (s *downStore) TouchRestores(ctx context.Context, agentID string, ids []string, at time.Time) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.TouchRestores(ctx, agentID, ids, at)
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

// The database fails right after a heartbeat marks a restore running, so the
// heartbeat answers 503 without the command: the restore would stay "running" on a
// server whose agent never got it (e2e TestDatabaseOutage flaked so under load). The
// agent's next heartbeat, which does not list the restore, is handed it again, as it
// was asked for; once the agent lists it, it is not handed out again. An agent too old
// to list its restores gets one once.
func TestRestoreHandOutLostInOutage(t *testing.T) {
	ds := &downStore{Store: openSQLite(t)}
	e := newEnv(t, ds, false)
	ctx := context.Background()
	u := e.user("u@example.com")
	a, old := e.agent(u, "a"), e.agent(u, "old")
	cfg := e.config(a, "", `{"type":"full"}`)
	run := e.completedRun(cfg, a, false)
	mk := func(ag *agent) string {
		r := store.Restore{UserID: u.ID, RunID: run.ID, AgentID: ag.ID, TargetDir: "/restore", UnportableNames: store.UnportableSkip,
			CreatedAt: e.clock.Now()}
		if err := e.st.CreateRestore(ctx, &r); err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	id, ofOld := mk(a), mk(old)
	feats := []string{agentproto.FeatureReportRestores}

	ds.downAfterStart.Store(true)
	code, msg := a.call("POST", agentproto.PathHeartbeat, agentproto.HeartbeatRequest{Features: feats}, nil)
	wantStatus(t, "heartbeat during which the database goes down", code, msg, http.StatusServiceUnavailable)
	ds.downAfterStart.Store(false)
	ds.down.Store(false)
	if got := e.restore(id); got.Status != store.RestoreRunning {
		t.Fatalf("restore after the failed heartbeat: %s, want running (marked before the database went down)", got.Status)
	}

	e.clock.Add(time.Second)
	cmds := a.heartbeat(t, agentproto.HeartbeatRequest{Features: feats})
	if len(cmds) != 1 || cmds[0].Type != agentproto.CommandRestore || cmds[0].Restore == nil || cmds[0].Restore.RestoreID != id ||
		cmds[0].Restore.TargetDir != "/restore" || cmds[0].Restore.UnportableNames != store.UnportableSkip {
		t.Fatalf("heartbeat after the outage, not listing the restore: commands %+v; want the restore again", cmds)
	}
	e.clock.Add(time.Second)
	if cmds := a.heartbeat(t, agentproto.HeartbeatRequest{Features: feats, Restores: []string{id}}); len(cmds) != 0 {
		t.Errorf("heartbeat listing the restore: commands %+v, want none", cmds)
	}
	// Acknowledged: a heartbeat without it (the agent finished it and its report is on
	// the way, or it died) does not get it again; silence is the reaper's.
	e.clock.Add(time.Second)
	if cmds := a.heartbeat(t, agentproto.HeartbeatRequest{Features: feats}); len(cmds) != 0 {
		t.Errorf("heartbeat after the agent acknowledged the restore: commands %+v, want none", cmds)
	}

	if cmds := old.heartbeat(t, agentproto.HeartbeatRequest{}); len(cmds) != 1 || cmds[0].Restore == nil || cmds[0].Restore.RestoreID != ofOld {
		t.Fatalf("old agent's commands: %+v, want its restore", cmds)
	}
	e.clock.Add(time.Second)
	if cmds := old.heartbeat(t, agentproto.HeartbeatRequest{}); len(cmds) != 0 {
		t.Errorf("old agent's second heartbeat: commands %+v, want none", cmds)
	}
}

// The database fails while a heartbeat reads the passphrase of an encrypted restore's
// backup: the heartbeat answers 503, not a restore command without its passphrase
// (which the agent would fail with "no key"); the restore is handed out later with
// it, whether the failure came before the hand-out (still queued) or on handing it
// out again (running, unacknowledged).
func TestRestorePassphraseNotLostInOutage(t *testing.T) {
	ds := &downStore{Store: openSQLite(t)}
	e := newEnv(t, ds, false)
	ctx := context.Background()
	u := e.user("u@example.com")
	a := e.agent(u, "a")
	cfg := e.config(a, "", `{"type":"full","encryption":true,"passphrase":"correct horse"}`)
	run := e.completedRun(cfg, a, true)
	rr := store.Restore{UserID: u.ID, RunID: run.ID, AgentID: a.ID, TargetDir: "/restore", CreatedAt: e.clock.Now()}
	if err := e.st.CreateRestore(ctx, &rr); err != nil {
		t.Fatal(err)
	}
	feats := []string{agentproto.FeatureReportRestores}

	ds.runsDown.Store(true)
	code, msg := a.call("POST", agentproto.PathHeartbeat, agentproto.HeartbeatRequest{Features: feats}, nil)
	wantStatus(t, "heartbeat while the backup cannot be read", code, msg, http.StatusServiceUnavailable)
	if got := e.restore(rr.ID); got.Status != store.RestoreQueued {
		t.Errorf("restore after the failed heartbeat: %s, want queued (not handed out)", got.Status)
	}
	ds.runsDown.Store(false)
	e.clock.Add(time.Second)
	cmds := a.heartbeat(t, agentproto.HeartbeatRequest{Features: feats})
	if len(cmds) != 1 || cmds[0].Restore == nil || cmds[0].Restore.RestoreID != rr.ID || cmds[0].Restore.Passphrase != "correct horse" {
		t.Fatalf("heartbeat after the outage: commands %+v; want the restore with its passphrase", cmds)
	}

	// The answer is lost; the heartbeat that would hand it out again meets the outage.
	e.clock.Add(time.Second)
	ds.runsDown.Store(true)
	code, msg = a.call("POST", agentproto.PathHeartbeat, agentproto.HeartbeatRequest{Features: feats}, nil)
	wantStatus(t, "heartbeat handing the restore out again while the backup cannot be read", code, msg, http.StatusServiceUnavailable)
	ds.runsDown.Store(false)
	e.clock.Add(time.Second)
	cmds = a.heartbeat(t, agentproto.HeartbeatRequest{Features: feats})
	if len(cmds) != 1 || cmds[0].Restore == nil || cmds[0].Restore.RestoreID != rr.ID || cmds[0].Restore.Passphrase != "correct horse" {
		t.Fatalf("heartbeat after the second outage: commands %+v; want the restore again with its passphrase", cmds)
	}
}

// A restore whose hand-out was lost (the agent never got it) and which the user then
// cancels is cancelled on the agent's next heartbeat that does not list it, not sent
// a cancel the agent cannot know and left running until the reaper fails it. One the
// agent lists gets the cancel command.
func TestCancelRestoreAgentNeverGot(t *testing.T) {
	ds := &downStore{Store: openSQLite(t)}
	e := newEnv(t, ds, false)
	ctx := context.Background()
	u := e.user("u@example.com")
	a := e.agent(u, "a")
	cfg := e.config(a, "", `{"type":"full"}`)
	run := e.completedRun(cfg, a, false)
	mk := func() string {
		r := store.Restore{UserID: u.ID, RunID: run.ID, AgentID: a.ID, TargetDir: "/restore", CreatedAt: e.clock.Now()}
		if err := e.st.CreateRestore(ctx, &r); err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	feats := []string{agentproto.FeatureReportRestores}

	lost := mk()
	ds.downAfterStart.Store(true)
	code, msg := a.call("POST", agentproto.PathHeartbeat, agentproto.HeartbeatRequest{Features: feats}, nil)
	wantStatus(t, "heartbeat during which the database goes down", code, msg, http.StatusServiceUnavailable)
	ds.downAfterStart.Store(false)
	ds.down.Store(false)
	held := mk()
	e.clock.Add(time.Second)
	cmds := a.heartbeat(t, agentproto.HeartbeatRequest{Features: feats})
	if len(cmds) != 2 {
		t.Fatalf("heartbeat after the outage: commands %+v; want both restores", cmds)
	}
	e.clock.Add(time.Second)
	// The agent got held only; the user cancels both before its next heartbeat.
	for _, id := range []string{lost, held} {
		if got, err := e.st.CancelRestore(ctx, id, e.clock.Now()); err != nil || got.Status != store.RestoreRunning || !got.CancelRequested {
			t.Fatalf("cancel %s: %+v, %v; want running with a cancel requested", id, got, err)
		}
	}
	e.clock.Add(time.Second)
	cmds = a.heartbeat(t, agentproto.HeartbeatRequest{Features: feats, Restores: []string{held}})
	if len(cmds) != 1 || cmds[0].Type != agentproto.CommandCancel || cmds[0].RunID != held {
		t.Errorf("heartbeat listing only %s: commands %+v; want its cancel alone", held, cmds)
	}
	if got := e.restore(lost); got.Status != store.RestoreCancelled || got.FinishedAt == nil {
		t.Errorf("restore the agent never got, after a heartbeat without it: %s (finished %v); want cancelled", got.Status, got.FinishedAt)
	}
	if got := e.restore(held); got.Status != store.RestoreRunning {
		t.Errorf("restore the agent runs: %s; want running until the agent reports", got.Status)
	}
}

// lockedBuffer is a log a server writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The age identity given for a restore of a backup encrypted to recipients goes with
// every hand-out until the agent acknowledges the restore: the answer of the first
// hand-out is lost (the database fails right after the restore is marked running),
// and the agent's next heartbeat, which does not list it, is handed it again with the
// identity (and again, when that answer is lost too). A database error reading the
// identity answers 503, not a command without it, whether the restore is still queued
// or handed out again. Once the agent lists the restore, the identity is erased. It
// is never logged.
func TestRestoreIdentityNotLostInOutage(t *testing.T) {
	ds := &downStore{Store: openSQLite(t)}
	var logs lockedBuffer
	var svc *restores.Service
	e := newEnv(t, ds, false, func(c *agentapi.Config) {
		var err error
		svc, err = restores.New(restores.Config{Store: ds, Destinations: c.Destinations, Keys: c.Keys, Now: c.Now})
		if err != nil {
			t.Fatal(err)
		}
		c.RestoreIdentity = svc.Identity
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ctx := context.Background()
	u := e.user("u@example.com")
	a := e.agent(u, "a")
	cfg := e.config(a, "", `{"type":"full"}`)
	run := e.completedRun(cfg, a, true)
	key, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	identity := key.String()
	rr, err := svc.Start(ctx, u, restores.Input{RunID: run.ID, AgentID: a.ID, TargetDir: "/restore", Identity: identity})
	if err != nil {
		t.Fatal(err)
	}
	feats := []string{agentproto.FeatureReportRestores}
	handedOut := func(what string) {
		t.Helper()
		cmds := a.heartbeat(t, agentproto.HeartbeatRequest{Features: feats})
		if len(cmds) != 1 || cmds[0].Restore == nil || cmds[0].Restore.RestoreID != rr.ID {
			t.Fatalf("%s: commands %+v; want the restore", what, cmds)
		}
		if cmds[0].Restore.Identity != identity {
			t.Fatalf("%s: the restore command carries identity %q; want the one given", what, cmds[0].Restore.Identity)
		}
	}
	failed := func(what string) {
		t.Helper()
		code, msg := a.call("POST", agentproto.PathHeartbeat, agentproto.HeartbeatRequest{Features: feats}, nil)
		wantStatus(t, what, code, msg, http.StatusServiceUnavailable)
		e.clock.Add(time.Second)
	}

	ds.identityDown.Store(true)
	failed("heartbeat while the identity cannot be read")
	ds.identityDown.Store(false)
	if got := e.restore(rr.ID); got.Status != store.RestoreQueued {
		t.Fatalf("restore after the failed heartbeat: %s, want queued (not handed out)", got.Status)
	}

	ds.downAfterStart.Store(true)
	failed("heartbeat during which the database goes down")
	ds.downAfterStart.Store(false)
	ds.down.Store(false)
	if got := e.restore(rr.ID); got.Status != store.RestoreRunning {
		t.Fatalf("restore after the lost hand-out: %s, want running", got.Status)
	}
	handedOut("heartbeat after the lost hand-out")
	e.clock.Add(time.Second)
	// That answer is lost too (the agent never saw it): handed out again, with it.
	handedOut("heartbeat after a second lost answer")
	e.clock.Add(time.Second)
	ds.identityDown.Store(true)
	failed("heartbeat handing the restore out again while the identity cannot be read")
	ds.identityDown.Store(false)
	handedOut("heartbeat after the identity could be read again")

	e.clock.Add(time.Second)
	if cmds := a.heartbeat(t, agentproto.HeartbeatRequest{Features: feats, Restores: []string{rr.ID}}); len(cmds) != 0 {
		t.Errorf("heartbeat listing the restore: commands %+v, want none", cmds)
	}
	if _, err := ds.Store.RestoreIdentity(ctx, rr.ID, e.clock.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the identity after the agent acknowledged the restore: %v; want it erased (ErrNotFound)", err)
	}
	if got, err := svc.Identity(ctx, rr.ID); got != "" || err != nil {
		t.Errorf("Identity after the acknowledgement = %q, %v; want none", got, err)
	}
	if l := logs.String(); strings.Contains(l, "AGE-SECRET-KEY") || !strings.Contains(l, "handed out again") {
		t.Errorf("the log holds the identity, or not the hand-outs again:\n%s", l)
	}
}
