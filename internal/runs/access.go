package runs

import (
	"context"
	"errors"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/store"
)

// mayRead is the one rule for what an agent may read of a completed run: its archives
// and manifests (download) and its catalog (names, sizes, hashes). An agent reads
//
//   - its own runs;
//   - a run the user assigned it a restore of, while that restore is queued or
//     running (restoring one machine's backup onto another of the user's machines);
//   - the run its own running backup builds on (an incremental whose configuration
//     was moved to this agent from the one that made the previous run).
//
// Nothing else: another agent's runs are Forbidden, another user's NotFound (never
// saying whether the run exists).
func (l *Lifecycle) mayRead(ctx context.Context, ag store.Agent, run store.Run) error {
	if run.UserID != ag.UserID {
		return apperr.New(apperr.NotFound, "no run %q of this agent's user", run.ID)
	}
	if run.AgentID == ag.ID {
		return nil
	}
	active, err := l.st.ActiveRuns(ctx, ag.ID)
	if err != nil {
		return err
	}
	for _, r := range active {
		if r.PreviousRunID == run.ID && r.UserID == ag.UserID {
			return nil
		}
	}
	if rs, ok := l.st.(store.Restores); ok {
		ok, err := restoreAssigned(ctx, rs, ag, run.ID)
		if ok || err != nil {
			return err
		}
	}
	return apperr.New(apperr.Forbidden, "run %s was made by another agent: start its restore in the web UI (Restores) with this agent as the target", run.ID)
}

// restoreAssigned reports whether a restore of run runID to ag is queued or running.
func restoreAssigned(ctx context.Context, rs store.Restores, ag store.Agent, runID string) (bool, error) {
	// The restore is recent: the user started it and the agent is at it now.
	const recent = 200
	list, err := rs.ListRestores(ctx, store.RestoreFilter{UserID: ag.UserID, Limit: recent})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	for _, r := range list {
		if r.AgentID == ag.ID && r.RunID == runID && !r.Finished() {
			return true, nil
		}
	}
	return false, nil
}
