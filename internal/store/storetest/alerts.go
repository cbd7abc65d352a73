package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// alertTests check store.Alerts: one open alert per rule and subject, counted once
// per occurrence even when replicas race, resolved, acknowledged and filtered.
var alertTests = []test{
	{"RaiseAlertCountsOccurrences", testRaiseAlert},
	{"RaiseAlertRace", testRaiseAlertRace},
	{"AlertFiltersAndAcknowledge", testAlertFilters},
	{"AlertsSorted", testAlertsSorted},
	{"ConfigAges", testConfigAges},
}

func raise(t *testing.T, s store.Store, a store.Alert) (store.Alert, bool) {
	t.Helper()
	raised, err := s.RaiseAlert(context.Background(), &a)
	check(t, "RaiseAlert "+a.Ref, err)
	return a, raised
}

func testRaiseAlert(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "raise@example.com", t0, true)
	ag := mkAgent(t, s, u.ID, "box", t0)
	c := mkConfig(t, s, u.ID, ag.ID, "nightly", t0)
	mk := func(ref string, at time.Time) store.Alert {
		return store.Alert{UserID: u.ID, ConfigID: c.ID, AgentID: ag.ID, Type: "failure", Rule: "run_failed", Subject: c.ID,
			Ref: ref, Message: "failed " + ref, Timestamp: at}
	}
	first, raised := raise(t, s, mk("run1", t0))
	equal(t, "first raised", raised, true)
	again, raised := raise(t, s, mk("run1", t0.Add(time.Minute)))
	equal(t, "same occurrence raised", raised, false)
	equal(t, "same occurrence id", again.ID, first.ID)
	equal(t, "same occurrence count", again.Occurrences, 1)

	n, err := s.AcknowledgeAlerts(ctx, u.ID, []string{first.ID}, t0.Add(time.Minute))
	check(t, "AcknowledgeAlerts", err)
	equal(t, "acknowledged", n, 1)
	second, raised := raise(t, s, mk("run2", t0.Add(time.Hour)))
	equal(t, "new occurrence raised", raised, true)
	equal(t, "new occurrence id", second.ID, first.ID)
	equal(t, "count", second.Occurrences, 2)
	got, err := s.GetAlert(ctx, first.ID)
	check(t, "GetAlert", err)
	equal(t, "last occurrence", got.Last(), t0.Add(time.Hour).UTC().Truncate(time.Microsecond))
	equal(t, "message", got.Message, "failed run2")
	equal(t, "a new occurrence asks for attention again", got.Acknowledged, false)
	equal(t, "names", got.ConfigName+"/"+got.AgentName, "nightly/box")
	open, err := s.CountOpenAlerts(ctx, u.ID)
	check(t, "CountOpenAlerts", err)
	equal(t, "open", open, 1)

	res, err := s.ResolveAlert(ctx, "run_failed", c.ID, t0.Add(2*time.Hour), "the next run succeeded")
	check(t, "ResolveAlert", err)
	equal(t, "resolution", res.Resolution, "the next run succeeded")
	if res.ResolvedAt == nil {
		t.Fatal("ResolvedAt nil after ResolveAlert")
	}
	_, err = s.ResolveAlert(ctx, "run_failed", c.ID, t0.Add(3*time.Hour), "again")
	wantErr(t, "resolve twice", err, store.ErrNotFound)
	// After resolving, the rule opens a new alert.
	third, raised := raise(t, s, mk("run3", t0.Add(4*time.Hour)))
	equal(t, "raised after resolve", raised, true)
	if third.ID == first.ID {
		t.Error("a failure after the resolution reopened the resolved alert; want a new one")
	}
	openList, err := s.OpenAlerts(ctx, "run_failed")
	check(t, "OpenAlerts", err)
	equal(t, "open run_failed", len(openList), 1)
}

func testRaiseAlertRace(t *testing.T, s store.Store) {
	u := mkUser(t, s, "race-alert@example.com", t0, true)
	ag := mkAgent(t, s, u.ID, "box", t0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	raisedN := 0
	for i := range 8 {
		wg.Go(func() {
			a := store.Alert{UserID: u.ID, AgentID: ag.ID, Type: "failure", Rule: "agent_offline", Subject: ag.ID,
				Ref: "seen-1", Message: "offline", Timestamp: t0.Add(time.Duration(i) * time.Second)}
			raised, err := s.RaiseAlert(context.Background(), &a)
			if err != nil {
				t.Errorf("RaiseAlert: %v", err)
				return
			}
			mu.Lock()
			if raised {
				raisedN++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	equal(t, "raised by racing replicas", raisedN, 1)
	list, total, err := s.ListAlerts(context.Background(), store.AlertFilter{UserID: u.ID})
	check(t, "ListAlerts", err)
	equal(t, "rows", total, 1)
	equal(t, "count", list[0].Occurrences, 1)
}

func testAlertFilters(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "filters@example.com", t0, true)
	other := mkUser(t, s, "other-alerts@example.com", t0, false)
	ag := mkAgent(t, s, u.ID, "box", t0)
	c1 := mkConfig(t, s, u.ID, ag.ID, "one", t0)
	c2 := mkConfig(t, s, u.ID, ag.ID, "two", t0)
	a1, _ := raise(t, s, store.Alert{UserID: u.ID, ConfigID: c1.ID, Type: "failure", Rule: "run_failed", Subject: c1.ID, Ref: "r", Message: "m", Timestamp: t0})
	a2, _ := raise(t, s, store.Alert{UserID: u.ID, ConfigID: c2.ID, Type: "warning", Rule: "run_warning", Subject: c2.ID, Ref: "r", Message: "m", Timestamp: t0.Add(time.Second)})
	a3, _ := raise(t, s, store.Alert{UserID: u.ID, AgentID: ag.ID, Type: "failure", Rule: "agent_offline", Subject: ag.ID, Ref: "r", Message: "m", Timestamp: t0.Add(2 * time.Second)})
	raise(t, s, store.Alert{UserID: other.ID, Type: "failure", Rule: "x", Subject: "other", Ref: "r", Message: "m", Timestamp: t0})
	_, err := s.ResolveAlert(ctx, "agent_offline", ag.ID, t0.Add(time.Minute), "back online")
	check(t, "ResolveAlert", err)
	// Another user's id acknowledges nothing.
	n, err := s.AcknowledgeAlerts(ctx, other.ID, []string{a1.ID, a2.ID}, t0)
	check(t, "AcknowledgeAlerts other", err)
	equal(t, "acknowledged by another user", n, 0)
	n, err = s.AcknowledgeAlerts(ctx, u.ID, []string{a2.ID, a3.ID, "not-an-id"}, t0)
	check(t, "AcknowledgeAlerts", err)
	equal(t, "acknowledged (the resolved one is left)", n, 1)

	ids := func(f store.AlertFilter) []string {
		t.Helper()
		f.UserID = u.ID
		list, total, err := s.ListAlerts(ctx, f)
		check(t, "ListAlerts", err)
		equal(t, "total", total, len(list))
		out := []string{}
		for _, a := range list {
			out = append(out, a.ID)
		}
		return out
	}
	equal(t, "all, newest first", ids(store.AlertFilter{}), []string{a3.ID, a2.ID, a1.ID})
	equal(t, "open", ids(store.AlertFilter{State: store.AlertOpen}), []string{a1.ID})
	equal(t, "acknowledged", ids(store.AlertFilter{State: store.AlertAcknowledged}), []string{a2.ID})
	equal(t, "resolved", ids(store.AlertFilter{State: store.AlertResolved}), []string{a3.ID})
	equal(t, "type", ids(store.AlertFilter{Type: "warning"}), []string{a2.ID})
	equal(t, "config", ids(store.AlertFilter{ConfigID: c1.ID}), []string{a1.ID})
	equal(t, "agent", ids(store.AlertFilter{AgentID: ag.ID}), []string{a3.ID})
	open, err := s.CountOpenAlerts(ctx, u.ID)
	check(t, "CountOpenAlerts", err)
	equal(t, "open count", open, 1)
}

// testAlertsSorted checks the alerts list's orders: each key both ways, ties broken
// by last occurrence then id in the same direction, paging within an order.
func testAlertsSorted(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "alerts-sorted@example.com", t0, true)
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	mk := func(typ, rule string, secs ...int) string {
		var a store.Alert
		for i, sec := range secs { // each later one is another occurrence
			a, _ = raise(t, s, store.Alert{UserID: u.ID, Type: typ, Rule: rule, Subject: "s", Ref: fmt.Sprint(i),
				Message: "m", Timestamp: at(sec)})
		}
		return a.ID
	}
	a0 := mk("failure", "r0", 1)       // open, 1 occurrence, last at 1 s
	a1 := mk("warning", "r1", 2, 5, 6) // acknowledged, 3, last at 6 s
	a2 := mk("info", "r2", 3)          // resolved, 1, last at 3 s
	a3 := mk("failure", "r3", 4, 7)    // open, 2, last at 7 s
	a4 := mk("failure", "r4", 1)       // as a0: only the id orders them
	lo, hi := min(a0, a4), max(a0, a4)
	_, err := s.AcknowledgeAlerts(ctx, u.ID, []string{a1}, at(8))
	check(t, "AcknowledgeAlerts", err)
	_, err = s.ResolveAlert(ctx, "r2", "s", at(9), "gone")
	check(t, "ResolveAlert", err)
	for _, tc := range []struct {
		sort string
		asc  bool
		want []string
	}{
		{"", false, []string{a3, a1, a2, hi, lo}},
		{"bogus", false, []string{a3, a1, a2, hi, lo}},
		{store.AlertsByLast, true, []string{lo, hi, a2, a1, a3}},
		{store.AlertsByType, true, []string{lo, hi, a3, a2, a1}},
		{store.AlertsByType, false, []string{a1, a2, a3, hi, lo}},
		{store.AlertsByCount, true, []string{lo, hi, a2, a3, a1}},
		{store.AlertsByCount, false, []string{a1, a3, a2, hi, lo}},
		{store.AlertsByState, true, []string{lo, hi, a3, a1, a2}},
		{store.AlertsByState, false, []string{a2, a1, a3, hi, lo}},
	} {
		name := fmt.Sprintf("sort %q asc %v", tc.sort, tc.asc)
		ids := func(f store.AlertFilter) []string {
			t.Helper()
			f.UserID, f.Sort, f.Asc = u.ID, tc.sort, tc.asc
			list, total, err := s.ListAlerts(ctx, f)
			check(t, name, err)
			equal(t, name+": total", total, 5)
			out := []string{}
			for _, a := range list {
				out = append(out, a.ID)
			}
			return out
		}
		equal(t, name, ids(store.AlertFilter{}), tc.want)
		equal(t, name+", page 2", ids(store.AlertFilter{Limit: 2, Offset: 2}), tc.want[2:4])
	}
}

func testConfigAges(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "ages@example.com", t0, true)
	ag := mkAgent(t, s, u.ID, "box", t0)
	c := mkConfig(t, s, u.ID, ag.ID, "aged", t0)
	r := mkRun(t, s, c, "completed", t0.Add(time.Hour))
	r.EndTime = ptr(t0.Add(time.Hour + time.Minute))
	check(t, "UpdateRun", s.UpdateRun(ctx, &r))
	mkRun(t, s, c, "failed", t0.Add(2*time.Hour))
	ages, err := s.ConfigAges(ctx)
	check(t, "ConfigAges", err)
	for _, a := range ages {
		if a.ID != c.ID {
			continue
		}
		if a.LastSuccess == nil || r.EndTime == nil || !a.LastSuccess.Equal(*r.EndTime) {
			t.Errorf("LastSuccess = %v, want the completed run's end %v", a.LastSuccess, r.EndTime)
		}
		sameJSON(t, "options", a.Options, c.Options)
		return
	}
	t.Fatalf("ConfigAges = %+v, want config %s", ages, c.ID)
}
