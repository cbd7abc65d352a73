package web

import (
	"testing"
	"time"
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
