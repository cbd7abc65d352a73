package testenv

import (
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// WaitTimeout is how long Eventually polls: long enough for a loaded 2-core CI
// machine, where a wait that passes in milliseconds on a laptop can take seconds.
const WaitTimeout = 20 * time.Second

// Eventually polls cond every 20 ms until it holds, failing the test after
// WaitTimeout with what it waited for and every goroutine's stack (a hang that
// shows only under load is then readable from the log). Tests wait with it instead
// of sleeping a fixed time for something to happen.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	EventuallyWithin(t, WaitTimeout, what, cond)
}

// EventuallyWithin is Eventually with its own deadline, for waits known to be
// longer (a real agent's backup, a browser); it polls a thousand times at most
// (every 10 to 200 ms).
func EventuallyWithin(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	every := min(max(d/1000, 10*time.Millisecond), 200*time.Millisecond)
	for !cond() {
		if time.Now().After(deadline) {
			var stacks strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
			t.Fatalf("timed out after %s waiting for %s; goroutines:\n%s", d, what, stacks.String())
		}
		time.Sleep(every)
	}
}
