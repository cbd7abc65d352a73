package runs

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/store"
)

// restartSlack is how much earlier than the agent process's start (as the server
// computes it from the reported uptime) a run must have started to count as the
// previous process's: it absorbs the clock difference between server replicas.
const restartSlack = time.Second

// SettleRestarted fails the runs and restores that died with the agent's previous
// process, as soon as a heartbeat says how long the agent process has been up: one
// recorded running on this agent, started and last reported before the process
// started, and not listed in the heartbeat, has nobody left to finish it. Its
// uploads are aborted. A run the agent resumes is listed, so it is left alone; so is
// a run started after the process (a foreground `backapp-agent backup` beside the
// daemon). Once the process is older than StaleAfter the reaper has settled them
// already, so older heartbeats skip the check.
func (l *Lifecycle) SettleRestarted(ctx context.Context, ag store.Agent, req agentproto.HeartbeatRequest) error {
	up := time.Duration(req.UptimeMS) * time.Millisecond
	if up <= 0 || up >= l.cfg.StaleAfter {
		return nil
	}
	now := l.now()
	started := now.Add(-up)
	before := started.Add(-restartSlack)
	runs, err := l.st.ActiveRuns(ctx, ag.ID)
	if err != nil {
		return err
	}
	for _, r := range runs {
		if r.Status != agentproto.StatusRunning || r.UserID != ag.UserID || slices.Contains(req.Running, r.ID) || !r.StartTime.Before(before) {
			continue
		}
		// Re-read, as the reaper does: it may have finished meanwhile.
		run, err := l.st.GetRun(ctx, r.ID)
		if err != nil || run.Status != agentproto.StatusRunning || run.ProgressAt != nil && !run.ProgressAt.Before(started) {
			continue
		}
		if err := l.finish(ctx, nil, &run, agentproto.StatusFailed, msgRestartedBackup, now); err != nil {
			return err
		}
		l.log.Warn("run failed: its agent restarted", "run", run.ID, "agent", ag.ID, "uptime", up)
	}
	rs, ok := l.st.(store.Restores)
	if !ok || !slices.Contains(req.Features, agentproto.FeatureReportRestores) {
		return nil
	}
	// A restore the agent listed since it started was reported after that start.
	stale, err := rs.StaleRestores(ctx, started)
	if err != nil {
		return err
	}
	for _, r := range stale {
		if r.AgentID != ag.ID || slices.Contains(req.Restores, r.ID) || r.StartedAt == nil || !r.StartedAt.Before(before) {
			continue
		}
		err := rs.FinishRestore(ctx, r.ID, store.RestoreResult{Status: store.RestoreFailed, Error: "the agent restarted during the restore",
			FilesWritten: r.FilesWritten, BytesWritten: r.BytesWritten, At: now})
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		l.log.Warn("restore failed: its agent restarted", "restore", r.ID, "agent", ag.ID, "uptime", up)
	}
	return nil
}

// msgRestartedBackup is the error of a run whose agent restarted while running it.
const msgRestartedBackup = "the agent restarted during the backup"
