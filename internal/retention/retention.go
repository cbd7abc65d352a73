package retention

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/apperr"
)

// Run statuses, as in the store.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
)

// Run is what planning needs to know of one run of a config.
type Run struct {
	ID            string
	Time          time.Time // when the backup was taken (its start)
	Status        string    // see the Status constants
	Full          bool      // a full backup; else an incremental on PreviousRunID
	PreviousRunID string
	Keys          []string // its archive and manifest object keys
}

// Policy says which completed runs to keep; zero fields disable their rule.
type Policy struct {
	WithinDays  int
	KeepLast    int
	KeepDaily   int
	KeepWeekly  int
	KeepMonthly int
	// Location is where days, weeks and months begin (the config's timezone);
	// nil means UTC.
	Location *time.Location
}

// Empty reports whether no rule is set, in which case Plan keeps everything.
func (p Policy) Empty() bool {
	return p.WithinDays == 0 && p.KeepLast == 0 && p.KeepDaily == 0 && p.KeepWeekly == 0 && p.KeepMonthly == 0
}

// Validate returns an *apperr.Error of kind Invalid naming each negative field (by its
// JSON name) or nil.
func (p Policy) Validate() error {
	f := apperr.Fields{}
	for _, c := range []struct {
		name string
		v    int
	}{
		{"retentionDays", p.WithinDays}, {"keepLast", p.KeepLast}, {"keepDaily", p.KeepDaily},
		{"keepWeekly", p.KeepWeekly}, {"keepMonthly", p.KeepMonthly},
	} {
		if c.v < 0 {
			f.Add(c.name, "must be 0 (off) or more, not %d", c.v)
		}
	}
	return f.Err()
}

// Result is a plan.
type Result struct {
	Keep   []Kept     // newest first
	Delete []Deletion // in the order to delete: dependents before what they depend on
	// Warnings name broken chains found on the way (an incremental whose previous
	// run is not among the runs given); such runs are kept as the rules say.
	Warnings []string
}

// Kept is a run that stays, with every reason it stays.
type Kept struct {
	Run     Run
	Reasons []string
}

// Deletion is a run to delete, objects (Run.Keys) and all.
type Deletion struct {
	Run    Run
	Reason string
}

// Plan decides, for the runs of one config, which to keep and which to delete under
// p at now. It returns an error for an invalid policy or duplicate run IDs.
func Plan(runs []Run, p Policy, now time.Time) (Result, error) {
	if err := p.Validate(); err != nil {
		return Result{}, err
	}
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	byID := make(map[string]Run, len(runs))
	for _, r := range runs {
		if _, dup := byID[r.ID]; dup {
			return Result{}, fmt.Errorf("plan retention: run %s listed twice", r.ID)
		}
		byID[r.ID] = r
	}
	sorted := append([]Run(nil), runs...)
	sort.Slice(sorted, func(i, j int) bool {
		if !sorted[i].Time.Equal(sorted[j].Time) {
			return sorted[i].Time.After(sorted[j].Time)
		}
		return sorted[i].ID > sorted[j].ID // UUIDv7: later ID, later run
	})

	reasons := map[string][]string{}
	keep := func(id, why string) { reasons[id] = append(reasons[id], why) }

	if p.Empty() {
		for _, r := range sorted {
			keep(r.ID, "no retention policy")
		}
		return build(sorted, byID, reasons, nil), nil
	}

	var newest *Run
	var completed []Run
	for i, r := range sorted {
		if r.Status == StatusCompleted {
			if newest == nil {
				newest = &sorted[i]
			}
			completed = append(completed, r)
		}
	}

	cutoff := now.In(loc).AddDate(0, 0, -p.WithinDays)
	periods := []struct {
		n    int
		name string
		key  func(time.Time) string
	}{
		{p.KeepDaily, "daily", func(t time.Time) string { return t.Format("2006-01-02") }},
		{p.KeepWeekly, "weekly", func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%04d-W%02d", y, w) }},
		{p.KeepMonthly, "monthly", func(t time.Time) string { return t.Format("2006-01") }},
	}
	for i, r := range completed {
		if newest != nil && r.ID == newest.ID {
			keep(r.ID, "newest completed backup")
		}
		if i < p.KeepLast {
			keep(r.ID, fmt.Sprintf("one of the last %d", p.KeepLast))
		}
		if p.WithinDays > 0 && !r.Time.Before(cutoff) {
			keep(r.ID, fmt.Sprintf("within %d days", p.WithinDays))
		}
	}
	for _, per := range periods {
		if per.n == 0 {
			continue
		}
		last, count := "", 0
		for _, r := range completed {
			k := per.key(r.Time.In(loc))
			if k == last {
				continue
			}
			last = k
			if count++; count > per.n {
				break
			}
			keep(r.ID, fmt.Sprintf("%s %s", per.name, k))
		}
	}
	for _, r := range sorted {
		switch r.Status {
		case StatusCompleted:
		case StatusQueued, StatusRunning:
			keep(r.ID, "queued or running")
		case StatusFailed, StatusCancelled:
			if newest == nil || r.Time.After(newest.Time) {
				keep(r.ID, r.Status+" after the newest completed backup")
			}
		default:
			keep(r.ID, fmt.Sprintf("unknown status %q", r.Status))
		}
	}

	// Chains. Only runs that use their chain pin it: completed and active ones.
	var warnings []string
	pinned := map[string]bool{}
	for _, r := range sorted {
		if len(reasons[r.ID]) == 0 || (r.Status != StatusCompleted && r.Status != StatusQueued && r.Status != StatusRunning) {
			continue
		}
		for cur := r; !cur.Full && !pinned[cur.ID]; {
			pinned[cur.ID] = true
			if cur.PreviousRunID == "" {
				warnings = append(warnings, fmt.Sprintf("run %s is incremental but names no previous run", cur.ID))
				break
			}
			prev, ok := byID[cur.PreviousRunID]
			if !ok {
				warnings = append(warnings, fmt.Sprintf("run %s builds on run %s, which is missing: its chain is broken", cur.ID, cur.PreviousRunID))
				break
			}
			if !hasDependencyReason(reasons[prev.ID]) {
				keep(prev.ID, "needed by incremental "+cur.ID)
			}
			cur = prev
		}
	}
	return build(sorted, byID, reasons, warnings), nil
}

func hasDependencyReason(rs []string) bool {
	for _, r := range rs {
		if strings.HasPrefix(r, "needed by") {
			return true
		}
	}
	return false
}

func build(sorted []Run, byID map[string]Run, reasons map[string][]string, warnings []string) Result {
	res := Result{Warnings: warnings}
	var del []Run
	for _, r := range sorted {
		if rs := reasons[r.ID]; len(rs) > 0 {
			res.Keep = append(res.Keep, Kept{Run: r, Reasons: rs})
		} else {
			del = append(del, r)
		}
	}
	// Deeper in a chain first, then newest first: an incremental is always deeper than
	// the run it builds on, so nothing is deleted before what depends on it.
	depth := map[string]int{}
	var depthOf func(r Run, seen int) int
	depthOf = func(r Run, seen int) int {
		if d, ok := depth[r.ID]; ok {
			return d
		}
		d := 0
		if prev, ok := byID[r.PreviousRunID]; ok && !r.Full && seen < len(byID) {
			d = depthOf(prev, seen+1) + 1
		}
		depth[r.ID] = d
		return d
	}
	sort.SliceStable(del, func(i, j int) bool { return depthOf(del[i], 0) > depthOf(del[j], 0) })
	for _, r := range del {
		why := "not kept by any rule"
		if r.Status == StatusFailed || r.Status == StatusCancelled {
			why = r.Status + ", older than the newest completed backup"
		}
		res.Delete = append(res.Delete, Deletion{Run: r, Reason: why})
	}
	return res
}
