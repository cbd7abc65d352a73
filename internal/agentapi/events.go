package agentapi

import (
	"context"
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
	if ag.LastSeen == nil || now.Sub(*ag.LastSeen) >= agents.OfflineAfter {
		a.events.Publish(events.AgentStatus(ag, store.AgentOnline, &now))
	}
}

// restoreChanged publishes the restore's status as it is now stored.
func (a *API) restoreChanged(ctx context.Context, rs store.Restores, id string) {
	if rr, err := rs.GetRestore(ctx, id); err == nil {
		a.events.Publish(events.RestoreStatus(rr))
	}
}
