package retention

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/apperr"
)

var now = time.Date(2026, 4, 15, 12, 0, 0, 0, time.UTC)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// full and inc build runs; keys follow the seed's layout.
func full(id, when string) Run {
	return Run{ID: id, Time: at(when), Status: StatusCompleted, Full: true, Keys: keys(id)}
}

func inc(id, prev, when string) Run {
	return Run{ID: id, Time: at(when), Status: StatusCompleted, PreviousRunID: prev, Keys: keys(id)}
}

func with(r Run, status string) Run { r.Status = status; return r }

func keys(id string) []string {
	k := "users/u/agents/a/configs/c/backup-" + id + ".tar.zst"
	return []string{k, k + ".manifest"}
}

func loc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name   string
		runs   []Run
		policy Policy
		now    time.Time
		keep   map[string]string // id → reasons joined by "; "
		delete []string          // in order
	}{
		{
			name:   "no policy keeps everything",
			runs:   []Run{full("f1", "2020-01-01T00:00:00Z"), full("f2", "2021-01-01T00:00:00Z")},
			keep:   map[string]string{"f1": "no retention policy", "f2": "no retention policy"},
			delete: nil,
		},
		{
			name: "keep last 2",
			runs: []Run{
				full("f1", "2026-04-11T02:00:00Z"), full("f2", "2026-04-12T02:00:00Z"),
				full("f3", "2026-04-13T02:00:00Z"), full("f4", "2026-04-14T02:00:00Z"),
			},
			policy: Policy{KeepLast: 2},
			keep:   map[string]string{"f4": "newest completed backup; one of the last 2", "f3": "one of the last 2"},
			delete: []string{"f2", "f1"},
		},
		{
			name: "newest is kept even when every rule drops it",
			runs: []Run{
				full("f1", "2026-01-01T02:00:00Z"), full("f2", "2026-02-01T02:00:00Z"),
				with(full("x", "2026-04-14T02:00:00Z"), StatusFailed),
			},
			policy: Policy{WithinDays: 7},
			keep: map[string]string{
				"f2": "newest completed backup",
				"x":  "failed after the newest completed backup",
			},
			delete: []string{"f1"},
		},
		{
			name: "newest is an incremental: its whole chain stays",
			runs: []Run{
				full("f1", "2026-01-01T02:00:00Z"), inc("i1", "f1", "2026-01-02T02:00:00Z"), inc("i2", "i1", "2026-01-03T02:00:00Z"),
			},
			policy: Policy{WithinDays: 30},
			keep: map[string]string{
				"i2": "newest completed backup",
				"i1": "needed by incremental i2",
				"f1": "needed by incremental i1",
			},
		},
		{
			name: "an old chain goes as a whole, incrementals first",
			runs: []Run{
				full("f1", "2026-04-01T02:00:00Z"), inc("i1", "f1", "2026-04-02T02:00:00Z"),
				inc("i2", "i1", "2026-04-03T02:00:00Z"), inc("i3", "i2", "2026-04-04T02:00:00Z"),
				full("f2", "2026-04-05T02:00:00Z"), inc("i4", "f2", "2026-04-06T02:00:00Z"),
			},
			policy: Policy{KeepLast: 1},
			keep: map[string]string{
				"i4": "newest completed backup; one of the last 1",
				"f2": "needed by incremental i4",
			},
			delete: []string{"i3", "i2", "i1", "f1"},
		},
		{
			name: "a kept incremental keeps its full; the chain's tail after it goes",
			runs: []Run{
				full("f1", "2026-02-27T02:00:00Z"), inc("i1", "f1", "2026-02-28T02:00:00Z"),
				inc("i2", "i1", "2026-03-01T02:00:00Z"), inc("i3", "i2", "2026-03-02T02:00:00Z"),
				full("f2", "2026-03-03T02:00:00Z"),
			},
			policy: Policy{KeepMonthly: 2},
			keep: map[string]string{
				"f2": "newest completed backup; monthly 2026-03",
				"i1": "monthly 2026-02",
				"f1": "needed by incremental i1",
			},
			delete: []string{"i3", "i2"},
		},
		{
			name: "a kept full cannot save a deleted incremental, but an incremental saves its full",
			runs: []Run{
				full("f1", "2026-04-10T02:00:00Z"), inc("i1", "f1", "2026-04-10T14:00:00Z"),
				inc("i2", "i1", "2026-04-11T02:00:00Z"), full("f2", "2026-04-12T02:00:00Z"),
			},
			policy: Policy{KeepDaily: 2},
			keep: map[string]string{
				"f2": "newest completed backup; daily 2026-04-12",
				"i2": "daily 2026-04-11",
				"i1": "needed by incremental i2",
				"f1": "needed by incremental i1",
			},
		},
		{
			name: "daily counts days that have runs, newest run of each day",
			runs: []Run{
				full("a", "2026-04-01T01:00:00Z"), full("b", "2026-04-01T13:00:00Z"),
				full("c", "2026-04-05T01:00:00Z"), full("d", "2026-04-05T13:00:00Z"),
				full("e", "2026-04-09T13:00:00Z"),
			},
			policy: Policy{KeepDaily: 3},
			keep: map[string]string{
				"e": "newest completed backup; daily 2026-04-09",
				"d": "daily 2026-04-05",
				"b": "daily 2026-04-01",
			},
			delete: []string{"c", "a"},
		},
		{
			name: "months in UTC",
			runs: []Run{
				full("a", "2026-03-31T21:00:00Z"), // Berlin: March 31, 23:00
				full("b", "2026-03-31T23:30:00Z"), // Berlin: April 1, 01:30
				full("c", "2026-04-15T10:00:00Z"),
			},
			policy: Policy{KeepMonthly: 2},
			keep: map[string]string{
				"c": "newest completed backup; monthly 2026-04",
				"b": "monthly 2026-03",
			},
			delete: []string{"a"},
		},
		{
			name: "months in Europe/Berlin",
			runs: []Run{
				full("a", "2026-03-31T21:00:00Z"),
				full("b", "2026-03-31T23:30:00Z"),
				full("c", "2026-04-15T10:00:00Z"),
			},
			policy: Policy{KeepMonthly: 2, Location: loc("Europe/Berlin")},
			keep: map[string]string{
				"c": "newest completed backup; monthly 2026-04",
				"a": "monthly 2026-03",
			},
			delete: []string{"b"},
		},
		{
			name: "days in Asia/Kolkata",
			runs: []Run{
				full("a", "2026-04-13T18:00:00Z"), // Kolkata: April 13, 23:30
				full("b", "2026-04-13T18:40:00Z"), // Kolkata: April 14, 00:10
				full("c", "2026-04-14T12:00:00Z"), // Kolkata: April 14, 17:30
			},
			policy: Policy{KeepDaily: 2, Location: loc("Asia/Kolkata")},
			keep: map[string]string{
				"c": "newest completed backup; daily 2026-04-14",
				"a": "daily 2026-04-13",
			},
			delete: []string{"b"},
		},
		{
			name: "ISO weeks in America/New_York",
			runs: []Run{
				full("a", "2026-04-06T03:30:00Z"), // New York: Sunday April 5, 23:30 (week 14)
				full("b", "2026-04-06T04:30:00Z"), // New York: Monday April 6, 00:30 (week 15)
				full("c", "2026-04-12T12:00:00Z"), // Sunday April 12 (week 15)
			},
			policy: Policy{KeepWeekly: 2, Location: loc("America/New_York")},
			keep: map[string]string{
				"c": "newest completed backup; weekly 2026-W15",
				"a": "weekly 2026-W14",
			},
			delete: []string{"b"},
		},
		{
			name: "within days is calendar days in the zone, boundary included",
			runs: []Run{
				full("a", "2026-04-08T11:59:59Z"),
				full("b", "2026-04-08T12:00:00Z"),
				full("c", "2026-04-15T11:00:00Z"),
			},
			policy: Policy{WithinDays: 7},
			keep: map[string]string{
				"c": "newest completed backup; within 7 days",
				"b": "within 7 days",
			},
			delete: []string{"a"},
		},
		{
			name: "rules combine; each reason is listed",
			runs: []Run{
				full("m", "2026-02-10T02:00:00Z"),
				full("w", "2026-04-01T02:00:00Z"),
				full("d1", "2026-04-13T02:00:00Z"),
				full("d2", "2026-04-14T02:00:00Z"),
				full("old", "2026-01-10T02:00:00Z"),
			},
			policy: Policy{KeepLast: 1, KeepDaily: 2, KeepWeekly: 2, KeepMonthly: 2}, // March has no run: February is the 2nd month
			keep: map[string]string{
				"d2": "newest completed backup; one of the last 1; daily 2026-04-14; weekly 2026-W16; monthly 2026-04",
				"d1": "daily 2026-04-13",
				"w":  "weekly 2026-W14",
				"m":  "monthly 2026-02",
			},
			delete: []string{"old"},
		},
		{
			name: "failed and cancelled runs: older ones go, newer ones stay and pin nothing",
			runs: []Run{
				full("f1", "2026-04-01T02:00:00Z"),
				with(inc("x1", "f1", "2026-04-02T02:00:00Z"), StatusFailed),
				full("f2", "2026-04-03T02:00:00Z"),
				with(full("x2", "2026-04-04T02:00:00Z"), StatusCancelled),
				with(inc("x3", "f1", "2026-04-05T02:00:00Z"), StatusFailed),
			},
			policy: Policy{KeepLast: 1},
			keep: map[string]string{
				"f2": "newest completed backup; one of the last 1",
				"x2": "cancelled after the newest completed backup",
				"x3": "failed after the newest completed backup",
			},
			delete: []string{"x1", "f1"},
		},
		{
			name: "no completed run yet: failed runs stay",
			runs: []Run{
				with(full("x1", "2026-04-01T02:00:00Z"), StatusFailed),
				with(full("x2", "2026-04-02T02:00:00Z"), StatusFailed),
			},
			policy: Policy{KeepLast: 1},
			keep: map[string]string{
				"x1": "failed after the newest completed backup",
				"x2": "failed after the newest completed backup",
			},
		},
		{
			name: "a running incremental pins the chain it builds on",
			runs: []Run{
				full("f1", "2026-03-01T02:00:00Z"), inc("i1", "f1", "2026-03-02T02:00:00Z"),
				full("f2", "2026-04-01T02:00:00Z"),
				with(inc("r", "i1", "2026-04-15T11:00:00Z"), StatusRunning),
				with(full("q", "2026-04-15T11:30:00Z"), StatusQueued),
			},
			policy: Policy{KeepLast: 1},
			keep: map[string]string{
				"f2": "newest completed backup; one of the last 1",
				"r":  "queued or running",
				"q":  "queued or running",
				"i1": "needed by incremental r",
				"f1": "needed by incremental i1",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := tt.now
			if n.IsZero() {
				n = now
			}
			res, err := Plan(tt.runs, tt.policy, n)
			if err != nil {
				t.Fatal(err)
			}
			gotKeep := map[string]string{}
			for _, k := range res.Keep {
				gotKeep[k.Run.ID] = strings.Join(k.Reasons, "; ")
			}
			if !reflect.DeepEqual(gotKeep, tt.keep) {
				t.Errorf("keep:\n got %q\nwant %q", gotKeep, tt.keep)
			}
			var gotDel []string
			for _, d := range res.Delete {
				gotDel = append(gotDel, d.Run.ID)
				if !reflect.DeepEqual(d.Run.Keys, keys(d.Run.ID)) {
					t.Errorf("delete %s: keys %q, want %q", d.Run.ID, d.Run.Keys, keys(d.Run.ID))
				}
			}
			if !reflect.DeepEqual(gotDel, tt.delete) {
				t.Errorf("delete: got %q, want %q", gotDel, tt.delete)
			}
			if len(res.Warnings) > 0 {
				t.Errorf("warnings: %q", res.Warnings)
			}
			checkChains(t, tt.runs, res)
		})
	}
}

// checkChains: every kept run that uses its chain still has all of it, and deleting
// in order never removes a run that a not-yet-deleted run depends on.
func checkChains(t *testing.T, runs []Run, res Result) {
	t.Helper()
	byID := map[string]Run{}
	for _, r := range runs {
		byID[r.ID] = r
	}
	present := map[string]bool{}
	for _, r := range runs {
		present[r.ID] = true
	}
	check := func(when string) {
		for id := range present {
			r := byID[id]
			if r.Status != StatusCompleted && r.Status != StatusRunning && r.Status != StatusQueued {
				continue
			}
			for cur := r; !cur.Full && cur.PreviousRunID != ""; cur = byID[cur.PreviousRunID] {
				if !present[cur.PreviousRunID] {
					t.Errorf("%s: %s is present but %s, in its chain, is not", when, id, cur.PreviousRunID)
					break
				}
			}
		}
	}
	for _, d := range res.Delete {
		delete(present, d.Run.ID)
		check("after deleting " + d.Run.ID)
	}
}

func TestPlanDeletionReasons(t *testing.T) {
	runs := []Run{
		full("f1", "2026-04-01T02:00:00Z"),
		with(full("x", "2026-04-02T02:00:00Z"), StatusFailed),
		with(full("y", "2026-04-02T03:00:00Z"), StatusCancelled),
		full("f2", "2026-04-03T02:00:00Z"),
	}
	res, err := Plan(runs, Policy{KeepLast: 1}, now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range res.Delete {
		got[d.Run.ID] = d.Reason
	}
	want := map[string]string{
		"f1": "not kept by any rule",
		"x":  "failed, older than the newest completed backup",
		"y":  "cancelled, older than the newest completed backup",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reasons:\n got %q\nwant %q", got, want)
	}
}

func TestPlanBrokenChainWarns(t *testing.T) {
	runs := []Run{
		inc("i1", "gone", "2026-04-01T02:00:00Z"),
		{ID: "i2", Time: at("2026-04-02T02:00:00Z"), Status: StatusCompleted},
		full("f1", "2026-03-01T02:00:00Z"),
	}
	res, err := Plan(runs, Policy{KeepLast: 2}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"run i2 is incremental but names no previous run",
		"run i1 builds on run gone, which is missing: its chain is broken",
	}
	if !reflect.DeepEqual(res.Warnings, want) {
		t.Errorf("warnings:\n got %q\nwant %q", res.Warnings, want)
	}
	var del []string
	for _, d := range res.Delete {
		del = append(del, d.Run.ID)
	}
	if !reflect.DeepEqual(del, []string{"f1"}) {
		t.Errorf("delete: got %q, want [f1]", del)
	}
}

func TestPlanRejects(t *testing.T) {
	_, err := Plan(nil, Policy{KeepLast: -1, KeepMonthly: -2}, now)
	var e *apperr.Error
	if !errors.As(err, &e) {
		t.Fatalf("Plan with negative counts: %v, want an *apperr.Error", err)
	}
	want := map[string]string{"keepLast": "must be 0 (off) or more, not -1", "keepMonthly": "must be 0 (off) or more, not -2"}
	if !reflect.DeepEqual(map[string]string(e.Fields), want) {
		t.Errorf("fields: got %q, want %q", e.Fields, want)
	}

	_, err = Plan([]Run{full("a", "2026-04-01T02:00:00Z"), full("a", "2026-04-02T02:00:00Z")}, Policy{KeepLast: 1}, now)
	if err == nil || err.Error() != "plan retention: run a listed twice" {
		t.Errorf("duplicate IDs: got %v, want %q", err, "plan retention: run a listed twice")
	}
}

func TestPlanDoesNotModifyInput(t *testing.T) {
	runs := []Run{full("b", "2026-04-02T02:00:00Z"), full("a", "2026-04-01T02:00:00Z"), full("c", "2026-04-03T02:00:00Z")}
	before := append([]Run(nil), runs...)
	if _, err := Plan(runs, Policy{KeepLast: 1}, now); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(runs, before) {
		t.Errorf("Plan reordered its input")
	}
}
