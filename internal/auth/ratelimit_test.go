package auth

import (
	"testing"
	"time"
)

func TestLimiterSlidingWindow(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(3, time.Minute, func() time.Time { return now })
	for i := range 3 {
		if b, _ := l.blocked("k"); b {
			t.Fatalf("blocked after %d events, want 3 allowed", i)
		}
		l.add("k")
		now = now.Add(10 * time.Second)
	}
	b, wait := l.blocked("k")
	if !b {
		t.Fatal("not blocked after 3 events")
	}
	if wait != 30*time.Second {
		t.Errorf("retry after %v, want 30s (oldest event + window)", wait)
	}
	if b, _ := l.blocked("other"); b {
		t.Error("another key is blocked")
	}
	now = now.Add(wait)
	if b, _ := l.blocked("k"); b {
		t.Error("still blocked after the oldest event left the window")
	}
	l.reset("k")
	if n := len(l.events["k"]); n != 0 {
		t.Errorf("reset left %d events", n)
	}
}

func TestRetrySecondsRoundsUp(t *testing.T) {
	for _, c := range []struct{ in, want time.Duration }{
		{0, time.Second}, {time.Millisecond, time.Second}, {1500 * time.Millisecond, 2 * time.Second}, {time.Minute, time.Minute},
	} {
		if got := retrySeconds(c.in); got != c.want {
			t.Errorf("retrySeconds(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
