package servertest

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/backapp/backapp/internal/server"
	"github.com/backapp/backapp/internal/store"
)

// SchedClock is an injected clock whose After waiters fire when it is advanced, for
// the scheduler's loop.
type SchedClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []schedWaiter
	waiting chan struct{} // signalled on every After
}

type schedWaiter struct {
	at time.Time
	ch chan time.Time
}

// NewSchedClock returns a SchedClock at now.
func NewSchedClock(now time.Time) *SchedClock {
	return &SchedClock{now: now, waiting: make(chan struct{}, 100)}
}

// Now is the clock's time.
func (c *SchedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After is time.After on the clock: it fires when Advance passes now+d.
func (c *SchedClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, schedWaiter{c.now.Add(d), ch})
	select {
	case c.waiting <- struct{}{}:
	default:
	}
	return ch
}

// Advance moves the clock and fires the waiters now due.
func (c *SchedClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// WaitForWaiter blocks until the scheduler's loop waits on the clock again.
func (c *SchedClock) WaitForWaiter(t *testing.T) {
	t.Helper()
	select {
	case <-c.waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the scheduler never waited on the clock")
	}
}

// RunsEnv is a server on a SchedClock; started with serve it runs through Serve, so
// its background jobs (the scheduler) run too.
type RunsEnv struct {
	T     *testing.T
	App   *server.App
	Base  string
	Clock *SchedClock
}

// StartRuns starts a server on databaseURL ("" for SQLite) on clock; see RunsEnv.
func StartRuns(t *testing.T, databaseURL string, clock *SchedClock, serve bool) *RunsEnv {
	t.Helper()
	return StartRunsWith(t, databaseURL, clock, serve)
}

// StartRunsWith is StartRuns with options changed by tweak.
func StartRunsWith(t *testing.T, databaseURL string, clock *SchedClock, serve bool, tweak ...func(*server.Options)) *RunsEnv {
	t.Helper()
	cfg, ln := listen(t, databaseURL)
	logs := &LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	opt := server.Options{PasswordCost: bcrypt.MinCost, Now: clock.Now, SchedulerAfter: clock.After}
	for _, f := range tweak {
		f(&opt)
	}
	app, err := server.Open(context.Background(), cfg, log, opt)
	if err != nil {
		t.Fatal(err)
	}
	e := &RunsEnv{T: t, App: app, Base: cfg.BaseURL, Clock: clock}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	if serve {
		go func() { done <- app.Serve(ctx, ln) }()
	} else {
		srv := &http.Server{Handler: app.Handler()}
		go func() { _ = srv.Serve(ln); done <- nil }()
		go func() { <-ctx.Done(); _ = srv.Close() }()
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		app.Close()
	})
	return e
}

// Client returns a new client of e's server, signed out.
func (e *RunsEnv) Client() *Client { return NewClient(e.T, e.Base) }

// MkScheduled stores an enabled config of agentID with a schedule (cron "" for none)
// and options, created at the clock's time.
func (e *RunsEnv) MkScheduled(userID, agentID, name, cron, options string) store.BackupConfig {
	e.T.Helper()
	now := e.Clock.Now()
	c := store.BackupConfig{UserID: userID, Name: name, Enabled: true, ExecutionMode: "agent", AgentID: agentID,
		Sources:     json.RawMessage(`[{"path":"/srv"}]`),
		Destination: json.RawMessage(`{"destinationId":""}`),
		Options:     json.RawMessage(options),
		CreatedAt:   now, UpdatedAt: now}
	if cron != "" {
		c.Schedule = json.RawMessage(`{"cronExpression":"` + cron + `","timezone":"Europe/Berlin"}`)
	}
	if err := e.App.Store.CreateConfig(context.Background(), &c); err != nil {
		e.T.Fatal(err)
	}
	return c
}

// RunsOf lists the runs of configID, newest first.
func (e *RunsEnv) RunsOf(configID string) []store.Run {
	e.T.Helper()
	rs, err := e.App.Store.ListRuns(context.Background(), store.RunFilter{ConfigID: configID, Limit: 1000})
	if err != nil {
		e.T.Fatal(err)
	}
	return rs
}

// Finish ends r with status at the clock's time.
func (e *RunsEnv) Finish(r store.Run, status string) {
	e.T.Helper()
	now := e.Clock.Now()
	r.Status, r.EndTime = status, &now
	if err := e.App.Store.UpdateRun(context.Background(), &r); err != nil {
		e.T.Fatal(err)
	}
}

// LateAlerts lists userID's alerts of the late rule.
func (e *RunsEnv) LateAlerts(userID string) []store.Alert {
	e.T.Helper()
	as, _, err := e.App.Store.ListAlerts(context.Background(), store.AlertFilter{UserID: userID, Rule: "late"})
	if err != nil {
		e.T.Fatal(err)
	}
	var out []store.Alert
	for _, a := range as {
		if a.Rule == "late" {
			out = append(out, a)
		}
	}
	return out
}

// RegisterID registers c as email and returns the new user's id.
func RegisterID(t *testing.T, c *Client, email string) string {
	t.Helper()
	c.Register(email)
	return UserID(t, c)
}

// MkRun stores a run of c with status, started at the clock's time.
func (e *RunsEnv) MkRun(c store.BackupConfig, status string) store.Run {
	e.T.Helper()
	r := store.Run{ConfigID: c.ID, UserID: c.UserID, AgentID: c.AgentID, StartTime: e.Clock.Now(), Status: status,
		Errors: json.RawMessage(`[{"path":"","message":"disk full"}]`)}
	if err := e.App.Store.CreateRun(context.Background(), &r); err != nil {
		e.T.Fatal(err)
	}
	return r
}

// AddRun stores a finished run of c with a known outcome, duration and size.
func (e *RunsEnv) AddRun(c store.BackupConfig, status string, start time.Time, took time.Duration, dest string, archive, manifest int64) store.Run {
	e.T.Helper()
	ctx := context.Background()
	r := store.Run{ConfigID: c.ID, UserID: c.UserID, AgentID: c.AgentID, StartTime: start, Status: status}
	if err := e.App.Store.CreateRun(ctx, &r); err != nil {
		e.T.Fatal(err)
	}
	if status == "running" || status == "queued" {
		return r
	}
	end := start.Add(took)
	ms := took.Milliseconds()
	r.EndTime, r.DurationMS, r.DestinationID, r.ArchiveSize, r.ManifestSize = &end, &ms, dest, archive, manifest
	if err := e.App.Store.UpdateRun(ctx, &r); err != nil {
		e.T.Fatal(err)
	}
	return r
}
