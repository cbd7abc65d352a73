package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 30, 0, time.UTC) // half a minute past a slot

func newTestScheduler(st Store, clock *fakeClock) *Scheduler {
	return &Scheduler{Store: st, Leader: AlwaysLeader{}, Now: clock.Now, After: clock.After}
}

func tick(t *testing.T, s *Scheduler) {
	t.Helper()
	if _, err := s.Tick(context.Background()); err != nil {
		t.Fatalf("Tick: %v", err)
	}
}

func slots(runs []memRun) string {
	var b []string
	for _, r := range runs {
		s := r.ConfigID + "@" + r.Slot.UTC().Format("15:04")
		if r.Late {
			s += "(late, due " + r.DueAt.UTC().Format("15:04") + ")"
		}
		b = append(b, s)
	}
	return strings.Join(b, " ")
}

func TestDispatchMinuteByMinute(t *testing.T) {
	clock := newFakeClock(t0)
	st := newMemStore(
		Config{ID: "every5", CronExpression: "*/5 * * * *", Since: t0},
		Config{ID: "minute", CronExpression: "* * * * *", Since: t0},
		Config{ID: "berlin", CronExpression: "12 11 * * *", Timezone: "Europe/Berlin", Since: t0}, // 10:12 UTC
	)
	s := newTestScheduler(st, clock)
	for range 15 {
		clock.Advance(time.Minute)
		tick(t, s)
		for _, id := range []string{"every5", "minute", "berlin"} {
			if st.active[id] != nil {
				st.setStatus(id, "completed")
			}
		}
	}
	var got []string
	for _, r := range st.created() {
		if r.Late {
			t.Errorf("run %s@%v is late, want on time", r.ConfigID, r.Slot)
		}
		if !r.DueAt.Equal(r.Slot) {
			t.Errorf("run %s: due %v, slot %v, want equal", r.ConfigID, r.DueAt, r.Slot)
		}
		if d := r.QueuedAt.Sub(r.Slot); d < 0 || d >= time.Minute {
			t.Errorf("run %s@%v queued at %v, want within the slot's minute", r.ConfigID, r.Slot, r.QueuedAt)
		}
		if r.ConfigID != "minute" {
			got = append(got, r.ConfigID+"@"+r.Slot.UTC().Format("15:04"))
		}
	}
	want := "every5@10:05 every5@10:10 berlin@10:12 every5@10:15"
	if strings.Join(got, " ") != want {
		t.Errorf("runs: got %s, want %s", strings.Join(got, " "), want)
	}
	minutes := 0
	for _, r := range st.created() {
		if r.ConfigID == "minute" {
			minutes++
		}
	}
	if minutes != 15 {
		t.Errorf("every-minute config: %d runs in 15 minutes, want 15", minutes)
	}
}

func TestCatchUpAfterOutageIsOneLateRun(t *testing.T) {
	last := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	st := newMemStore(
		Config{ID: "hourly", CronExpression: "0 * * * *", LastScheduled: last, Since: last.Add(-24 * time.Hour)},
		Config{ID: "minute", CronExpression: "* * * * *", LastScheduled: last, Since: last.Add(-24 * time.Hour)},
		Config{ID: "daily", CronExpression: "30 9 * * *", LastScheduled: last.Add(-24*time.Hour + 30*time.Minute), Since: last.Add(-48 * time.Hour)},
	)
	clock := newFakeClock(last.Add(3*time.Hour + 30*time.Minute)) // 12:30: down since just after 09:00
	s := newTestScheduler(st, clock)
	tick(t, s)
	want := "daily@09:30(late, due 09:30) hourly@12:00(late, due 10:00) minute@12:30(late, due 09:01)"
	if got := slots(st.created()); got != want {
		t.Fatalf("after 3 h down:\n got %s\nwant %s", got, want)
	}

	// Nothing more until the next slot, even with the runs finished.
	for _, id := range []string{"hourly", "minute", "daily"} {
		st.setStatus(id, "completed")
	}
	clock.Advance(30 * time.Second)
	tick(t, s)
	clock.Advance(29 * time.Minute)
	st.mu.Lock()
	delete(st.configs, "minute")
	st.mu.Unlock()
	tick(t, s)
	if got := len(st.created()); got != 3 {
		t.Errorf("%d runs before 13:00, want 3: %s", got, slots(st.created()))
	}
	clock.Advance(time.Minute) // 13:00:00
	tick(t, s)
	runs := st.created()
	if got, want := slots(runs[3:]), "hourly@13:00"; got != want {
		t.Errorf("at 13:00: got %s, want %s", got, want)
	}
}

func TestLateAfterGrace(t *testing.T) {
	slot := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		delay time.Duration
		late  bool
	}{{30 * time.Second, false}, {5 * time.Minute, false}, {5*time.Minute + time.Second, true}} {
		st := newMemStore(Config{ID: "daily", CronExpression: "0 10 * * *", Since: slot.Add(-time.Hour)})
		clock := newFakeClock(slot.Add(tt.delay))
		tick(t, newTestScheduler(st, clock))
		runs := st.created()
		if len(runs) != 1 || runs[0].Late != tt.late {
			t.Errorf("queued %v after the slot: %s, want one run with late=%v", tt.delay, slots(runs), tt.late)
		}
	}
}

func TestNoSecondRunWhileActive(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 59, 30, 0, time.UTC)
	st := newMemStore(Config{ID: "hourly", CronExpression: "0 * * * *", Since: start})
	clock := newFakeClock(start)
	s := newTestScheduler(st, clock)
	for range 150 { // 09:59:30 → 12:29:30, the run queued at 10:00 never picked up
		clock.Advance(time.Minute)
		tick(t, s)
	}
	runs := st.created()
	if got, want := slots(runs), "hourly@10:00"; got != want {
		t.Fatalf("runs: got %s, want %s", got, want)
	}
	if got, want := runs[0].LateDueAt, time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("queued run flagged late for %v, want %v (it missed the 11:00 slot)", got, want)
	}
	if st.calls != 3 {
		t.Errorf("CreateRun called %d times, want 3 (10:00, 11:00, 12:00)", st.calls)
	}

	// The agent comes back at 12:30 and finishes; the skipped 11:00 and 12:00 slots do
	// not come back as a catch-up run.
	st.setStatus("hourly", "running")
	st.setStatus("hourly", "completed")
	for range 40 { // → 13:09:30
		clock.Advance(time.Minute)
		tick(t, s)
	}
	if got, want := slots(st.created()), "hourly@10:00 hourly@13:00"; got != want {
		t.Errorf("runs: got %s, want %s", got, want)
	}

	// A running (not queued) run that overruns a slot is skipped, not flagged late.
	st.setStatus("hourly", "completed") // the 13:00 run
	clock.Advance(51 * time.Minute)     // 14:00:30
	tick(t, s)
	st.setStatus("hourly", "running") // the 14:00 run
	clock.Advance(time.Hour)
	tick(t, s)
	runs = st.created()
	if got, want := slots(runs), "hourly@10:00 hourly@13:00 hourly@14:00"; got != want {
		t.Errorf("runs: got %s, want %s", got, want)
	}
	if !runs[2].LateDueAt.IsZero() {
		t.Errorf("running run flagged late at %v, want not", runs[2].LateDueAt)
	}
}

func TestScheduleChangeTakesEffectFromNow(t *testing.T) {
	last := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	st := newMemStore(
		// Changed from hourly to every 10 minutes at 09:30: no run for 09:10 and 09:20.
		Config{ID: "changed", CronExpression: "*/10 * * * *", LastScheduled: last, Since: now},
		// Created at 09:30 with a daily 03:00 schedule: no run today.
		Config{ID: "new", CronExpression: "0 3 * * *", Since: now},
		// Re-enabled at 09:30 after a week: no catch-up.
		Config{ID: "reenabled", CronExpression: "0 * * * *", LastScheduled: last.Add(-7 * 24 * time.Hour), Since: now},
		// No Since: not scheduled at all (the adapter must set it).
		Config{ID: "nosince", CronExpression: "* * * * *", LastScheduled: last},
	)
	clock := newFakeClock(now)
	s := newTestScheduler(st, clock)
	tick(t, s)
	for range 40 { // → 10:10
		clock.Advance(time.Minute)
		tick(t, s)
		for _, id := range []string{"changed", "new", "reenabled"} {
			if st.active[id] != nil {
				st.setStatus(id, "completed")
			}
		}
	}
	want := "changed@09:40 changed@09:50 changed@10:00 reenabled@10:00 changed@10:10"
	if got := slots(st.created()); got != want {
		t.Errorf("runs:\n got %s\nwant %s", got, want)
	}
}

func TestFollowerDispatchesNothing(t *testing.T) {
	st := newMemStore(Config{ID: "minute", CronExpression: "* * * * *", Since: t0.Add(-time.Hour)})
	leader := &fakeLeader{}
	s := &Scheduler{Store: st, Leader: leader, Now: newFakeClock(t0).Now}
	leading, err := s.Tick(context.Background())
	if leading || err != nil || st.calls != 0 {
		t.Fatalf("follower: leading=%v err=%v calls=%d, want false, nil, 0", leading, err, st.calls)
	}

	leader.set(true, nil)
	if leading, err := s.Tick(context.Background()); !leading || err != nil || st.calls != 1 {
		t.Fatalf("leader: leading=%v err=%v calls=%d, want true, nil, 1", leading, err, st.calls)
	}

	// Losing the lead (the lock's session died) releases and stops dispatching.
	leader.set(false, errors.New("connection reset"))
	leading, err = s.Tick(context.Background())
	if leading || err == nil || st.calls != 1 {
		t.Errorf("lost lead: leading=%v err=%v calls=%d, want false, an error, 1", leading, err, st.calls)
	}
	if got := leader.releases(); got != 1 {
		t.Errorf("released %d times, want 1", got)
	}
}

func TestBadScheduleDoesNotStopOthers(t *testing.T) {
	st := newMemStore(
		Config{ID: "bad", CronExpression: "61 * * * *", Since: t0.Add(-time.Hour)},
		Config{ID: "good", CronExpression: "0 * * * *", Since: t0.Add(-time.Hour)},
	)
	_, err := newTestScheduler(st, newFakeClock(t0)).Tick(context.Background())
	if err == nil || !strings.Contains(err.Error(), "config bad") || !strings.Contains(err.Error(), "minute field: 61 is out of range 0-59") {
		t.Errorf("Tick error: %v, want one naming config bad and its problem", err)
	}
	if got, want := slots(st.created()), "good@10:00"; got != want {
		t.Errorf("runs: got %s, want %s", got, want)
	}
}

// TestConcurrentTicksNeverDoubleDispatch runs two schedulers that both believe they
// lead (as during a lost-lock race) against one store, each also ticking from several
// goroutines at once. Runs complete at once, so only the slot compare-and-set keeps a
// slot from being dispatched twice.
func TestConcurrentTicksNeverDoubleDispatch(t *testing.T) {
	var configs []Config
	for i := range 20 {
		configs = append(configs, Config{ID: fmt.Sprintf("c%02d", i), CronExpression: "* * * * *", Since: t0})
	}
	st := newMemStore(configs...)
	st.autoComplete = true
	clock := newFakeClock(t0)
	a, b := newTestScheduler(st, clock), newTestScheduler(st, clock)
	for range 30 {
		clock.Advance(time.Minute)
		var wg sync.WaitGroup
		for i := range 6 {
			s := a
			if i%2 == 1 {
				s = b
			}
			wg.Go(func() {
				if _, err := s.Tick(context.Background()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	seen := map[string]int{}
	for _, r := range st.created() {
		seen[r.ConfigID+"@"+r.Slot.Format(time.RFC3339)]++
	}
	if len(seen) != 20*30 {
		t.Errorf("%d distinct (config, slot) runs, want %d", len(seen), 20*30)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s dispatched %d times", k, n)
		}
	}
}

func TestRunLoop(t *testing.T) {
	st := newMemStore(Config{ID: "every2", CronExpression: "*/2 * * * *", Since: t0})
	clock := newFakeClock(t0) // 10:00:30
	leader := &fakeLeader{lead: true}
	s := &Scheduler{Store: st, Leader: leader, Now: clock.Now, After: clock.After}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	for range 10 {
		clock.BlockUntilWaiting(1) // the loop ticked and sleeps until the next minute
		st.mu.Lock()
		if st.active["every2"] != nil {
			st.active["every2"].Status = "completed"
			delete(st.active, "every2")
		}
		st.mu.Unlock()
		clock.AdvanceToWaiter()
	}
	clock.BlockUntilWaiting(1)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	runs := st.created()
	if got, want := slots(runs), "every2@10:02 every2@10:04 every2@10:06 every2@10:08 every2@10:10"; got != want {
		t.Errorf("runs: got %s, want %s", got, want)
	}
	for _, r := range runs {
		if got := r.QueuedAt.Sub(r.Slot); got != time.Second {
			t.Errorf("slot %v queued %v after it, want 1s (ticks are at second 1 of each minute)", r.Slot, got)
		}
	}
	if got := leader.releases(); got != 1 {
		t.Errorf("lead released %d times on shutdown, want 1", got)
	}
}

func TestLatestSlotAfterLongOutage(t *testing.T) {
	tests := []struct {
		expr, first, now, want string
	}{
		{"* * * * *", "2025-03-02T10:00:00Z", "2026-03-02T10:00:30Z", "2026-03-02T10:00:00Z"},
		{"0 3 * * *", "2025-01-01T03:00:00Z", "2026-03-02T10:00:00Z", "2026-03-02T03:00:00Z"},
		{"0 0 1 1 *", "2020-01-01T00:00:00Z", "2026-03-02T10:00:00Z", "2026-01-01T00:00:00Z"},
		{"0 0 29 2 *", "2020-02-29T00:00:00Z", "2026-03-02T10:00:00Z", "2024-02-29T00:00:00Z"},
		{"* * 1 1 *", "2024-01-01T00:00:00Z", "2026-03-02T10:00:00Z", "2026-01-01T23:59:00Z"},
	}
	for _, tt := range tests {
		s := mustParse(t, tt.expr, "UTC")
		got := latestSlot(s, mustTime(t, tt.first), mustTime(t, tt.now))
		if !got.Equal(mustTime(t, tt.want)) {
			t.Errorf("latestSlot(%q, %s, %s) = %v, want %s", tt.expr, tt.first, tt.now, got, tt.want)
		}
	}
}
