package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// runsTests check store.Runs: scheduling state, late runs and their alerts,
// cancelling, history records and expiry.
var runsTests = []test{
	{"ScheduledConfigs", testScheduledConfigs},
	{"QueueScheduledRun", testQueueScheduledRun},
	{"QueueScheduledRunRace", testQueueScheduledRunRace},
	{"SkipSlotFlagsLate", testSkipSlot},
	{"FlagLateQueued", testFlagLateQueued},
	{"CancelRun", testCancelRun},
	{"RunRecords", testRunRecords},
	{"RunRecordsCountUpTo", testRunRecordsCountUpTo},
	{"RunRecordsSorted", testRunRecordsSorted},
	{"LatestRuns", testLatestRuns},
	{"ExpireRun", testExpireRun},
	{"Metrics", testMetrics},
	{"RunTotals", testRunTotals},
}

// RunRuns runs the store.Runs suite against fresh stores from open.
func RunRuns(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tc := range append(append(runsTests, alertTests...), notificationTests...) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

func scheduled(t *testing.T, s store.Store) map[string]store.ScheduledConfig {
	t.Helper()
	cs, err := s.ScheduledConfigs(context.Background())
	check(t, "ScheduledConfigs", err)
	m := map[string]store.ScheduledConfig{}
	for _, c := range cs {
		m[c.ID] = c
	}
	return m
}

func testScheduledConfigs(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "sched@example.com", t0, true)
	a := mkAgent(t, s, u.ID, "box", t0)
	plain := mkConfig(t, s, u.ID, a.ID, "no schedule", t0)
	c := mkConfig(t, s, u.ID, a.ID, "nightly", t0)
	c.Schedule = json.RawMessage(`{"cronExpression":"0 3 * * *","timezone":"Europe/Berlin"}`)
	c.UpdatedAt = t0.Add(time.Hour)
	check(t, "UpdateConfig", s.UpdateConfig(ctx, &c))

	m := scheduled(t, s)
	if _, ok := m[plain.ID]; ok {
		t.Errorf("a config without a schedule is listed")
	}
	got, ok := m[c.ID]
	if !ok {
		t.Fatalf("the scheduled config is not listed: %+v", m)
	}
	equal(t, "UserID", got.UserID, u.ID)
	equal(t, "AgentID", got.AgentID, a.ID)
	equal(t, "Name", got.Name, "nightly")
	sameJSON(t, "Schedule", got.Schedule, c.Schedule)
	equal(t, "LastScheduled", got.LastScheduled, (*time.Time)(nil))
	// Setting the schedule is a change of schedule: it counts from then.
	equal(t, "Since after the schedule was set", got.Since, t0.Add(time.Hour).Truncate(time.Microsecond))

	// A rename does not move Since; a new schedule or re-enabling does.
	c.Name, c.UpdatedAt = "nightly backup", t0.Add(2*time.Hour)
	check(t, "rename", s.UpdateConfig(ctx, &c))
	equal(t, "Since after a rename", scheduled(t, s)[c.ID].Since, t0.Add(time.Hour).Truncate(time.Microsecond))
	c.Enabled, c.UpdatedAt = false, t0.Add(3*time.Hour)
	check(t, "disable", s.UpdateConfig(ctx, &c))
	if _, ok := scheduled(t, s)[c.ID]; ok {
		t.Errorf("a disabled config is listed")
	}
	c.Enabled, c.UpdatedAt = true, t0.Add(4*time.Hour)
	check(t, "enable", s.UpdateConfig(ctx, &c))
	equal(t, "Since after re-enabling", scheduled(t, s)[c.ID].Since, t0.Add(4*time.Hour).Truncate(time.Microsecond))
	c.Schedule, c.UpdatedAt = json.RawMessage(`{"cronExpression":"0 4 * * *","timezone":"Europe/Berlin"}`), t0.Add(5*time.Hour)
	check(t, "reschedule", s.UpdateConfig(ctx, &c))
	equal(t, "Since after a new schedule", scheduled(t, s)[c.ID].Since, t0.Add(5*time.Hour).Truncate(time.Microsecond))
}

func queueAt(t *testing.T, s store.Store, c store.BackupConfig, slot time.Time, late bool, alert *store.Alert) (store.Run, error) {
	t.Helper()
	r := store.Run{ConfigID: c.ID, UserID: c.UserID, AgentID: c.AgentID, StartTime: slot.Add(time.Second), Status: "queued"}
	err := s.QueueScheduledRun(context.Background(), store.ScheduledRun{Run: &r, Slot: slot, DueAt: slot, Late: late, Alert: alert})
	return r, err
}

func testQueueScheduledRun(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "queue@example.com", t0, true)
	a := mkAgent(t, s, u.ID, "box", t0)
	c := mkConfig(t, s, u.ID, a.ID, "every minute", t0)
	slot := t0.Truncate(time.Minute).Add(time.Minute)

	r, err := queueAt(t, s, c, slot, false, nil)
	check(t, "QueueScheduledRun", err)
	rec, err := s.GetRunRecord(ctx, r.ID)
	check(t, "GetRunRecord", err)
	equal(t, "status", rec.Status, "queued")
	equal(t, "late", rec.Late, false)
	equal(t, "due", rec.DueAt, ptr(slot))
	equal(t, "config name", rec.ConfigName, "every minute")
	equal(t, "agent name", rec.AgentName, "box")

	// The same slot again, or an earlier one: conflict, nothing stored.
	_, err = queueAt(t, s, c, slot, false, nil)
	wantErr(t, "same slot", err, store.ErrConflict)
	// A later slot while the run is still queued: conflict (one active run), and
	// the slot is not recorded either.
	_, err = queueAt(t, s, c, slot.Add(time.Minute), false, nil)
	wantErr(t, "second active run", err, store.ErrConflict)
	runs, err := s.ListRuns(ctx, store.RunFilter{ConfigID: c.ID})
	check(t, "ListRuns", err)
	equal(t, "runs", len(runs), 1)

	// Once it finished, the next slot queues, late, with its alert in the same go.
	r.Status, r.EndTime = "completed", ptr(slot.Add(time.Minute))
	check(t, "UpdateRun", s.UpdateRun(ctx, &r))
	al := store.Alert{UserID: u.ID, ConfigID: c.ID, Type: "late", Message: "late!", Timestamp: slot.Add(3 * time.Minute)}
	r2, err := queueAt(t, s, c, slot.Add(2*time.Minute), true, &al)
	check(t, "QueueScheduledRun late", err)
	rec2, err := s.GetRunRecord(ctx, r2.ID)
	check(t, "GetRunRecord", err)
	equal(t, "late", rec2.Late, true)
	alerts, _, err := s.ListAlerts(ctx, store.AlertFilter{UserID: u.ID})
	check(t, "ListAlerts", err)
	if len(alerts) != 1 || alerts[0].Type != "late" || alerts[0].ConfigID != c.ID || alerts[0].Message != "late!" {
		t.Errorf("alerts = %+v, want the one late alert", alerts)
	}
	other := mkUser(t, s, "other@example.com", t0, true)
	alerts, _, err = s.ListAlerts(ctx, store.AlertFilter{UserID: other.ID})
	check(t, "ListAlerts other", err)
	equal(t, "other's alerts", len(alerts), 0)
}

// testQueueScheduledRunRace: schedulers racing for one slot dispatch it once.
func testQueueScheduledRunRace(t *testing.T, s store.Store) {
	u := mkUser(t, s, "race@example.com", t0, true)
	a := mkAgent(t, s, u.ID, "box", t0)
	c := mkConfig(t, s, u.ID, a.ID, "racy", t0)
	slot := t0.Truncate(time.Minute).Add(time.Minute)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 8 {
		wg.Go(func() {
			r := store.Run{ConfigID: c.ID, UserID: c.UserID, AgentID: c.AgentID, StartTime: slot, Status: "queued"}
			err := s.QueueScheduledRun(context.Background(), store.ScheduledRun{Run: &r, Slot: slot, DueAt: slot})
			if err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			} else if !errorsIsConflict(err) {
				t.Errorf("QueueScheduledRun = %v, want nil or ErrConflict", err)
			}
		})
	}
	wg.Wait()
	equal(t, "successful dispatches", ok, 1)
}

func testSkipSlot(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "skip@example.com", t0, true)
	a := mkAgent(t, s, u.ID, "box", t0)
	c := mkConfig(t, s, u.ID, a.ID, "waiting", t0)
	slot := t0.Truncate(time.Minute).Add(time.Minute)
	r, err := queueAt(t, s, c, slot, false, nil)
	check(t, "queue", err)

	var named time.Time
	al := func(due time.Time) store.Alert {
		named = due
		return store.Alert{UserID: u.ID, ConfigID: c.ID, Type: "late", Message: "waiting for its agent", Timestamp: slot.Add(time.Minute)}
	}
	// Skipping the next slot names the waiting run's own due time, not the skipped one.
	flagged, err := s.SkipSlot(ctx, c.ID, slot.Add(time.Minute), slot.Add(time.Minute), al)
	check(t, "SkipSlot", err)
	equal(t, "flagged", flagged, true)
	equal(t, "due time the alert names", named, slot)
	// Later slots record themselves but flag nothing new: one alert per run.
	flagged, err = s.SkipSlot(ctx, c.ID, slot.Add(2*time.Minute), slot.Add(time.Minute), al)
	check(t, "SkipSlot again", err)
	equal(t, "flagged again", flagged, false)
	// An old slot does nothing.
	flagged, err = s.SkipSlot(ctx, c.ID, slot, slot, al)
	check(t, "SkipSlot old", err)
	equal(t, "flagged by an old slot", flagged, false)
	// The next real slot is after the skipped ones.
	_, err = queueAt(t, s, c, slot.Add(2*time.Minute), false, nil)
	wantErr(t, "queue a skipped slot", err, store.ErrConflict)

	rec, err := s.GetRunRecord(ctx, r.ID)
	check(t, "GetRunRecord", err)
	equal(t, "late", rec.Late, true)
	equal(t, "due stays the first slot", rec.DueAt, ptr(slot))
	alerts, _, err := s.ListAlerts(ctx, store.AlertFilter{})
	check(t, "ListAlerts", err)
	equal(t, "alerts", len(alerts), 1)

	// A running run is not flagged: it is not waiting for its agent.
	r.Status = "running"
	check(t, "UpdateRun", s.UpdateRun(ctx, &r))
	c2 := mkConfig(t, s, u.ID, a.ID, "busy", t0)
	r2, err := queueAt(t, s, c2, slot, false, nil)
	check(t, "queue c2", err)
	r2.Status = "running"
	check(t, "UpdateRun c2", s.UpdateRun(ctx, &r2))
	flagged, err = s.SkipSlot(ctx, c2.ID, slot.Add(time.Minute), slot, al)
	check(t, "SkipSlot running", err)
	equal(t, "running flagged", flagged, false)
}

func testCancelRun(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "cancel@example.com", t0, true)
	a := mkAgent(t, s, u.ID, "box", t0)
	c1 := mkConfig(t, s, u.ID, a.ID, "one", t0)
	c2 := mkConfig(t, s, u.ID, a.ID, "two", t0)
	q := mkRun(t, s, c1, "queued", t0)
	run := mkRun(t, s, c2, "running", t0)

	got, err := s.CancelRun(ctx, q.ID, t0.Add(time.Minute))
	check(t, "CancelRun queued", err)
	equal(t, "queued → status", got.Status, "cancelled")
	equal(t, "queued → end", got.EndTime, ptr(t0.Add(time.Minute).Truncate(time.Microsecond)))
	equal(t, "queued → cancel requested", got.CancelRequested, false)

	got, err = s.CancelRun(ctx, run.ID, t0.Add(time.Minute))
	check(t, "CancelRun running", err)
	equal(t, "running → status", got.Status, "running")
	equal(t, "running → cancel requested", got.CancelRequested, true)
	equal(t, "running → end", got.EndTime, (*time.Time)(nil))

	// A finished run is left alone.
	got, err = s.CancelRun(ctx, q.ID, t0.Add(2*time.Minute))
	check(t, "CancelRun cancelled", err)
	equal(t, "cancelled stays", got.EndTime, ptr(t0.Add(time.Minute).Truncate(time.Microsecond)))
	_, err = s.CancelRun(ctx, newID(t), t0)
	wantErr(t, "CancelRun missing", err, store.ErrNotFound)
	_, err = s.CancelRun(ctx, "not-an-id", t0)
	wantErr(t, "CancelRun bad id", err, store.ErrNotFound)
}

// testRunRecordsCountUpTo checks the capped count of the history: it stops at
// CountUpTo, on a full page, a last page and a page past the end alike.
func testRunRecordsCountUpTo(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "capped@example.com", t0, true)
	a := mkAgent(t, s, u.ID, "box", t0)
	c := mkConfig(t, s, u.ID, a.ID, "cfg", t0)
	for i := range 7 {
		mkRun(t, s, c, "completed", t0.Add(time.Duration(i)*time.Hour))
	}
	for _, tc := range []struct {
		name                string
		limit, offset, upTo int
		wantLen, wantTotal  int
	}{
		{"full page, capped", 3, 0, 5, 3, 5},
		{"full page, cap above", 3, 0, 100, 3, 7},
		{"full page, no cap", 3, 3, 0, 3, 7},
		{"last page", 3, 6, 100, 1, 7},
		{"last page, capped", 3, 6, 5, 1, 5},
		{"past the end", 3, 9, 100, 0, 7},
		{"past the end, capped", 3, 9, 4, 0, 4},
		{"one page holds all", 50, 0, 100, 7, 7},
	} {
		recs, total, err := s.ListRunRecords(ctx, store.RunFilter{UserID: u.ID, Limit: tc.limit, Offset: tc.offset, CountUpTo: tc.upTo})
		check(t, tc.name, err)
		equal(t, tc.name+": page length", len(recs), tc.wantLen)
		equal(t, tc.name+": total", total, tc.wantTotal)
	}
	_, total, err := s.ListRunRecords(ctx, store.RunFilter{UserID: u.ID, Status: "failed", Limit: 3, CountUpTo: 5})
	check(t, "no match", err)
	equal(t, "no match: total", total, 0)
}

// testRunRecordsSorted checks the history's orders: each key both ways, ties broken
// by id in the same direction, unfinished runs last by duration, paging within an order.
func testRunRecordsSorted(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "sorted@example.com", t0, true)
	a := mkAgent(t, s, u.ID, "box", t0)
	c := mkConfig(t, s, u.ID, a.ID, "cfg", t0)
	mk := func(h int, status string, d time.Duration, size int64) string {
		r := store.Run{ConfigID: c.ID, UserID: u.ID, AgentID: c.AgentID, StartTime: t0.Add(time.Duration(h) * time.Hour),
			Status: status, TotalBytes: size}
		check(t, "CreateRun", s.CreateRun(ctx, &r))
		if d > 0 {
			end := r.StartTime.Add(d)
			r.EndTime = &end
			if h == 2 { // a reported duration is the run's, whatever the clock says
				ms, early := d.Milliseconds(), r.StartTime.Add(time.Second)
				r.DurationMS, r.EndTime = &ms, &early
			}
			check(t, "UpdateRun", s.UpdateRun(ctx, &r))
		}
		return r.ID
	}
	r0 := mk(0, "completed", 5*time.Minute, 300)
	r1 := mk(1, "failed", time.Minute, 100)
	r2 := mk(2, "completed", 10*time.Minute, 200)
	r3 := mk(3, "running", 0, 50)
	r4 := mk(4, "cancelled", time.Minute, 100)
	lo, hi := min(r1, r4), max(r1, r4) // equal duration and size: id decides
	for _, tc := range []struct {
		sort string
		asc  bool
		want []string
	}{
		{"", false, []string{r4, r3, r2, r1, r0}},
		{"bogus", false, []string{r4, r3, r2, r1, r0}},
		{store.RunsByStart, true, []string{r0, r1, r2, r3, r4}},
		{store.RunsByDuration, false, []string{r2, r0, hi, lo, r3}},
		{store.RunsByDuration, true, []string{lo, hi, r0, r2, r3}},
		{store.RunsBySize, false, []string{r0, r2, hi, lo, r3}},
		{store.RunsBySize, true, []string{r3, lo, hi, r2, r0}},
		{store.RunsByStatus, true, []string{r4, r0, r2, r1, r3}},
		{store.RunsByStatus, false, []string{r3, r1, r2, r0, r4}},
	} {
		name := fmt.Sprintf("sort %q asc %v", tc.sort, tc.asc)
		recs, total, err := s.ListRunRecords(ctx, store.RunFilter{UserID: u.ID, Sort: tc.sort, Asc: tc.asc})
		check(t, name, err)
		equal(t, name+": total", total, 5)
		var got []string
		for _, r := range recs {
			got = append(got, r.ID)
		}
		equal(t, name, got, tc.want)
		recs, total, err = s.ListRunRecords(ctx, store.RunFilter{UserID: u.ID, Sort: tc.sort, Asc: tc.asc, Limit: 2, Offset: 2, CountUpTo: 4})
		check(t, name+", page 2", err)
		equal(t, name+", page 2: total capped", total, 4)
		equal(t, name+", page 2: length", len(recs), 2)
		equal(t, name+", page 2", []string{recs[0].ID, recs[1].ID}, tc.want[2:4])
	}
}

func testRunRecords(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "records@example.com", t0, true)
	v := mkUser(t, s, "v@example.com", t0, true)
	a := mkAgent(t, s, u.ID, "box", t0)
	b := mkAgent(t, s, v.ID, "other box", t0)
	cu := mkConfig(t, s, u.ID, a.ID, "u's", t0)
	cv := mkConfig(t, s, v.ID, b.ID, "v's", t0)
	var ids []string
	for i := range 7 {
		st := []string{"completed", "failed", "cancelled"}[i%3]
		r := mkRun(t, s, cu, st, t0.Add(time.Duration(i)*time.Hour))
		ids = append(ids, r.ID)
	}
	mkRun(t, s, cv, "completed", t0)

	recs, total, err := s.ListRunRecords(ctx, store.RunFilter{UserID: u.ID, Limit: 3})
	check(t, "ListRunRecords", err)
	equal(t, "total", total, 7)
	equal(t, "page length", len(recs), 3)
	equal(t, "newest first", recs[0].ID, ids[6])
	equal(t, "config name", recs[0].ConfigName, "u's")
	equal(t, "agent name", recs[0].AgentName, "box")
	recs, total, err = s.ListRunRecords(ctx, store.RunFilter{UserID: u.ID, Limit: 3, Offset: 6})
	check(t, "last page", err)
	equal(t, "last page total", total, 7)
	equal(t, "last page", len(recs), 1)
	equal(t, "last page run", recs[0].ID, ids[0])

	_, total, err = s.ListRunRecords(ctx, store.RunFilter{UserID: u.ID, Status: "failed"})
	check(t, "by status", err)
	equal(t, "failed", total, 2)
	_, total, err = s.ListRunRecords(ctx, store.RunFilter{Since: t0.Add(2 * time.Hour), Until: t0.Add(4 * time.Hour)})
	check(t, "by time", err)
	equal(t, "in [2h, 4h)", total, 2)
	_, total, err = s.ListRunRecords(ctx, store.RunFilter{AgentID: b.ID})
	check(t, "by agent", err)
	equal(t, "of agent b", total, 1)
	_, total, err = s.ListRunRecords(ctx, store.RunFilter{})
	check(t, "all", err)
	equal(t, "all runs", total, 8)
	_, total, err = s.ListRunRecords(ctx, store.RunFilter{Status: "late"})
	check(t, "late", err)
	equal(t, "late runs", total, 0)
	recs, total, err = s.ListRunRecords(ctx, store.RunFilter{ConfigID: "not-an-id"})
	check(t, "bad config id", err)
	equal(t, "bad id matches nothing", total+len(recs), 0)
	_, err = s.GetRunRecord(ctx, "not-an-id")
	wantErr(t, "GetRunRecord bad id", err, store.ErrNotFound)

	// Names are today's: a deleted agent leaves an empty name.
	check(t, "DeleteAgent", s.DeleteAgent(ctx, a.ID))
	rec, err := s.GetRunRecord(ctx, ids[0])
	check(t, "GetRunRecord", err)
	equal(t, "agent name after delete", rec.AgentName, "")
}

func testExpireRun(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "expire@example.com", t0, true)
	a := mkAgent(t, s, u.ID, "box", t0)
	c1 := mkConfig(t, s, u.ID, a.ID, "one", t0)
	c2 := mkConfig(t, s, u.ID, a.ID, "two", t0)
	done := mkRun(t, s, c1, "completed", t0)
	active := mkRun(t, s, c2, "running", t0)
	check(t, "ExpireRun", s.ExpireRun(ctx, done.ID, t0.Add(time.Hour)))
	rec, err := s.GetRunRecord(ctx, done.ID)
	check(t, "GetRunRecord", err)
	equal(t, "status", rec.Status, store.RunExpired)
	equal(t, "expired at", rec.ExpiredAt, ptr(t0.Add(time.Hour).Truncate(time.Microsecond)))
	check(t, "ExpireRun again", s.ExpireRun(ctx, done.ID, t0.Add(2*time.Hour)))
	rec, _ = s.GetRunRecord(ctx, done.ID)
	equal(t, "expired at stays", rec.ExpiredAt, ptr(t0.Add(time.Hour).Truncate(time.Microsecond)))
	_, err = s.LastCompletedRun(ctx, c1.ID)
	wantErr(t, "LastCompletedRun after expiry", err, store.ErrNotFound)
	wantErr(t, "ExpireRun running", s.ExpireRun(ctx, active.ID, t0), store.ErrConflict)
	wantErr(t, "ExpireRun missing", s.ExpireRun(ctx, newID(t), t0), store.ErrNotFound)
}

func errorsIsConflict(err error) bool { return errors.Is(err, store.ErrConflict) }

func testFlagLateQueued(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "waiting@example.com", t0, true)
	a := mkAgent(t, s, u.ID, "box", t0)
	c := mkConfig(t, s, u.ID, a.ID, "daily", t0)
	manual := mkConfig(t, s, u.ID, a.ID, "by hand", t0)
	slot := t0.Truncate(time.Minute).Add(time.Minute)
	r, err := queueAt(t, s, c, slot, false, nil)
	check(t, "queue", err)
	mkRun(t, s, manual, "queued", t0) // no slot: never late

	alert := func(r store.RunRecord) store.Alert {
		return store.Alert{UserID: r.UserID, ConfigID: r.ConfigID, Type: "late", Message: r.ConfigName + " is late", Timestamp: slot.Add(time.Hour)}
	}
	got, err := s.FlagLateQueued(ctx, slot, alert)
	check(t, "FlagLateQueued before", err)
	equal(t, "flagged at its slot", len(got), 0)
	got, err = s.FlagLateQueued(ctx, slot.Add(time.Hour), alert)
	check(t, "FlagLateQueued after", err)
	if len(got) != 1 || got[0].ID != r.ID || !got[0].Late {
		t.Fatalf("flagged %+v, want the scheduled run", got)
	}
	got, err = s.FlagLateQueued(ctx, slot.Add(2*time.Hour), alert)
	check(t, "FlagLateQueued again", err)
	equal(t, "flagged twice", len(got), 0)
	alerts, _, err := s.ListAlerts(ctx, store.AlertFilter{UserID: u.ID})
	check(t, "ListAlerts", err)
	if len(alerts) != 1 || alerts[0].Message != "daily is late" {
		t.Errorf("alerts = %+v, want one for daily", alerts)
	}
}

func testLatestRuns(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	alice := mkUser(t, s, "alice@example.com", t0, true)
	bob := mkUser(t, s, "bob@example.com", t0, false)
	a1 := mkAgent(t, s, alice.ID, "a1", t0)
	mkAgent(t, s, alice.ID, "a2-no-runs", t0)
	b1 := mkAgent(t, s, bob.ID, "b1", t0)
	c1 := mkConfig(t, s, alice.ID, a1.ID, "c1", t0)
	c2 := mkConfig(t, s, alice.ID, a1.ID, "c2", t0)
	mkConfig(t, s, alice.ID, a1.ID, "c3-no-runs", t0)
	d1 := mkConfig(t, s, bob.ID, b1.ID, "d1", t0)

	mkRun(t, s, c1, "completed", t0)
	c1Newest := mkRun(t, s, c1, "failed", t0.Add(2*time.Minute))
	mkRun(t, s, c1, "completed", t0.Add(time.Minute)) // stored later, started earlier
	c2Newest := mkRun(t, s, c2, "queued", t0.Add(5*time.Minute))
	mkRun(t, s, d1, "completed", t0.Add(-time.Hour))
	d1Newest := mkRun(t, s, d1, "completed", t0.Add(10*time.Minute))

	for _, tc := range []struct {
		what string
		per  store.RunsPer
		user string
		want map[string]string // config or agent id → run id
	}{
		{"alice's configs", store.PerConfig, alice.ID, map[string]string{c1.ID: c1Newest.ID, c2.ID: c2Newest.ID}},
		{"everyone's configs", store.PerConfig, "", map[string]string{c1.ID: c1Newest.ID, c2.ID: c2Newest.ID, d1.ID: d1Newest.ID}},
		{"bob's configs", store.PerConfig, bob.ID, map[string]string{d1.ID: d1Newest.ID}},
		{"alice's agents", store.PerAgent, alice.ID, map[string]string{a1.ID: c2Newest.ID}},
		{"everyone's agents", store.PerAgent, "", map[string]string{a1.ID: c2Newest.ID, b1.ID: d1Newest.ID}},
		{"nobody's configs", store.PerConfig, newID(t), map[string]string{}},
	} {
		runs, err := s.LatestRuns(ctx, tc.per, tc.user)
		check(t, "LatestRuns "+tc.what, err)
		got := map[string]string{}
		for _, r := range runs {
			key := r.ConfigID
			if tc.per == store.PerAgent {
				key = r.AgentID
			}
			if _, dup := got[key]; dup {
				t.Errorf("LatestRuns %s: two runs of %s", tc.what, key)
			}
			got[key] = r.ID
		}
		equal(t, "LatestRuns "+tc.what, got, tc.want)
	}
	r, err := s.LatestRuns(ctx, store.PerConfig, alice.ID)
	check(t, "LatestRuns", err)
	for _, x := range r {
		if x.ID == c1Newest.ID {
			sameRun(t, "LatestRuns' run", x, c1Newest)
		}
	}
}
