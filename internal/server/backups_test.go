package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/crypto/bcrypt"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/config"
	"github.com/backapp/backapp/internal/server"
	"github.com/backapp/backapp/internal/server/servertest"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/testenv"
)

// schedClock is an injected clock whose After waiters fire when it is advanced, for
// the scheduler's loop.
type schedClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []schedWaiter
	waiting chan struct{} // signalled on every After
}

type schedWaiter struct {
	at time.Time
	ch chan time.Time
}

func newSchedClock(now time.Time) *schedClock {
	return &schedClock{now: now, waiting: make(chan struct{}, 100)}
}

func (c *schedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *schedClock) After(d time.Duration) <-chan time.Time {
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
func (c *schedClock) Advance(d time.Duration) {
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

// waitForWaiter blocks until the scheduler's loop waits on the clock again.
func (c *schedClock) waitForWaiter(t *testing.T) {
	t.Helper()
	select {
	case <-c.waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the scheduler never waited on the clock")
	}
}

// runsEnv is a server on an injected clock; with serve it runs through Serve, so
// its background jobs (the scheduler) run too.
type runsEnv struct {
	T     *testing.T
	App   *server.App
	Base  string
	Clock *schedClock
}

func startRuns(t *testing.T, databaseURL string, clock *schedClock, serve bool) *runsEnv {
	t.Helper()
	return startRunsWith(t, databaseURL, clock, serve)
}

func startRunsWith(t *testing.T, databaseURL string, clock *schedClock, serve bool, tweak ...func(*server.Options)) *runsEnv {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	cfg := config.Register(fs)
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = databaseURL
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.BaseURL = "http://" + ln.Addr().String()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &servertest.LogBuffer{}
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
	e := &runsEnv{T: t, App: app, Base: cfg.BaseURL, Clock: clock}
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

func (e *runsEnv) Client() *client { return servertest.NewClient(e.T, e.Base) }

// mkScheduled stores an enabled config of agentID with a schedule (cron "" for none)
// and options, created at the clock's time.
func (e *runsEnv) mkScheduled(userID, agentID, name, cron, options string) store.BackupConfig {
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

func (e *runsEnv) runsOf(configID string) []store.Run {
	e.T.Helper()
	rs, err := e.App.Store.ListRuns(context.Background(), store.RunFilter{ConfigID: configID, Limit: 1000})
	if err != nil {
		e.T.Fatal(err)
	}
	return rs
}

func (e *runsEnv) finish(r store.Run, status string) {
	e.T.Helper()
	now := e.Clock.Now()
	r.Status, r.EndTime = status, &now
	if err := e.App.Store.UpdateRun(context.Background(), &r); err != nil {
		e.T.Fatal(err)
	}
}

func (e *runsEnv) lateAlerts(userID string) []store.Alert {
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

// registerID registers c as email and returns the new user's id.
func registerID(t *testing.T, c *client, email string) string {
	t.Helper()
	c.Register(email)
	return userID(t, c)
}

// TestScheduledRunsByThemselves: a config scheduled every minute gets queued runs
// from the server's own scheduler loop as the (injected) clock moves, its agent is
// handed them by heartbeat, and a run still active at the next slot blocks a second.
func TestScheduledRunsByThemselves(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		clock := newSchedClock(time.Date(2026, 3, 2, 9, 0, 30, 0, time.UTC))
		e := startRuns(t, db, clock, true)
		c := e.Client()
		uid := registerID(t, c, "sched@example.com")
		agentID, key, _ := c.CreateAgent("box")
		c.Heartbeat(key, "")
		cfg := e.mkScheduled(uid, agentID, "every minute", "* * * * *", `{"type":"full"}`)
		clock.waitForWaiter(t) // the loop's first pass ran before the config existed, or saw no slot yet

		for minute := 1; minute <= 3; minute++ {
			clock.Advance(time.Minute)
			testenv.Eventually(t, fmt.Sprintf("run %d queued", minute), func() bool { return len(e.runsOf(cfg.ID)) == minute })
			clock.waitForWaiter(t)
			rs := e.runsOf(cfg.ID)
			newest := rs[0]
			if newest.Status != "queued" || newest.AgentID != agentID || newest.UserID != uid {
				t.Fatalf("minute %d: run %+v, want queued for the agent", minute, newest)
			}
			cmds := c.Heartbeat(key, "")
			if len(cmds) != 1 || cmds[0].Type != agentproto.CommandRun || cmds[0].RunID != newest.ID {
				t.Fatalf("minute %d: heartbeat commands %+v, want run %s", minute, cmds, newest.ID)
			}
			e.finish(newest, "completed")
		}

		// A run left running at the next slot: no second run, no late flag (it started).
		if err := e.App.Store.CreateRun(context.Background(), &store.Run{ConfigID: cfg.ID, UserID: uid, AgentID: agentID, StartTime: clock.Now(), Status: "running"}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
		clock.waitForWaiter(t)
		if got := len(e.runsOf(cfg.ID)); got != 4 {
			t.Errorf("runs after a slot with one running = %d, want 4 (no second active run)", got)
		}
		if a := e.lateAlerts(uid); len(a) != 0 {
			t.Errorf("late alerts = %+v, want none", a)
		}
	})
}

// TestScheduleCatchUp: while the agent is offline a scheduled run waits queued; the
// next slot flags it late with one alert, later slots add neither runs nor alerts,
// and when the agent comes back it gets that one run. Slots missed while the server
// was down collapse into one late run with an alert.
func TestScheduleCatchUp(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		clock := newSchedClock(time.Date(2026, 3, 29, 0, 30, 10, 0, time.UTC)) // Berlin's spring-forward night
		e := startRuns(t, db, clock, false)
		ctx := context.Background()
		c := e.Client()
		uid := registerID(t, c, "late@example.com")
		agentID, key, _ := c.CreateAgent("laptop") // never heartbeats: offline
		cfg := e.mkScheduled(uid, agentID, "hourly", "*/15 * * * *", `{}`)
		tick := func() {
			t.Helper()
			if leading, err := e.App.Scheduler.Tick(ctx); err != nil || !leading {
				t.Fatalf("Tick = %v, %v", leading, err)
			}
		}

		clock.Advance(15 * time.Minute) // 00:45:10, the slot at 00:45
		tick()
		rs := e.runsOf(cfg.ID)
		if len(rs) != 1 || rs[0].Status != "queued" {
			t.Fatalf("runs = %+v, want one queued", rs)
		}
		runID := rs[0].ID
		rec, _ := e.App.Store.GetRunRecord(ctx, runID)
		if rec.Late {
			t.Errorf("a run queued on time is late")
		}
		for range 4 { // four more slots while the agent is away
			clock.Advance(15 * time.Minute)
			tick()
		}
		if rs := e.runsOf(cfg.ID); len(rs) != 1 {
			t.Fatalf("runs after the agent missed slots = %d, want still 1", len(rs))
		}
		alerts := e.lateAlerts(uid)
		if len(alerts) != 1 || alerts[0].ConfigID != cfg.ID || !strings.Contains(alerts[0].Message, "hourly") {
			t.Fatalf("late alerts = %+v, want one for the config", alerts)
		}
		// It names the waiting run's own due time, not the slot that found it waiting.
		if !strings.Contains(alerts[0].Message, "due at 2026-03-29 00:45 UTC") {
			t.Errorf("late alert says %q, want the run's due time 00:45", alerts[0].Message)
		}
		r := c.JSON("GET", "/api/backups/"+runID, nil)
		want(t, r, http.StatusOK)
		if r.Body["late"] != true || r.Body["dueAt"] == nil {
			t.Errorf("details of the waiting run = %s, want late with dueAt", r.Raw)
		}
		r = c.JSON("GET", "/api/backups/logs?status=late", nil)
		if r.Body["total"] != float64(1) {
			t.Errorf("logs?status=late = %s, want the one run", r.Raw)
		}

		// The agent comes back: it gets the one late run, once.
		cmds := c.Heartbeat(key, "")
		if len(cmds) != 1 || cmds[0].RunID != runID {
			t.Fatalf("commands on return = %+v, want run %s", cmds, runID)
		}
		e.finish(e.runsOf(cfg.ID)[0], "completed")

		// The server is down for 3 hours: one late run for all the missed slots.
		clock.Advance(3 * time.Hour)
		tick()
		rs = e.runsOf(cfg.ID)
		if len(rs) != 2 {
			t.Fatalf("runs after downtime = %d, want 2", len(rs))
		}
		rec, _ = e.App.Store.GetRunRecord(ctx, rs[0].ID)
		if !rec.Late || rec.DueAt == nil || !rec.DueAt.Before(rs[0].StartTime.Add(-2*time.Hour)) {
			t.Errorf("run after downtime: late %v due %v, want late, due at the first missed slot", rec.Late, rec.DueAt)
		}
		// Still one open late alert for the config, counting the second occurrence.
		if a := e.lateAlerts(uid); len(a) != 1 || a[0].Occurrences != 2 {
			t.Errorf("late alerts = %+v, want one with two occurrences", a)
		}
	})
}

// TestLateWhileWaiting: a daily run whose agent is offline at its slot is flagged
// late, with one alert, once it has waited five minutes; no further slot is needed.
func TestLateWhileWaiting(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		clock := newSchedClock(time.Date(2026, 8, 3, 0, 59, 0, 0, time.UTC))
		e := startRuns(t, db, clock, false)
		ctx := context.Background()
		c := e.Client()
		uid := registerID(t, c, "daily@example.com")
		agentID, key, _ := c.CreateAgent("desktop")
		cfg := e.mkScheduled(uid, agentID, "daily", "0 3 * * *", `{}`) // 03:00 Berlin = 01:00 UTC
		tick := func() {
			t.Helper()
			if _, err := e.App.Scheduler.Tick(ctx); err != nil {
				t.Fatal(err)
			}
		}
		clock.Advance(70 * time.Second) // 01:00:10
		tick()
		rs := e.runsOf(cfg.ID)
		if len(rs) != 1 {
			t.Fatalf("runs = %d, want 1", len(rs))
		}
		clock.Advance(4 * time.Minute)
		tick()
		if n := len(e.lateAlerts(uid)); n != 0 {
			t.Errorf("late alerts after 4 minutes = %d, want 0", n)
		}
		clock.Advance(2 * time.Minute)
		tick()
		tick()
		if a := e.lateAlerts(uid); len(a) != 1 || !strings.Contains(a[0].Message, "daily") {
			t.Errorf("late alerts after 6 minutes = %+v, want one", a)
		}
		if rec, _ := e.App.Store.GetRunRecord(ctx, rs[0].ID); !rec.Late {
			t.Errorf("the waiting run is not flagged late")
		}
		if cmds := c.Heartbeat(key, ""); len(cmds) != 1 || cmds[0].RunID != rs[0].ID {
			t.Errorf("commands when the agent comes back = %+v, want the late run", cmds)
		}
	})
}

// TestTwoReplicasScheduleOnce: two servers on one PostgreSQL, both ticking every
// minute: exactly one leads, and every slot becomes exactly one run.
func TestTwoReplicasScheduleOnce(t *testing.T) {
	db := pgtest.New(t)
	clock := newSchedClock(time.Date(2026, 5, 4, 12, 0, 5, 0, time.UTC))
	a := startRuns(t, db, clock, false)
	b := startRuns(t, db, clock, false)
	ctx := context.Background()
	c := a.Client()
	uid := registerID(t, c, "replicas@example.com")
	agentID, key, _ := c.CreateAgent("box")
	c.Heartbeat(key, "")
	cfgs := []store.BackupConfig{
		a.mkScheduled(uid, agentID, "one", "* * * * *", `{}`),
		a.mkScheduled(uid, agentID, "two", "*/2 * * * *", `{}`),
	}
	for minute := 1; minute <= 6; minute++ {
		clock.Advance(time.Minute)
		var wg sync.WaitGroup
		var mu sync.Mutex
		leaders := 0
		for _, e := range []*runsEnv{a, b, a, b} {
			wg.Go(func() {
				leading, err := e.App.Scheduler.Tick(ctx)
				if err != nil {
					t.Errorf("Tick: %v", err)
				}
				if leading {
					mu.Lock()
					leaders++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if leaders != 2 { // the leader's two ticks
			t.Errorf("minute %d: %d leading ticks, want 2 (one replica leads)", minute, leaders)
		}
		for _, cfg := range cfgs {
			for _, r := range a.runsOf(cfg.ID) {
				if r.Status == "queued" {
					a.finish(r, "completed")
				}
			}
		}
	}
	for i, want := range []int{6, 3} {
		rs := a.runsOf(cfgs[i].ID)
		starts := map[time.Time]bool{}
		for _, r := range rs {
			starts[r.StartTime.Truncate(time.Minute)] = true
		}
		if len(rs) != want || len(starts) != want {
			t.Errorf("config %s: %d runs in %d distinct minutes, want %d", cfgs[i].Name, len(rs), len(starts), want)
		}
	}

	// The leader goes away: the other replica takes over at its next tick.
	leaderIsA, _ := a.App.Scheduler.Tick(ctx)
	leader, follower := a, b
	if !leaderIsA {
		leader, follower = b, a
	}
	leader.App.Scheduler.Release()
	if leading, err := follower.App.Scheduler.Tick(ctx); err != nil || !leading {
		t.Errorf("follower after the leader released: Tick = %v, %v; want leading", leading, err)
	}
}

// TestRunNowReachesAgent: "run now" on one replica wakes the agent's long-poll on
// that replica at once, and on another replica within a second (through
// LISTEN/NOTIFY, well before its 5-second re-check); cancel of a running run reaches
// it the same way.
func TestRunNowReachesAgent(t *testing.T) {
	db := pgtest.New(t)
	clock := newSchedClock(time.Now().UTC())
	a := startRuns(t, db, clock, false)
	b := startRuns(t, db, clock, false)
	user := a.Client()
	uid := registerID(t, user, "fast@example.com")
	agentID, key, _ := user.CreateAgent("box")
	cfg := a.mkScheduled(uid, agentID, "manual", "", `{}`)

	for _, tc := range []struct {
		name  string
		agent *runsEnv
		limit time.Duration
	}{{"same replica", a, time.Second}, {"other replica", b, time.Second}} {
		agentClient := tc.agent.Client()
		agentClient.Heartbeat(key, "") // online
		got := make(chan []agentproto.Command, 1)
		go func() { got <- agentClient.Heartbeat(key, "?wait=25s") }()
		time.Sleep(300 * time.Millisecond) // the long-poll is waiting
		start := time.Now()
		r := user.JSON("POST", "/api/backups/execute/"+cfg.ID, nil)
		want(t, r, http.StatusAccepted)
		select {
		case cmds := <-got:
			if len(cmds) != 1 || cmds[0].Type != agentproto.CommandRun || cmds[0].RunID != r.Body["id"] {
				t.Errorf("%s: commands %+v, want run %v", tc.name, cmds, r.Body["id"])
			}
			if d := time.Since(start); d > tc.limit {
				t.Errorf("%s: run now took %v to reach the agent, want at most %v", tc.name, d, tc.limit)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: the long-poll never answered", tc.name)
		}
		// Running, then cancelled: the long-poll hands out the cancel.
		run, err := a.App.Store.GetRun(context.Background(), r.Body["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		run.Status = "running"
		if err := a.App.Store.UpdateRun(context.Background(), &run); err != nil {
			t.Fatal(err)
		}
		go func() { got <- agentClient.Heartbeat(key, "?wait=25s") }()
		time.Sleep(300 * time.Millisecond)
		start = time.Now()
		want(t, user.JSON("POST", "/api/backups/"+run.ID+"/cancel", nil), http.StatusOK)
		select {
		case cmds := <-got:
			if len(cmds) != 1 || cmds[0].Type != agentproto.CommandCancel || cmds[0].RunID != run.ID {
				t.Errorf("%s: commands %+v, want cancel of %s", tc.name, cmds, run.ID)
			}
			if d := time.Since(start); d > tc.limit {
				t.Errorf("%s: cancel took %v to reach the agent, want at most %v", tc.name, d, tc.limit)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: the long-poll never answered the cancel", tc.name)
		}
		a.finish(run, "cancelled")
	}
}

// TestBackupsAPI: run now (202, 409 while active, offline agent named), cancel of a
// queued and of a running run, history with filters and paging, details; another
// user's runs are 404 and absent from lists; an administrator sees all.
func TestBackupsAPI(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		clock := newSchedClock(time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC))
		e := startRuns(t, db, clock, false)
		ctx := context.Background()
		admin := e.Client()
		admin.Register("admin@example.com")
		alice := e.Client()
		aliceID := registerID(t, alice, "alice@example.com")
		bob := e.Client()
		bobID := registerID(t, bob, "bob@example.com")
		aAgent, aKey, _ := alice.CreateAgent("alice-box")
		bAgent, _, _ := bob.CreateAgent("bob-box")
		aCfg := e.mkScheduled(aliceID, aAgent, "alice docs", "", `{}`)
		aCfg2 := e.mkScheduled(aliceID, aAgent, "alice mail", "", `{}`)
		bCfg := e.mkScheduled(bobID, bAgent, "bob docs", "", `{}`)

		// Offline agent: queued all the same, and the answer says so.
		r := alice.JSON("POST", "/api/backups/execute/"+aCfg.ID, nil)
		want(t, r, http.StatusAccepted)
		msg, _ := r.Body["message"].(string)
		if r.Body["status"] != "queued" || r.Body["agentOffline"] != true || !strings.Contains(msg, "offline") || r.Body["configName"] != "alice docs" {
			t.Errorf("execute with the agent offline = %s", r.Raw)
		}
		first, _ := r.Body["id"].(string)
		r = alice.JSON("POST", "/api/backups/execute/"+aCfg.ID, nil)
		want(t, r, http.StatusConflict)
		if !strings.Contains(r.ErrMessage(), "already") {
			t.Errorf("second execute: %s", r.Raw)
		}
		// Others' configs and runs do not exist for bob.
		want(t, bob.JSON("POST", "/api/backups/execute/"+aCfg.ID, nil), http.StatusNotFound)
		want(t, bob.JSON("GET", "/api/backups/"+first, nil), http.StatusNotFound)
		want(t, bob.JSON("POST", "/api/backups/"+first+"/cancel", nil), http.StatusNotFound)
		want(t, bob.JSON("GET", "/api/backups/not-a-run", nil), http.StatusNotFound)
		want(t, e.Client().JSON("GET", "/api/backups/logs", nil), http.StatusUnauthorized)
		if r := bob.JSON("GET", "/api/backups/logs", nil); r.Body["total"] != float64(0) {
			t.Errorf("bob's logs = %s, want none", r.Raw)
		}

		// Cancel while queued: cancelled at once.
		r = alice.JSON("POST", "/api/backups/"+first+"/cancel", nil)
		want(t, r, http.StatusOK)
		if r.Body["status"] != "cancelled" || r.Body["endTime"] == nil {
			t.Errorf("cancel queued = %s", r.Raw)
		}
		want(t, alice.JSON("POST", "/api/backups/"+first+"/cancel", nil), http.StatusConflict)

		// Online agent: queued, says it starts within seconds; running, cancel is a request.
		alice.Heartbeat(aKey, "")
		clock.Advance(time.Minute)
		r = alice.JSON("POST", "/api/backups/execute/"+aCfg.ID, nil)
		want(t, r, http.StatusAccepted)
		if r.Body["agentOffline"] != false {
			t.Errorf("execute with the agent online = %s", r.Raw)
		}
		second, _ := r.Body["id"].(string)
		run, err := e.App.Store.GetRun(ctx, second)
		if err != nil {
			t.Fatal(err)
		}
		run.Status = "running"
		check := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		check(e.App.Store.UpdateRun(ctx, &run))
		r = alice.JSON("POST", "/api/backups/"+second+"/cancel", nil)
		want(t, r, http.StatusOK)
		if r.Body["status"] != "running" || r.Body["cancelRequested"] != true {
			t.Errorf("cancel running = %s", r.Raw)
		}
		if cmds := alice.Heartbeat(aKey, ""); len(cmds) != 1 || cmds[0].Type != agentproto.CommandCancel {
			t.Errorf("heartbeat after cancel = %+v, want a cancel", cmds)
		}

		// A finished run with everything details show.
		clock.Advance(time.Minute)
		end := clock.Now()
		dur := int64(192000)
		run.Status, run.EndTime, run.DurationMS = "completed", &end, &dur
		run.S3Path = "users/" + aliceID + "/agents/" + aAgent + "/configs/" + aCfg.ID + "/backup-2026-06-01-080100.tar.zst"
		run.ManifestKey, run.ArchiveSHA256, run.ArchiveSize = run.S3Path+".manifest", strings.Repeat("ab", 32), 1500000
		run.FilesProcessed, run.FilesSkipped, run.TotalBytes, run.BytesTransfer = 120, 2, 3<<30, 1500000
		run.Errors = json.RawMessage(`[{"path":"/srv/locked","message":"permission denied"}]`)
		run.Full = true
		check(e.App.Store.UpdateRun(ctx, &run))
		r = alice.JSON("GET", "/api/backups/"+second, nil)
		want(t, r, http.StatusOK)
		for k, v := range map[string]any{"status": "completed", "filesProcessed": float64(120), "filesSkipped": float64(2),
			"totalBytes": float64(3 << 30), "duration": float64(192000), "objectKey": run.S3Path, "manifestKey": run.ManifestKey,
			"checksum": run.ArchiveSHA256, "late": false, "agentName": "alice-box", "configName": "alice docs", "agentId": aAgent} {
			if r.Body[k] != v {
				t.Errorf("details %s = %v, want %v", k, r.Body[k], v)
			}
		}
		if !strings.Contains(r.Raw, "permission denied") {
			t.Errorf("details lack the errors: %s", r.Raw)
		}
		// Files skipped: completed with warnings, never plain completed.
		if r.Body["withWarnings"] != true {
			t.Errorf("withWarnings = %v for a run that skipped files", r.Body["withWarnings"])
		}
		if pg := visible(alice.Send("GET", "/backups/"+second, "", nil).Raw); !strings.Contains(pg, "Completed with warnings") || !strings.Contains(pg, "Warnings") {
			t.Errorf("the page of a run that skipped files: %s", pg)
		}
		if _, ok := r.Body["logs"].([]any); !ok {
			t.Errorf("details lack the agent's log lines: %s", r.Raw)
		}

		// More runs for paging and filters.
		for range 3 {
			clock.Advance(time.Minute)
			r := alice.JSON("POST", "/api/backups/execute/"+aCfg2.ID, nil)
			want(t, r, http.StatusAccepted)
			run, _ := e.App.Store.GetRun(ctx, r.Body["id"].(string))
			e.finish(run, "failed")
		}
		want(t, bob.JSON("POST", "/api/backups/execute/"+bCfg.ID, nil), http.StatusAccepted)

		list := func(c *client, q string) (ids []string, total float64, next string) {
			t.Helper()
			r := c.JSON("GET", "/api/backups/logs"+q, nil)
			want(t, r, http.StatusOK)
			logs, _ := r.Body["logs"].([]any)
			for _, l := range logs {
				ids = append(ids, l.(map[string]any)["id"].(string))
			}
			total, _ = r.Body["total"].(float64)
			next, _ = r.Body["next"].(string)
			return ids, total, next
		}
		if _, total, _ := list(alice, ""); total != 5 {
			t.Errorf("alice's runs = %v, want 5", total)
		}
		if _, total, _ := list(admin, ""); total != 6 {
			t.Errorf("admin's view = %v, want all 6", total)
		}
		if _, total, _ := list(alice, "?status=failed"); total != 3 {
			t.Errorf("failed = %v, want 3", total)
		}
		if _, total, _ := list(alice, "?configId="+aCfg.ID); total != 2 {
			t.Errorf("by config = %v, want 2", total)
		}
		if _, total, _ := list(alice, "?configId="+bCfg.ID); total != 0 {
			t.Errorf("alice filtering by bob's config = %v, want 0", total)
		}
		if _, total, _ := list(admin, "?agentId="+bAgent); total != 1 {
			t.Errorf("admin by bob's agent = %v, want 1", total)
		}
		if _, total, _ := list(alice, "?from=2026-06-01&to=2026-06-01"); total != 5 {
			t.Errorf("by date = %v, want 5", total)
		}
		if _, total, _ := list(alice, "?from=2026-06-02"); total != 0 {
			t.Errorf("from tomorrow = %v, want 0", total)
		}
		page1, _, next := list(alice, "?limit=2")
		if len(page1) != 2 || next == "" {
			t.Fatalf("first page %v next %q", page1, next)
		}
		page2, _, next := list(alice, strings.TrimPrefix(next, "/api/backups/logs"))
		page3, _, last := list(alice, strings.TrimPrefix(next, "/api/backups/logs"))
		all := append(append(page1, page2...), page3...)
		if len(all) != 5 || last != "" {
			t.Errorf("pages %v %v %v (next %q), want 5 runs", page1, page2, page3, last)
		}
		sorted := append([]string(nil), all...)
		sort.Sort(sort.Reverse(sort.StringSlice(sorted)))
		if strings.Join(sorted, ",") != strings.Join(all, ",") {
			t.Errorf("pages are not newest first: %v", all)
		}

		// Bad filters: every problem named.
		r = alice.JSON("GET", "/api/backups/logs?status=great&from=yesterday&limit=1000", nil)
		want(t, r, http.StatusBadRequest)
		fields, _ := r.Body["error"].(map[string]any)["fields"].(map[string]any)
		for _, f := range []string{"status", "from"} {
			if fields[f] == nil {
				t.Errorf("bad filter: no message for %s in %s", f, r.Raw)
			}
		}
		want(t, alice.JSON("GET", "/api/backups/logs?limit=1000", nil), http.StatusBadRequest)
	})
}

// TestBackupsPages: the history page with filters in the URL, the run page with
// Cancel and Run again, "Run now" on a configuration, and 404 for others' runs.
func TestBackupsPages(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		clock := newSchedClock(time.Now().UTC())
		e := startRuns(t, db, clock, false)
		alice := e.Client()
		aliceID := registerID(t, alice, "alice@example.com")
		bob := e.Client()
		bob.Register("bob@example.com")
		agentID, _, _ := alice.CreateAgent("alice-box")
		cfg := e.mkScheduled(aliceID, agentID, "alice docs", "", `{}`)

		page := func(c *client, path string) response {
			t.Helper()
			return c.Send("GET", path, "", nil)
		}
		form := func(c *client, path string) response {
			t.Helper()
			return c.Send("POST", path, "application/x-www-form-urlencoded", url.Values{"csrf_token": {c.CSRF}}.Encode())
		}
		r := page(alice, "/backups")
		want(t, r, http.StatusOK)
		if !strings.Contains(visible(r.Raw), "No backups yet") || !strings.Contains(r.Raw, `href="/backups" aria-current="page"`) {
			t.Errorf("empty history page: %s", visible(r.Raw))
		}

		r = form(alice, "/configs/"+cfg.ID+"/run")
		want(t, r, http.StatusSeeOther)
		loc := r.Header.Get("Location")
		if !strings.HasPrefix(loc, "/backups/") {
			t.Fatalf("run now redirects to %q", loc)
		}
		runID := strings.TrimPrefix(loc, "/backups/")
		r = page(alice, loc)
		want(t, r, http.StatusOK)
		text := visible(r.Raw)
		for _, s := range []string{"Backup of alice docs", "Queued", "alice-box", "is offline", "Cancel"} {
			if !strings.Contains(text, s) {
				t.Errorf("run page lacks %q: %s", s, text)
			}
		}
		if strings.Contains(text, "Run again") {
			t.Errorf("a queued run's page offers Run again: %s", text)
		}
		want(t, page(bob, loc), http.StatusNotFound)
		want(t, form(bob, loc+"/cancel"), http.StatusNotFound)

		r = form(alice, loc+"/cancel")
		want(t, r, http.StatusSeeOther)
		r = page(alice, loc)
		if text := visible(r.Raw); !strings.Contains(text, "Cancelled") || !strings.Contains(text, "was cancelled") {
			t.Errorf("after cancel: %s", text)
		}
		if strings.Contains(r.Raw, `action="/backups/`+runID+`/cancel"`) {
			t.Errorf("a cancelled run still offers Cancel")
		}
		if strings.Contains(r.Raw, "/restores/new?run=") {
			t.Errorf("a cancelled run offers a restore")
		}
		r = form(alice, loc+"/run")
		want(t, r, http.StatusSeeOther)
		if r.Header.Get("Location") == loc {
			t.Errorf("run again redirected to the old run")
		}

		r = page(alice, "/backups?status=cancelled&config="+cfg.ID)
		want(t, r, http.StatusOK)
		text = visible(r.Raw)
		if !strings.Contains(text, "1–1 of 1 backup") || !strings.Contains(text, "✕") && !strings.Contains(text, "Cancelled") {
			t.Errorf("filtered history: %s", text)
		}
		if !bytes.Contains([]byte(r.Raw), []byte(`<time datetime=`)) {
			t.Errorf("history without <time>: %s", r.Raw)
		}
		r = page(alice, "/backups?status=nonsense&from=never")
		want(t, r, http.StatusBadRequest)
		if text := visible(r.Raw); !strings.Contains(text, "unknown status") || !strings.Contains(text, "from must be a date") {
			t.Errorf("bad filter page: %s", text)
		}
		if r := page(bob, "/backups"); !strings.Contains(visible(r.Raw), "No backups yet") {
			t.Errorf("bob sees alice's backups: %s", visible(r.Raw))
		}
	})
}
