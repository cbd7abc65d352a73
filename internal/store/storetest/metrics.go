package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// mkSizedRun stores a run of c with known outcome, times and sizes.
func mkSizedRun(t *testing.T, s store.Store, c store.BackupConfig, status string, at time.Time, took time.Duration, dest string, archive, manifest int64) store.Run {
	t.Helper()
	r := mkRun(t, s, c, status, at)
	if status == "queued" || status == "running" {
		return r
	}
	end := at.Add(took)
	ms := took.Milliseconds()
	r.EndTime, r.DurationMS = &end, &ms
	r.DestinationID, r.ArchiveSize, r.ManifestSize, r.TotalBytes = dest, archive, manifest, 2*archive
	check(t, "UpdateRun", s.UpdateRun(context.Background(), &r))
	return r
}

// lastSuccesses and latestStatuses are ConfigStates by configuration.
func lastSuccesses(t *testing.T, s store.Store, userID string) map[string]time.Time {
	t.Helper()
	cs, err := s.ConfigStates(context.Background(), userID)
	check(t, "ConfigStates", err)
	out := map[string]time.Time{}
	for _, c := range cs {
		if c.LastSuccess != nil {
			out[c.ID] = *c.LastSuccess
		}
	}
	return out
}

func latestStatuses(t *testing.T, s store.Store, userID string) map[string]string {
	t.Helper()
	cs, err := s.ConfigStates(context.Background(), userID)
	check(t, "ConfigStates", err)
	out := map[string]string{}
	for _, c := range cs {
		if c.LatestStatus != "" {
			out[c.ID] = c.LatestStatus
		}
	}
	return out
}

// testMetrics checks EachRunStat, StorageUsage and LastSuccesses against runs with
// known sizes and outcomes, per user and for everyone.
func testMetrics(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	alice := mkUser(t, s, "alice@example.com", t0, true)
	bob := mkUser(t, s, "bob@example.com", t0, false)
	a1 := mkAgent(t, s, alice.ID, "a1", t0)
	b1 := mkAgent(t, s, bob.ID, "b1", t0)
	c1 := mkConfig(t, s, alice.ID, a1.ID, "c1", t0)
	c2 := mkConfig(t, s, alice.ID, a1.ID, "c2", t0)
	d1 := mkConfig(t, s, bob.ID, b1.ID, "d1", t0)
	const dA, dB = "dest-a", "dest-b"

	old := mkSizedRun(t, s, c1, "completed", t0.Add(-48*time.Hour), time.Minute, dA, 1000, 10)
	mkSizedRun(t, s, c1, "completed", t0, 2*time.Minute, dA, 2000, 20)
	mkSizedRun(t, s, c1, "failed", t0.Add(time.Hour), 30*time.Second, dA, 0, 0)
	c2Done := mkSizedRun(t, s, c2, "completed", t0.Add(2*time.Hour), 4*time.Minute, dB, 500, 5)
	mkSizedRun(t, s, c2, "running", t0.Add(3*time.Hour), 0, "", 0, 0)
	mkSizedRun(t, s, d1, "completed", t0.Add(time.Hour), time.Minute, dA, 7000, 70)
	check(t, "ExpireRun", s.ExpireRun(ctx, old.ID, t0))

	var got []store.RunStat
	check(t, "EachRunStat", s.EachRunStat(ctx, alice.ID, t0, func(r store.RunStat) error {
		got = append(got, r)
		return nil
	}))
	if len(got) != 4 {
		t.Fatalf("EachRunStat alice since t0: %d runs, want 4", len(got))
	}
	equal(t, "first stat's status", got[0].Status, "completed")
	equal(t, "first stat's stored bytes", got[0].Stored, int64(2020))
	equal(t, "first stat's total bytes", got[0].TotalBytes, int64(4000))
	equal(t, "first stat's duration", *got[0].DurationMS, int64(120000))
	equal(t, "first stat's destination", got[0].DestinationID, dA)
	equal(t, "first stat's agent", got[0].AgentID, a1.ID)
	equal(t, "order", got[3].Status, "running")
	n := 0
	check(t, "EachRunStat all", s.EachRunStat(ctx, "", time.Time{}, func(store.RunStat) error { n++; return nil }))
	equal(t, "everyone's runs", n, 6)
	stop := errors.New("stop")
	if err := s.EachRunStat(ctx, "", time.Time{}, func(store.RunStat) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("EachRunStat returns fn's error: got %v", err)
	}

	use, err := s.StorageUsage(ctx, alice.ID)
	check(t, "StorageUsage", err)
	equal(t, "alice's usage", use, []store.StorageUse{
		{DestinationID: dA, ConfigID: c1.ID, AgentID: a1.ID, Bytes: 2020, Objects: 2, Runs: 1},
		{DestinationID: dB, ConfigID: c2.ID, AgentID: a1.ID, Bytes: 505, Objects: 2, Runs: 1},
	})
	all, err := s.StorageUsage(ctx, "")
	check(t, "StorageUsage all", err)
	var total int64
	for _, u := range all {
		total += u.Bytes
	}
	equal(t, "everyone's bytes (expired run left out)", total, int64(2020+505+7070))

	equal(t, "alice's last successes", lastSuccesses(t, s, alice.ID), map[string]time.Time{
		c1.ID: t0.Add(2 * time.Minute),
		c2.ID: *c2Done.EndTime,
	})
	// The daily history keeps what each day held: expiring a run changes today's
	// record, not yesterday's; recording a day again replaces it.
	day1, day2 := t0, t0.Add(24*time.Hour)
	check(t, "RecordStorageDay", s.RecordStorageDay(ctx, day1))
	check(t, "RecordStorageDay again", s.RecordStorageDay(ctx, day1))
	check(t, "ExpireRun", s.ExpireRun(ctx, c2Done.ID, day2))
	check(t, "RecordStorageDay 2", s.RecordStorageDay(ctx, day2))
	hist, err := s.StorageHistory(ctx, alice.ID, day1)
	check(t, "StorageHistory", err)
	equal(t, "alice's history", hist, []store.StorageDay{
		{Day: "2025-03-01", Bytes: 2020 + 505, Objects: 4},
		{Day: "2025-03-02", Bytes: 2020, Objects: 2},
	})
	hist, err = s.StorageHistory(ctx, "", day2)
	check(t, "StorageHistory all", err)
	equal(t, "everyone's history from day 2", hist, []store.StorageDay{{Day: "2025-03-02", Bytes: 2020 + 7070, Objects: 4}})

	cs, err := s.ConfigStates(ctx, newID(t))
	check(t, "ConfigStates nobody", err)
	equal(t, "nobody's configurations", len(cs), 0)
	cs, err = s.ConfigStates(ctx, alice.ID)
	check(t, "ConfigStates alice", err)
	if len(cs) != 2 || cs[0].ID != c1.ID || cs[0].Name != "c1" || !cs[0].Enabled || cs[1].ID != c2.ID || cs[1].LatestStatus != "running" {
		t.Errorf("alice's configuration states: %+v", cs)
	}
}

// testRunTotals checks that RunDays and StorageUsage, read from totals the store
// keeps as runs change, equal what the runs themselves add up to after every kind
// of change: runs queued, settled, resized, expired, moved to another day, and
// deleted with their configuration or user. since falls mid-day.
func testRunTotals(t *testing.T, s store.Store) {
	ctx := context.Background()
	day := time.Date(2025, 5, 10, 0, 0, 0, 0, time.UTC)
	alice := mkUser(t, s, "alice@example.com", day, true)
	bob := mkUser(t, s, "bob@example.com", day, false)
	carol := mkUser(t, s, "carol@example.com", day, false)
	a1 := mkAgent(t, s, alice.ID, "a1", day)
	b1 := mkAgent(t, s, bob.ID, "b1", day)
	k1 := mkAgent(t, s, carol.ID, "k1", day)
	c1 := mkConfig(t, s, alice.ID, a1.ID, "c1", day)
	c2 := mkConfig(t, s, alice.ID, a1.ID, "c2", day)
	gone := mkConfig(t, s, alice.ID, a1.ID, "gone", day)
	d1 := mkConfig(t, s, bob.ID, b1.ID, "d1", day)
	k := mkConfig(t, s, carol.ID, k1.ID, "k", day)

	// Runs over four days, two of them in the early hours (before since's time of day).
	at := func(d, h int) time.Time { return day.Add(time.Duration(d)*24*time.Hour + time.Duration(h)*time.Hour) }
	mkSizedRun(t, s, c1, "completed", at(0, 1), time.Minute, "dA", 100, 1)
	mkSizedRun(t, s, c1, "completed", at(0, 20), 2*time.Minute, "dA", 200, 2)
	early := mkSizedRun(t, s, c1, "failed", at(1, 2), time.Minute, "dA", 0, 0)
	exp := mkSizedRun(t, s, c1, "completed", at(1, 14), 3*time.Minute, "dB", 300, 3)
	mkSizedRun(t, s, c2, "completed", at(2, 9), time.Minute, "", 400, 0)
	settle := mkRun(t, s, c2, "running", at(3, 10))
	mkSizedRun(t, s, gone, "completed", at(2, 11), time.Minute, "dA", 500, 5)
	mkSizedRun(t, s, gone, "failed", at(3, 1), time.Minute, "dA", 0, 0)
	mkSizedRun(t, s, d1, "completed", at(1, 15), 4*time.Minute, "dA", 600, 6)
	mkSizedRun(t, s, d1, "cancelled", at(3, 5), time.Minute, "dA", 0, 0)
	mkSizedRun(t, s, k, "completed", at(2, 12), time.Minute, "dC", 700, 7)

	// The changes: a run settles, another is resized, one expires, one moves to
	// another day, a configuration is deleted with its runs, and so is a user.
	end := at(3, 11)
	check(t, "RecordRunProgress", s.RecordRunProgress(ctx, settle.ID, store.RunProgress{Time: end, TotalBytes: 1}))
	ms := int64(3600_000)
	settle.Status, settle.EndTime, settle.DurationMS, settle.DestinationID, settle.ArchiveSize = "completed", &end, &ms, "dB", 800
	settle.CatalogSize = 40 // an encrypted run's catalog copy: stored, an object of its own
	check(t, "UpdateRun settle", s.UpdateRun(ctx, &settle))
	exp.ArchiveSize = 350
	check(t, "UpdateRun resize", s.UpdateRun(ctx, &exp))
	check(t, "ExpireRun", s.ExpireRun(ctx, exp.ID, at(3, 12)))
	early.StartTime = at(0, 23)
	check(t, "UpdateRun move", s.UpdateRun(ctx, &early))
	check(t, "DeleteConfig", s.DeleteConfig(ctx, gone.ID))
	check(t, "DeleteUser", s.DeleteUser(ctx, carol.ID))

	since, recent := at(0, 12), at(3, 0) // mid-day
	for _, user := range []string{alice.ID, bob.ID, ""} {
		// What the runs add up to.
		want := map[string]store.RunDay{}
		var wantRecent int
		wantUse := map[string]store.StorageUse{}
		check(t, "EachRunStat", s.EachRunStat(ctx, user, time.Time{}, func(r store.RunStat) error {
			if r.Status == "completed" {
				key := r.DestinationID + "|" + r.ConfigID + "|" + r.AgentID
				u := wantUse[key]
				u.DestinationID, u.ConfigID, u.AgentID = r.DestinationID, r.ConfigID, r.AgentID
				u.Bytes += r.Stored
				u.Runs++ // objects are not in RunStat: checked for alice below
				wantUse[key] = u
			}
			if r.StartTime.Before(since) {
				return nil
			}
			if !r.StartTime.Before(recent) {
				wantRecent++
			}
			d := r.StartTime.UTC().Format(time.DateOnly)
			x := want[d+r.Status]
			x.Day, x.Status = d, r.Status
			x.Runs++
			x.Stored += r.Stored
			if r.DurationMS != nil {
				x.DurationMS += *r.DurationMS
				x.Timed++
			}
			want[d+r.Status] = x
			return nil
		}))
		days, n, err := s.RunDays(ctx, user, since, recent)
		check(t, "RunDays", err)
		got := map[string]store.RunDay{}
		for _, d := range days {
			got[d.Day+d.Status] = d
		}
		equal(t, "RunDays of "+user+" as the runs add up", got, want)
		equal(t, "RunDays' recent runs of "+user, n, wantRecent)
		use, err := s.StorageUsage(ctx, user)
		check(t, "StorageUsage", err)
		gotUse := map[string]store.StorageUse{}
		for _, u := range use {
			u.Objects = 0
			gotUse[u.DestinationID+"|"+u.ConfigID+"|"+u.AgentID] = u
		}
		equal(t, "StorageUsage of "+user+" as the runs add up", gotUse, wantUse)
	}
	// And the numbers themselves, for alice: c1's early run (moved to day 0, 23 h)
	// counts, the one at 1 h does not; exp is expired with its new size.
	days, _, err := s.RunDays(ctx, alice.ID, since, recent)
	check(t, "RunDays alice", err)
	equal(t, "alice's days", days, []store.RunDay{
		{Day: "2025-05-10", Status: "completed", Runs: 1, Stored: 202, DurationMS: 120000, Timed: 1},
		{Day: "2025-05-10", Status: "failed", Runs: 1, DurationMS: 60000, Timed: 1},
		{Day: "2025-05-11", Status: "expired", Runs: 1, Stored: 353, DurationMS: 180000, Timed: 1},
		{Day: "2025-05-12", Status: "completed", Runs: 1, Stored: 400, DurationMS: 60000, Timed: 1},
		{Day: "2025-05-13", Status: "completed", Runs: 1, Stored: 840, DurationMS: 3600000, Timed: 1},
	})
	equal(t, "alice's latest statuses", latestStatuses(t, s, alice.ID), map[string]string{c1.ID: "expired", c2.ID: "completed"})
	equal(t, "alice's last successes", lastSuccesses(t, s, alice.ID), map[string]time.Time{
		c1.ID: at(1, 14).Add(3 * time.Minute), // expired since: it completed
		c2.ID: end,
	})
	mkConfig(t, s, bob.ID, b1.ID, "no runs", day)
	equal(t, "everyone's latest statuses", latestStatuses(t, s, ""), map[string]string{c1.ID: "expired", c2.ID: "completed", d1.ID: "cancelled"})
	use, err := s.StorageUsage(ctx, alice.ID)
	check(t, "StorageUsage alice", err)
	equal(t, "alice's usage", use, []store.StorageUse{
		{DestinationID: "", ConfigID: c2.ID, AgentID: a1.ID, Bytes: 400, Objects: 1, Runs: 1},
		{DestinationID: "dA", ConfigID: c1.ID, AgentID: a1.ID, Bytes: 303, Objects: 4, Runs: 2},
		{DestinationID: "dB", ConfigID: c2.ID, AgentID: a1.ID, Bytes: 840, Objects: 2, Runs: 1},
	})
}
