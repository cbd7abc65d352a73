package agentapi

import (
	"context"
	"fmt"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
)

// Reap fails the running runs whose agent has not reported for StaleAfter ("agent
// stopped reporting") and aborts their multipart uploads, so a killed agent leaves no
// run looking alive and no upload behind. It returns how many runs it failed.
func (a *API) Reap(ctx context.Context) (int, error) {
	now := a.now()
	stale, err := a.st.StaleRuns(ctx, now.Add(-a.cfg.StaleAfter))
	if err != nil {
		return 0, fmt.Errorf("reap stale runs: %w", err)
	}
	n := 0
	for _, r := range stale {
		// Re-read: the agent may have reported or completed since the list was made.
		run, err := a.st.GetRun(ctx, r.ID)
		if err != nil || run.Status != agentproto.StatusRunning {
			continue
		}
		last := run.StartTime
		if run.ProgressAt != nil {
			last = *run.ProgressAt
		}
		if now.Sub(last) < a.cfg.StaleAfter {
			continue
		}
		msg := fmt.Sprintf("agent stopped reporting: no progress for %s", now.Sub(last).Round(time.Second))
		if err := a.finish(ctx, nil, &run, agentproto.StatusFailed, msg, now); err != nil {
			a.log.Warn("reap stale run", "run", run.ID, "err", err)
			continue
		}
		a.log.Warn("run failed: its agent stopped reporting", "run", run.ID, "agent", run.AgentID, "silent", now.Sub(last).Round(time.Second))
		n++
	}
	return n, nil
}

// RunReaper calls Reap every interval (a minute when <= 0) until ctx is cancelled.
func (a *API) RunReaper(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := a.Reap(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("reaper", "err", err)
			}
		}
	}
}
