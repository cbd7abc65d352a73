package agentapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/store"
)

// Reap fails the running runs whose agent has not reported for StaleAfter ("agent
// stopped reporting") and aborts their multipart uploads, so a killed agent leaves no
// run looking alive and no upload behind; and likewise the running restores and size
// estimates that their agent has stopped listing in its heartbeats. It returns how
// many runs, restores and estimates it failed.
//
// Silence is counted from the end of the last database outage this server saw (a
// request or a reaper pass that could not reach it), not only from the last recorded
// report: agents retry their reports through an outage, and what they could not
// record then must not fail their runs afterwards. So no pass fails anything until
// StaleAfter has passed since the database was last found unreachable.
func (a *API) Reap(ctx context.Context) (n int, err error) {
	defer func() {
		if store.Unavailable(err) {
			a.dbDown.Store(a.now().UnixNano())
		}
	}()
	if down := a.dbDown.Load(); down != 0 && a.now().Sub(time.Unix(0, down)) < a.cfg.StaleAfter {
		return 0, nil
	}
	n, err = a.reapRuns(ctx)
	if err != nil {
		return n, err
	}
	m, err := a.reapRestores(ctx)
	n += m
	if err != nil {
		return n, err
	}
	m, err = a.reapEstimates(ctx)
	return n + m, err
}

func (a *API) reapRuns(ctx context.Context) (int, error) {
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

// reapRestores fails running restores last reported more than StaleAfter ago.
// Restores of agents too old to report them are never reported, so never reaped.
func (a *API) reapRestores(ctx context.Context) (int, error) {
	rs, ok := a.st.(store.Restores)
	if !ok {
		return 0, nil
	}
	now := a.now()
	stale, err := rs.StaleRestores(ctx, now.Add(-a.cfg.StaleAfter))
	if err != nil {
		return 0, fmt.Errorf("reap stale restores: %w", err)
	}
	n := 0
	for _, r := range stale {
		silent := now.Sub(*r.ReportedAt).Round(time.Second)
		msg := fmt.Sprintf("agent stopped reporting this restore: not listed in its heartbeats for %s", silent)
		err := rs.FinishRestore(ctx, r.ID, store.RestoreResult{Status: store.RestoreFailed, Error: msg,
			FilesWritten: r.FilesWritten, BytesWritten: r.BytesWritten, At: now})
		if errors.Is(err, store.ErrConflict) { // it finished meanwhile
			continue
		}
		if err != nil {
			a.log.Warn("reap stale restore", "restore", r.ID, "err", err)
			continue
		}
		a.restoreChanged(ctx, rs, r.ID)
		a.log.Warn("restore failed: its agent stopped reporting it", "restore", r.ID, "agent", r.AgentID, "silent", silent)
		n++
	}
	return n, nil
}

// reapEstimates fails running size estimates last reported more than StaleAfter ago.
func (a *API) reapEstimates(ctx context.Context) (int, error) {
	es, ok := a.st.(store.Estimates)
	if !ok {
		return 0, nil
	}
	now := a.now()
	stale, err := es.StaleEstimates(ctx, now.Add(-a.cfg.StaleAfter))
	if err != nil {
		return 0, fmt.Errorf("reap stale estimates: %w", err)
	}
	n := 0
	for _, e := range stale {
		silent := now.Sub(*e.ReportedAt).Round(time.Second)
		msg := fmt.Sprintf("agent stopped reporting this estimate: not listed in its heartbeats for %s", silent)
		err := es.FinishEstimate(ctx, e.ID, store.EstimateResult{Status: store.EstimateFailed, Error: msg, At: now})
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			a.log.Warn("reap stale estimate", "estimate", e.ID, "err", err)
			continue
		}
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
