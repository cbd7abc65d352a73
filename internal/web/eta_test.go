package web

import (
	"testing"
	"time"

	"github.com/backapp/backapp/internal/store"
)

func TestETAText(t *testing.T) {
	for _, tc := range []struct {
		done, total int64
		elapsed     time.Duration
		want        string
	}{
		{0, 1000, time.Minute, "—"},                       // nothing done yet
		{500, 0, time.Minute, "—"},                        // no estimate
		{500, 1000, 500 * time.Millisecond, "—"},          // too early for a rate
		{1500, 1000, time.Minute, "—"},                    // past the estimate
		{1000, 1000, time.Minute, "—"},                    // at it: about to finish, or more
		{900, 1000, time.Minute, "less than a minute"},    // 6.7 s
		{250, 1000, time.Minute, "about 3 min"},           // 180 s
		{100, 1000, 10 * time.Minute, "about 1 h 30 min"}, // 90 min
		{1, 1000, time.Hour, "about 41 days"},             // 999 h
		{42_000, 20_000_000, time.Minute, "about 7 h 55 min"},
	} {
		if got := etaText(tc.done, tc.total, tc.elapsed); got != tc.want {
			t.Errorf("etaText(%d, %d, %s) = %q, want %q", tc.done, tc.total, tc.elapsed, got, tc.want)
		}
	}
}

func TestRestoreETA(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	started := now.Add(-2 * time.Minute)
	run := store.Run{TotalBytes: 4000, Full: true}
	for _, tc := range []struct {
		what string
		x    store.Restore
		want string
	}{
		{"everything, a quarter written in 2 min", store.Restore{StartedAt: &started, BytesWritten: 1000}, "about 6 min"},
		{"some paths: no size to reach", store.Restore{StartedAt: &started, BytesWritten: 1000, Paths: []string{"docs"}}, "—"},
		{"not taken by the agent yet", store.Restore{BytesWritten: 0}, "—"},
	} {
		if got := restoreETA(tc.x, run, now); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.what, got, tc.want)
		}
	}
	// An incremental backup read only what changed: no total for its restore.
	incr := store.Run{TotalBytes: 4000}
	for _, tc := range []struct {
		what string
		x    store.Restore
		want string
	}{
		{"everything from an incremental backup", store.Restore{StartedAt: &started, BytesWritten: 1000}, "—"},
	} {
		if got := restoreETA(tc.x, incr, now); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.what, got, tc.want)
		}
	}
}
