package web

import (
	"fmt"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// etaText is the time a transfer has left at its rate so far: done of about total
// bytes in elapsed. "—" when that is unknown: no estimate, nothing done yet, under
// a second in, or already past the estimate.
func etaText(done, total int64, elapsed time.Duration) string {
	if total <= 0 || done <= 0 || done >= total || elapsed < time.Second {
		return "—"
	}
	left := time.Duration(float64(total-done) / float64(done) * float64(elapsed))
	switch {
	case left < time.Minute:
		return "less than a minute"
	case left < time.Hour:
		return fmt.Sprintf("about %d min", int(left.Round(time.Minute)/time.Minute))
	case left < 48*time.Hour:
		left = left.Round(time.Minute)
		return fmt.Sprintf("about %d h %d min", int(left/time.Hour), int(left%time.Hour/time.Minute))
	}
	return fmt.Sprintf("about %d days", int(left/(24*time.Hour)))
}

// ETAText is a running backup's time left, from the bytes it has read against what
// its configuration's last completed backup read (Expected), at its rate so far.
func (v runView) ETAText() string {
	return etaText(v.TotalBytes, v.Expected, v.now.Sub(v.StartTime))
}

// restoreETA is a running restore's time left, from the bytes written against
// what its backup read, at its rate so far. That total is known only when the
// restore takes everything from a full backup: an incremental one read only what
// changed, though its restore writes the whole chain's files.
func restoreETA(x store.Restore, run store.Run, now time.Time) string {
	if x.StartedAt == nil || len(x.Paths) > 0 || !run.Full {
		return "—"
	}
	return etaText(x.BytesWritten, run.TotalBytes, now.Sub(*x.StartedAt))
}
