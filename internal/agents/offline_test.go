package agents

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/events"
	"github.com/backapp/backapp/internal/store"
)

type agentList []store.Agent

func (l agentList) ListAgents(context.Context, string) ([]store.Agent, error) { return l, nil }

type published []events.Event

func (p *published) Publish(e events.Event) { *p = append(*p, e) }

// TestOfflineWatchWindows: consecutive checks announce each agent once, when its
// five minutes run out; never-seen and revoked agents are not announced.
func TestOfflineWatchWindows(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { x := t0.Add(d); return &x }
	list := agentList{
		{ID: "a", UserID: "u", LastSeen: at(0)},
		{ID: "b", UserID: "u", LastSeen: at(10 * time.Second)},
		{ID: "never", UserID: "u"},
		{ID: "revoked", UserID: "u", LastSeen: at(0), Revoked: true},
	}
	var got published
	w := &OfflineWatch{Store: list, Events: &got}
	prev := t0
	var order []string
	for _, step := range []time.Duration{4 * time.Minute, 5 * time.Minute, 5*time.Minute + 5*time.Second, 5*time.Minute + 10*time.Second, 6 * time.Minute} {
		now := t0.Add(step)
		if _, err := w.Check(context.Background(), prev, now); err != nil {
			t.Fatal(err)
		}
		prev = now
	}
	for _, e := range got {
		var d events.AgentData
		if err := json.Unmarshal(e.Data, &d); err != nil || e.Type != events.TypeAgentStatus || d.Status != store.AgentOffline {
			t.Errorf("event %s %s, want agent.status offline", e.Type, e.Data)
		}
		order = append(order, d.AgentID)
	}
	if len(order) != 2 || order[0] != "a" || order[1] != "b" {
		t.Errorf("announced %v, want [a b] once each", order)
	}
}
