package agentapi

import (
	"context"
	"net/http"
	"time"

	"github.com/backapp/backapp/internal/agents"
	"github.com/backapp/backapp/internal/events"
	"github.com/backapp/backapp/internal/runs"
	"github.com/backapp/backapp/internal/store"
)

// Publisher takes the events of what agents report (internal/events' buses).
type Publisher = runs.Publisher

type noEvents struct{}

func (noEvents) Publish(events.Event) {}

// agentSeen publishes agent.status online when a heartbeat at now comes from an
// agent that was offline (never seen, or silent for agents.OfflineAfter).
func (a *API) agentSeen(ag store.Agent, now time.Time) {
	if ag.LastSeen == nil || now.Sub(*ag.LastSeen) >= agents.OfflineAfter || ag.Status == store.AgentOffline {
		a.events.Publish(events.AgentStatus(ag, store.AgentOnline, &now))
	}
}

// stopping serves POST /api/agent/stopping: the agent is shutting down cleanly, so it
// is recorded offline now (its next heartbeat brings it back online) and pages say so
// at once. Its runs are left as they are: a backup interrupted by the stop resumes
// from its checkpoint when the agent starts again, or the reaper fails it.
func (a *API) stopping(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	now := a.now()
	if err := a.st.RecordHeartbeat(r.Context(), ag.ID, store.AgentHeartbeat{Time: now, Status: store.AgentOffline}); err != nil {
		return err
	}
	a.log.Info("agent stopping", "agent", ag.ID)
	a.events.Publish(events.AgentStatus(ag, store.AgentOffline, &now))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// restoreChanged publishes the restore's status as it is now stored.
func (a *API) restoreChanged(ctx context.Context, rs store.Restores, id string) {
	if rr, err := rs.GetRestore(ctx, id); err == nil {
		a.events.Publish(events.RestoreStatus(rr))
	}
}
