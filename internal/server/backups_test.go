package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
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
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
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
	t     *testing.T
	app   *server.App
	base  string
	clock *schedClock
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
	logs := &syncBuffer{}
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
	e := &runsEnv{t: t, app: app, base: cfg.BaseURL, clock: clock}
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

func (e *runsEnv) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: e.t, base: e.base, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// mkScheduled stores an enabled config of agentID with a schedule (cron "" for none)
// and options, created at the clock's time.
func (e *runsEnv) mkScheduled(userID, agentID, name, cron, options string) store.BackupConfig {
	e.t.Helper()
	now := e.clock.Now()
	c := store.BackupConfig{UserID: userID, Name: name, Enabled: true, ExecutionMode: "agent", AgentID: agentID,
		Sources:     json.RawMessage(`[{"path":"/srv"}]`),
		Destination: json.RawMessage(`{"destinationId":""}`),
		Options:     json.RawMessage(options),
		CreatedAt:   now, UpdatedAt: now}
	if cron != "" {
		c.Schedule = json.RawMessage(`{"cronExpression":"` + cron + `","timezone":"Europe/Berlin"}`)
	}
	if err := e.app.Store.CreateConfig(context.Background(), &c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *runsEnv) runsOf(configID string) []store.Run {
	e.t.Helper()
	rs, err := e.app.Store.ListRuns(context.Background(), store.RunFilter{ConfigID: configID, Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	return rs
}

func (e *runsEnv) finish(r store.Run, status string) {
	e.t.Helper()
	now := e.clock.Now()
	r.Status, r.EndTime = status, &now
	if err := e.app.Store.UpdateRun(context.Background(), &r); err != nil {
		e.t.Fatal(err)
	}
}

func (e *runsEnv) lateAlerts(userID string) []store.Alert {
	e.t.Helper()
	as, err := e.app.Store.ListAlerts(context.Background(), userID, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []store.Alert
	for _, a := range as {
		if a.Type == "late" {
			out = append(out, a)
		}
	}
	return out
}

// heartbeat is one heartbeat of the agent with key; it returns the commands.
func (c *client) heartbeat(key, query string) []agentproto.Command {
	c.t.Helper()
	r := c.agentCall("/api/agent/heartbeat"+query, key, agentproto.HeartbeatRequest{Host: agentproto.Host{Hostname: "box", Platform: "linux", Arch: "amd64", Version: "test"}})
	want(c.t, r, http.StatusOK)
	var resp agentproto.HeartbeatResponse
	if err := json.Unmarshal([]byte(r.raw), &resp); err != nil {
		c.t.Fatal(err)
	}
	return resp.Commands
}

// registerID registers c as email and returns the new user's id.
func registerID(t *testing.T, c *client, email string) string {
	t.Helper()
	c.register(email)
	return userID(t, c)
}

// eventually polls cond every 20 ms for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestScheduledRunsByThemselves: a config scheduled every minute gets queued runs
// from the server's own scheduler loop as the (injected) clock moves, its agent is
// handed them by heartbeat, and a run still active at the next slot blocks a second.
func TestScheduledRunsByThemselves(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		clock := newSchedClock(time.Date(2026, 3, 2, 9, 0, 30, 0, time.UTC))
		e := startRuns(t, db, clock, true)
		c := e.client()
		uid := registerID(t, c, "sched@example.com")
		agentID, key, _ := c.createAgent("box")
		c.heartbeat(key, "")
		cfg := e.mkScheduled(uid, agentID, "every minute", "* * * * *", `{"type":"full"}`)
		clock.waitForWaiter(t) // the loop's first pass ran before the config existed, or saw no slot yet

		for minute := 1; minute <= 3; minute++ {
			clock.Advance(time.Minute)
			eventually(t, fmt.Sprintf("run %d queued", minute), func() bool { return len(e.runsOf(cfg.ID)) == minute })
			clock.waitForWaiter(t)
			rs := e.runsOf(cfg.ID)
			newest := rs[0]
			if newest.Status != "queued" || newest.AgentID != agentID || newest.UserID != uid {
				t.Fatalf("minute %d: run %+v, want queued for the agent", minute, newest)
			}
			cmds := c.heartbeat(key, "")
			if len(cmds) != 1 || cmds[0].Type != agentproto.CommandRun || cmds[0].RunID != newest.ID {
				t.Fatalf("minute %d: heartbeat commands %+v, want run %s", minute, cmds, newest.ID)
			}
			e.finish(newest, "completed")
		}

		// A run left running at the next slot: no second run, no late flag (it started).
		if err := e.app.Store.CreateRun(context.Background(), &store.Run{ConfigID: cfg.ID, UserID: uid, AgentID: agentID, StartTime: clock.Now(), Status: "running"}); err != nil {
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
		c := e.client()
		uid := registerID(t, c, "late@example.com")
		agentID, key, _ := c.createAgent("laptop") // never heartbeats: offline
		cfg := e.mkScheduled(uid, agentID, "hourly", "*/15 * * * *", `{}`)
		tick := func() {
			t.Helper()
			if leading, err := e.app.Scheduler.Tick(ctx); err != nil || !leading {
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
		rec, _ := e.app.Store.GetRunRecord(ctx, runID)
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
		r := c.json("GET", "/api/backups/"+runID, nil)
		want(t, r, http.StatusOK)
		if r.body["late"] != true || r.body["dueAt"] == nil {
			t.Errorf("details of the waiting run = %s, want late with dueAt", r.raw)
		}
		r = c.json("GET", "/api/backups/logs?status=late", nil)
		if r.body["total"] != float64(1) {
			t.Errorf("logs?status=late = %s, want the one run", r.raw)
		}

		// The agent comes back: it gets the one late run, once.
		cmds := c.heartbeat(key, "")
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
		rec, _ = e.app.Store.GetRunRecord(ctx, rs[0].ID)
		if !rec.Late || rec.DueAt == nil || !rec.DueAt.Before(rs[0].StartTime.Add(-2*time.Hour)) {
			t.Errorf("run after downtime: late %v due %v, want late, due at the first missed slot", rec.Late, rec.DueAt)
		}
		if n := len(e.lateAlerts(uid)); n != 2 {
			t.Errorf("late alerts = %d, want 2", n)
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
		c := e.client()
		uid := registerID(t, c, "daily@example.com")
		agentID, key, _ := c.createAgent("desktop")
		cfg := e.mkScheduled(uid, agentID, "daily", "0 3 * * *", `{}`) // 03:00 Berlin = 01:00 UTC
		tick := func() {
			t.Helper()
			if _, err := e.app.Scheduler.Tick(ctx); err != nil {
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
		if rec, _ := e.app.Store.GetRunRecord(ctx, rs[0].ID); !rec.Late {
			t.Errorf("the waiting run is not flagged late")
		}
		if cmds := c.heartbeat(key, ""); len(cmds) != 1 || cmds[0].RunID != rs[0].ID {
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
	c := a.client()
	uid := registerID(t, c, "replicas@example.com")
	agentID, key, _ := c.createAgent("box")
	c.heartbeat(key, "")
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
				leading, err := e.app.Scheduler.Tick(ctx)
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
	leaderIsA, _ := a.app.Scheduler.Tick(ctx)
	leader, follower := a, b
	if !leaderIsA {
		leader, follower = b, a
	}
	leader.app.Scheduler.Release()
	if leading, err := follower.app.Scheduler.Tick(ctx); err != nil || !leading {
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
	user := a.client()
	uid := registerID(t, user, "fast@example.com")
	agentID, key, _ := user.createAgent("box")
	cfg := a.mkScheduled(uid, agentID, "manual", "", `{}`)

	for _, tc := range []struct {
		name  string
		agent *runsEnv
		limit time.Duration
	}{{"same replica", a, time.Second}, {"other replica", b, time.Second}} {
		agentClient := tc.agent.client()
		agentClient.heartbeat(key, "") // online
		got := make(chan []agentproto.Command, 1)
		go func() { got <- agentClient.heartbeat(key, "?wait=25s") }()
		time.Sleep(300 * time.Millisecond) // the long-poll is waiting
		start := time.Now()
		r := user.json("POST", "/api/backups/execute/"+cfg.ID, nil)
		want(t, r, http.StatusAccepted)
		select {
		case cmds := <-got:
			if len(cmds) != 1 || cmds[0].Type != agentproto.CommandRun || cmds[0].RunID != r.body["id"] {
				t.Errorf("%s: commands %+v, want run %v", tc.name, cmds, r.body["id"])
			}
			if d := time.Since(start); d > tc.limit {
				t.Errorf("%s: run now took %v to reach the agent, want at most %v", tc.name, d, tc.limit)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: the long-poll never answered", tc.name)
		}
		// Running, then cancelled: the long-poll hands out the cancel.
		run, err := a.app.Store.GetRun(context.Background(), r.body["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		run.Status = "running"
		if err := a.app.Store.UpdateRun(context.Background(), &run); err != nil {
			t.Fatal(err)
		}
		go func() { got <- agentClient.heartbeat(key, "?wait=25s") }()
		time.Sleep(300 * time.Millisecond)
		start = time.Now()
		want(t, user.json("POST", "/api/backups/"+run.ID+"/cancel", nil), http.StatusOK)
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
		admin := e.client()
		admin.register("admin@example.com")
		alice := e.client()
		aliceID := registerID(t, alice, "alice@example.com")
		bob := e.client()
		bobID := registerID(t, bob, "bob@example.com")
		aAgent, aKey, _ := alice.createAgent("alice-box")
		bAgent, _, _ := bob.createAgent("bob-box")
		aCfg := e.mkScheduled(aliceID, aAgent, "alice docs", "", `{}`)
		aCfg2 := e.mkScheduled(aliceID, aAgent, "alice mail", "", `{}`)
		bCfg := e.mkScheduled(bobID, bAgent, "bob docs", "", `{}`)

		// Offline agent: queued all the same, and the answer says so.
		r := alice.json("POST", "/api/backups/execute/"+aCfg.ID, nil)
		want(t, r, http.StatusAccepted)
		msg, _ := r.body["message"].(string)
		if r.body["status"] != "queued" || r.body["agentOffline"] != true || !strings.Contains(msg, "offline") || r.body["configName"] != "alice docs" {
			t.Errorf("execute with the agent offline = %s", r.raw)
		}
		first, _ := r.body["id"].(string)
		r = alice.json("POST", "/api/backups/execute/"+aCfg.ID, nil)
		want(t, r, http.StatusConflict)
		if !strings.Contains(r.errMessage(), "already") {
			t.Errorf("second execute: %s", r.raw)
		}
		// Others' configs and runs do not exist for bob.
		want(t, bob.json("POST", "/api/backups/execute/"+aCfg.ID, nil), http.StatusNotFound)
		want(t, bob.json("GET", "/api/backups/"+first, nil), http.StatusNotFound)
		want(t, bob.json("POST", "/api/backups/"+first+"/cancel", nil), http.StatusNotFound)
		want(t, bob.json("GET", "/api/backups/not-a-run", nil), http.StatusNotFound)
		want(t, e.client().json("GET", "/api/backups/logs", nil), http.StatusUnauthorized)
		if r := bob.json("GET", "/api/backups/logs", nil); r.body["total"] != float64(0) {
			t.Errorf("bob's logs = %s, want none", r.raw)
		}

		// Cancel while queued: cancelled at once.
		r = alice.json("POST", "/api/backups/"+first+"/cancel", nil)
		want(t, r, http.StatusOK)
		if r.body["status"] != "cancelled" || r.body["endTime"] == nil {
			t.Errorf("cancel queued = %s", r.raw)
		}
		want(t, alice.json("POST", "/api/backups/"+first+"/cancel", nil), http.StatusConflict)

		// Online agent: queued, says it starts within seconds; running, cancel is a request.
		alice.heartbeat(aKey, "")
		clock.Advance(time.Minute)
		r = alice.json("POST", "/api/backups/execute/"+aCfg.ID, nil)
		want(t, r, http.StatusAccepted)
		if r.body["agentOffline"] != false {
			t.Errorf("execute with the agent online = %s", r.raw)
		}
		second, _ := r.body["id"].(string)
		run, err := e.app.Store.GetRun(ctx, second)
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
		check(e.app.Store.UpdateRun(ctx, &run))
		r = alice.json("POST", "/api/backups/"+second+"/cancel", nil)
		want(t, r, http.StatusOK)
		if r.body["status"] != "running" || r.body["cancelRequested"] != true {
			t.Errorf("cancel running = %s", r.raw)
		}
		if cmds := alice.heartbeat(aKey, ""); len(cmds) != 1 || cmds[0].Type != agentproto.CommandCancel {
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
		check(e.app.Store.UpdateRun(ctx, &run))
		r = alice.json("GET", "/api/backups/"+second, nil)
		want(t, r, http.StatusOK)
		for k, v := range map[string]any{"status": "completed", "filesProcessed": float64(120), "filesSkipped": float64(2),
			"totalBytes": float64(3 << 30), "duration": float64(192000), "objectKey": run.S3Path, "manifestKey": run.ManifestKey,
			"checksum": run.ArchiveSHA256, "late": false, "agentName": "alice-box", "configName": "alice docs", "agentId": aAgent} {
			if r.body[k] != v {
				t.Errorf("details %s = %v, want %v", k, r.body[k], v)
			}
		}
		if !strings.Contains(r.raw, "permission denied") {
			t.Errorf("details lack the errors: %s", r.raw)
		}
		// Files skipped: completed with warnings, never plain completed.
		if r.body["withWarnings"] != true {
			t.Errorf("withWarnings = %v for a run that skipped files", r.body["withWarnings"])
		}
		if pg := visible(alice.send("GET", "/backups/"+second, "", nil).raw); !strings.Contains(pg, "Completed with warnings") || !strings.Contains(pg, "Warnings") {
			t.Errorf("the page of a run that skipped files: %s", pg)
		}
		if _, ok := r.body["logs"].([]any); !ok {
			t.Errorf("details lack the agent's log lines: %s", r.raw)
		}

		// More runs for paging and filters.
		for range 3 {
			clock.Advance(time.Minute)
			r := alice.json("POST", "/api/backups/execute/"+aCfg2.ID, nil)
			want(t, r, http.StatusAccepted)
			run, _ := e.app.Store.GetRun(ctx, r.body["id"].(string))
			e.finish(run, "failed")
		}
		want(t, bob.json("POST", "/api/backups/execute/"+bCfg.ID, nil), http.StatusAccepted)

		list := func(c *client, q string) (ids []string, total float64, next string) {
			t.Helper()
			r := c.json("GET", "/api/backups/logs"+q, nil)
			want(t, r, http.StatusOK)
			logs, _ := r.body["logs"].([]any)
			for _, l := range logs {
				ids = append(ids, l.(map[string]any)["id"].(string))
			}
			total, _ = r.body["total"].(float64)
			next, _ = r.body["next"].(string)
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
		r = alice.json("GET", "/api/backups/logs?status=great&from=yesterday&limit=1000", nil)
		want(t, r, http.StatusBadRequest)
		fields, _ := r.body["error"].(map[string]any)["fields"].(map[string]any)
		for _, f := range []string{"status", "from"} {
			if fields[f] == nil {
				t.Errorf("bad filter: no message for %s in %s", f, r.raw)
			}
		}
		want(t, alice.json("GET", "/api/backups/logs?limit=1000", nil), http.StatusBadRequest)
	})
}

// TestBackupsPages: the history page with filters in the URL, the run page with
// Cancel and Run again, "Run now" on a configuration, and 404 for others' runs.
func TestBackupsPages(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		clock := newSchedClock(time.Now().UTC())
		e := startRuns(t, db, clock, false)
		alice := e.client()
		aliceID := registerID(t, alice, "alice@example.com")
		bob := e.client()
		bob.register("bob@example.com")
		agentID, _, _ := alice.createAgent("alice-box")
		cfg := e.mkScheduled(aliceID, agentID, "alice docs", "", `{}`)

		page := func(c *client, path string) response {
			t.Helper()
			return c.send("GET", path, "", nil)
		}
		form := func(c *client, path string) response {
			t.Helper()
			return c.send("POST", path, "application/x-www-form-urlencoded", url.Values{"csrf_token": {c.csrf}}.Encode())
		}
		r := page(alice, "/backups")
		want(t, r, http.StatusOK)
		if !strings.Contains(visible(r.raw), "No backups yet") || !strings.Contains(r.raw, `href="/backups" aria-current="page"`) {
			t.Errorf("empty history page: %s", visible(r.raw))
		}

		r = form(alice, "/configs/"+cfg.ID+"/run")
		want(t, r, http.StatusSeeOther)
		loc := r.header.Get("Location")
		if !strings.HasPrefix(loc, "/backups/") {
			t.Fatalf("run now redirects to %q", loc)
		}
		runID := strings.TrimPrefix(loc, "/backups/")
		r = page(alice, loc)
		want(t, r, http.StatusOK)
		text := visible(r.raw)
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
		if text := visible(r.raw); !strings.Contains(text, "Cancelled") || !strings.Contains(text, "was cancelled") {
			t.Errorf("after cancel: %s", text)
		}
		if strings.Contains(r.raw, `action="/backups/`+runID+`/cancel"`) {
			t.Errorf("a cancelled run still offers Cancel")
		}
		if strings.Contains(r.raw, "/restores/new?run=") {
			t.Errorf("a cancelled run offers a restore")
		}
		r = form(alice, loc+"/run")
		want(t, r, http.StatusSeeOther)
		if r.header.Get("Location") == loc {
			t.Errorf("run again redirected to the old run")
		}

		r = page(alice, "/backups?status=cancelled&config="+cfg.ID)
		want(t, r, http.StatusOK)
		text = visible(r.raw)
		if !strings.Contains(text, "1–1 of 1 backup") || !strings.Contains(text, "✕") && !strings.Contains(text, "Cancelled") {
			t.Errorf("filtered history: %s", text)
		}
		if !bytes.Contains([]byte(r.raw), []byte(`<time datetime=`)) {
			t.Errorf("history without <time>: %s", r.raw)
		}
		r = page(alice, "/backups?status=nonsense&from=never")
		want(t, r, http.StatusBadRequest)
		if text := visible(r.raw); !strings.Contains(text, "unknown status") || !strings.Contains(text, "from must be a date") {
			t.Errorf("bad filter page: %s", text)
		}
		if r := page(bob, "/backups"); !strings.Contains(visible(r.raw), "No backups yet") {
			t.Errorf("bob sees alice's backups: %s", visible(r.raw))
		}
	})
}
