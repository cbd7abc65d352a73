package auth

import (
	"sync"
	"time"
)

// limiter counts events per key in a sliding window: at most max events within window.
// It is in-memory, so with several replicas each enforces its own count; the limits are
// low enough that this still stops guessing.
type limiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu     sync.Mutex
	events map[string][]time.Time
	sweep  time.Time
}

func newLimiter(max int, window time.Duration, now func() time.Time) *limiter {
	return &limiter{max: max, window: window, now: now, events: map[string][]time.Time{}}
}

// blocked reports whether key has used up its events, and when the oldest expires.
func (l *limiter) blocked(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	ev := l.prune(key, now)
	if len(ev) < l.max {
		return false, 0
	}
	return true, ev[0].Add(l.window).Sub(now)
}

// add records one event for key.
func (l *limiter) add(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	ev := l.prune(key, now)
	if len(ev) >= l.max {
		ev = ev[1:] // keep the slice bounded: only the newest max events matter
	}
	l.events[key] = append(ev, now)
	if now.Sub(l.sweep) > l.window {
		l.sweepAll(now)
	}
}

// take records an event if key is not blocked.
func (l *limiter) take(key string) (bool, time.Duration) {
	if b, d := l.blocked(key); b {
		return false, d
	}
	l.add(key)
	return true, 0
}

// reset forgets key (after a successful login).
func (l *limiter) reset(key string) {
	l.mu.Lock()
	delete(l.events, key)
	l.mu.Unlock()
}

func (l *limiter) prune(key string, now time.Time) []time.Time {
	ev := l.events[key]
	i := 0
	for i < len(ev) && now.Sub(ev[i]) >= l.window {
		i++
	}
	if i == len(ev) {
		delete(l.events, key)
		return nil
	}
	ev = ev[i:]
	l.events[key] = ev
	return ev
}

func (l *limiter) sweepAll(now time.Time) {
	l.sweep = now
	for k := range l.events {
		l.prune(k, now)
	}
}

// retrySeconds rounds d up to whole seconds, at least 1, for Retry-After.
func retrySeconds(d time.Duration) time.Duration {
	s := (d + time.Second - 1) / time.Second
	if s < 1 {
		s = 1
	}
	return s * time.Second
}
