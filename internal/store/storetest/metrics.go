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

	last, err := s.LastSuccesses(ctx, alice.ID)
	check(t, "LastSuccesses", err)
	equal(t, "alice's last successes", last, map[string]time.Time{
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

	last, err = s.LastSuccesses(ctx, newID(t))
	check(t, "LastSuccesses nobody", err)
	equal(t, "nobody's last successes", len(last), 0)
}
