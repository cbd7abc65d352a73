package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/testenv"
)

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
		cfg := e.MkScheduled(uid, agentID, "every minute", "* * * * *", `{"type":"full"}`)
		clock.WaitForWaiter(t) // the loop's first pass ran before the config existed, or saw no slot yet

		for minute := 1; minute <= 3; minute++ {
			clock.Advance(time.Minute)
			testenv.Eventually(t, fmt.Sprintf("run %d queued", minute), func() bool { return len(e.RunsOf(cfg.ID)) == minute })
			clock.WaitForWaiter(t)
			rs := e.RunsOf(cfg.ID)
			newest := rs[0]
			if newest.Status != "queued" || newest.AgentID != agentID || newest.UserID != uid {
				t.Fatalf("minute %d: run %+v, want queued for the agent", minute, newest)
			}
			cmds := c.Heartbeat(key, "")
			if len(cmds) != 1 || cmds[0].Type != agentproto.CommandRun || cmds[0].RunID != newest.ID {
				t.Fatalf("minute %d: heartbeat commands %+v, want run %s", minute, cmds, newest.ID)
			}
			e.Finish(newest, "completed")
		}

		// A run left running at the next slot: no second run, no late flag (it started).
		if err := e.App.Store.CreateRun(context.Background(), &store.Run{ConfigID: cfg.ID, UserID: uid, AgentID: agentID, StartTime: clock.Now(), Status: "running"}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
		clock.WaitForWaiter(t)
		if got := len(e.RunsOf(cfg.ID)); got != 4 {
			t.Errorf("runs after a slot with one running = %d, want 4 (no second active run)", got)
		}
		if a := e.LateAlerts(uid); len(a) != 0 {
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
		cfg := e.MkScheduled(uid, agentID, "hourly", "*/15 * * * *", `{}`)
		tick := func() {
			t.Helper()
			if leading, err := e.App.Scheduler.Tick(ctx); err != nil || !leading {
				t.Fatalf("Tick = %v, %v", leading, err)
			}
		}

		clock.Advance(15 * time.Minute) // 00:45:10, the slot at 00:45
		tick()
		rs := e.RunsOf(cfg.ID)
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
		if rs := e.RunsOf(cfg.ID); len(rs) != 1 {
			t.Fatalf("runs after the agent missed slots = %d, want still 1", len(rs))
		}
		alerts := e.LateAlerts(uid)
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
		e.Finish(e.RunsOf(cfg.ID)[0], "completed")

		// The server is down for 3 hours: one late run for all the missed slots.
		clock.Advance(3 * time.Hour)
		tick()
		rs = e.RunsOf(cfg.ID)
		if len(rs) != 2 {
			t.Fatalf("runs after downtime = %d, want 2", len(rs))
		}
		rec, _ = e.App.Store.GetRunRecord(ctx, rs[0].ID)
		if !rec.Late || rec.DueAt == nil || !rec.DueAt.Before(rs[0].StartTime.Add(-2*time.Hour)) {
			t.Errorf("run after downtime: late %v due %v, want late, due at the first missed slot", rec.Late, rec.DueAt)
		}
		// Still one open late alert for the config, counting the second occurrence.
		if a := e.LateAlerts(uid); len(a) != 1 || a[0].Occurrences != 2 {
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
		cfg := e.MkScheduled(uid, agentID, "daily", "0 3 * * *", `{}`) // 03:00 Berlin = 01:00 UTC
		tick := func() {
			t.Helper()
			if _, err := e.App.Scheduler.Tick(ctx); err != nil {
				t.Fatal(err)
			}
		}
		clock.Advance(70 * time.Second) // 01:00:10
		tick()
		rs := e.RunsOf(cfg.ID)
		if len(rs) != 1 {
			t.Fatalf("runs = %d, want 1", len(rs))
		}
		clock.Advance(4 * time.Minute)
		tick()
		if n := len(e.LateAlerts(uid)); n != 0 {
			t.Errorf("late alerts after 4 minutes = %d, want 0", n)
		}
		clock.Advance(2 * time.Minute)
		tick()
		tick()
		if a := e.LateAlerts(uid); len(a) != 1 || !strings.Contains(a[0].Message, "daily") {
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
		a.MkScheduled(uid, agentID, "one", "* * * * *", `{}`),
		a.MkScheduled(uid, agentID, "two", "*/2 * * * *", `{}`),
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
			for _, r := range a.RunsOf(cfg.ID) {
				if r.Status == "queued" {
					a.Finish(r, "completed")
				}
			}
		}
	}
	for i, want := range []int{6, 3} {
		rs := a.RunsOf(cfgs[i].ID)
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
