package agents

import (
	"context"
	"time"

	"github.com/backapp/backapp/internal/events"
	"github.com/backapp/backapp/internal/store"
)

// OfflineWatch publishes agent.status "offline" when an agent's last heartbeat
// passes OfflineAfter. (Coming back online is published by the heartbeat itself.)
// Each check covers the agents whose five minutes ran out since the previous one,
// reading only the agents table, so it costs one query per interval; with several
// replicas only the leader checks.
type OfflineWatch struct {
	Store interface {
		ListAgents(ctx context.Context, userID string) ([]store.Agent, error)
	}
	Events interface{ Publish(events.Event) }
	// Leader, when set, limits the checks to the replica holding the lead
	// (scheduler.Leader).
	Leader interface {
		TryLead(ctx context.Context) (bool, func(), error)
	}
	Now   func() time.Time // time.Now when nil
	Every time.Duration    // default 15 s
}

// Check publishes offline for every agent whose heartbeat went stale in (since, now]
// and returns how many.
func (w *OfflineWatch) Check(ctx context.Context, since, now time.Time) (int, error) {
	list, err := w.Store.ListAgents(ctx, "")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range list {
		if a.Revoked || a.LastSeen == nil {
			continue
		}
		if at := a.LastSeen.Add(OfflineAfter); at.After(since) && !at.After(now) {
			w.Events.Publish(events.AgentStatus(a, store.AgentOffline, a.LastSeen))
			n++
		}
	}
	return n, nil
}

// Run checks every Every until ctx ends.
func (w *OfflineWatch) Run(ctx context.Context) {
	now := w.Now
	if now == nil {
		now = time.Now
	}
	every := w.Every
	if every <= 0 {
		every = 15 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	prev := now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if w.Leader != nil {
			if held, _, err := w.Leader.TryLead(ctx); err != nil || !held {
				prev = now()
				continue
			}
		}
		cur := now()
		if _, err := w.Check(ctx, prev, cur); err == nil {
			prev = cur
		}
	}
}
