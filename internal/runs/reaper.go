package runs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/events"
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
func (l *Lifecycle) Reap(ctx context.Context) (n int, err error) {
	defer func() {
		if store.Unavailable(err) {
			l.dbDown.Store(l.now().UnixNano())
		}
	}()
	if down := l.dbDown.Load(); down != 0 && l.now().Sub(time.Unix(0, down)) < l.cfg.StaleAfter {
		return 0, nil
	}
	n, err = l.reapRuns(ctx)
	if err != nil {
		return n, err
	}
	m, err := l.reapRestores(ctx)
	n += m
	if err != nil {
		return n, err
	}
	m, err = l.reapEstimates(ctx)
	return n + m, err
}

func (l *Lifecycle) reapRuns(ctx context.Context) (int, error) {
	now := l.now()
	stale, err := l.st.StaleRuns(ctx, now.Add(-l.cfg.StaleAfter))
	if err != nil {
		return 0, fmt.Errorf("reap stale runs: %w", err)
	}
	n := 0
	for _, r := range stale {
		// Re-read: the agent may have reported or completed since the list was made.
		run, err := l.st.GetRun(ctx, r.ID)
		if err != nil || run.Status != agentproto.StatusRunning {
			continue
		}
		last := run.StartTime
		if run.ProgressAt != nil {
			last = *run.ProgressAt
		}
		if now.Sub(last) < l.cfg.StaleAfter {
			continue
		}
		msg := fmt.Sprintf("agent stopped reporting: no progress for %s", now.Sub(last).Round(time.Second))
		if err := l.finish(ctx, nil, &run, agentproto.StatusFailed, msg, now); err != nil {
			l.log.Warn("reap stale run", "run", run.ID, "err", err)
			continue
		}
		l.log.Warn("run failed: its agent stopped reporting", "run", run.ID, "agent", run.AgentID, "silent", now.Sub(last).Round(time.Second))
		n++
	}
	return n, nil
}

// reapRestores fails running restores last reported more than StaleAfter ago.
// Restores of agents too old to report them are never reported, so never reaped.
// It first erases the age identities kept for restores a day after they were given
// (store.SealedIdentity), which no agent acknowledged.
func (l *Lifecycle) reapRestores(ctx context.Context) (int, error) {
	rs, ok := l.st.(store.Restores)
	if !ok {
		return 0, nil
	}
	now := l.now()
	erased, err := rs.EraseExpiredRestoreIdentities(ctx, now)
	if err != nil {
		return 0, fmt.Errorf("erase expired restore identities: %w", err)
	}
	if erased > 0 {
		l.log.Info("restore identities erased: a day passed without their agent acknowledging the restore", "restores", erased)
	}
	stale, err := rs.StaleRestores(ctx, now.Add(-l.cfg.StaleAfter))
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
			l.log.Warn("reap stale restore", "restore", r.ID, "err", err)
			continue
		}
		l.restoreChanged(ctx, rs, r.ID)
		l.log.Warn("restore failed: its agent stopped reporting it", "restore", r.ID, "agent", r.AgentID, "silent", silent)
		n++
	}
	return n, nil
}

// reapEstimates fails running size estimates last reported more than StaleAfter ago.
func (l *Lifecycle) reapEstimates(ctx context.Context) (int, error) {
	es, ok := l.st.(store.Estimates)
	if !ok {
		return 0, nil
	}
	now := l.now()
	stale, err := es.StaleEstimates(ctx, now.Add(-l.cfg.StaleAfter))
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
			l.log.Warn("reap stale estimate", "estimate", e.ID, "err", err)
			continue
		}
		n++
	}
	return n, nil
}

// RunReaper calls Reap every interval (a minute when <= 0) until ctx is cancelled.
func (l *Lifecycle) RunReaper(ctx context.Context, every time.Duration) {
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
			if _, err := l.Reap(ctx); err != nil && ctx.Err() == nil {
				l.log.Warn("reaper", "err", err)
			}
		}
	}
}

// restoreChanged publishes the restore's status as it is now stored.
func (l *Lifecycle) restoreChanged(ctx context.Context, rs store.Restores, id string) {
	if rr, err := rs.GetRestore(ctx, id); err == nil {
		l.events.Publish(events.RestoreStatus(rr))
	}
}
