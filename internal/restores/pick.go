package restores

import (
	"context"
	"fmt"

	"github.com/backapp/backapp/internal/store"
)

// Choices are where a restore can start from: actor's own configurations (for a
// point in time) and actor's newest completed backups. Administrators get their own
// too: backups carry file names, so nobody is offered another user's by default
// (they can still open one by its id).
type Choices struct {
	Configs []store.BackupConfig
	Runs    []store.RunRecord // ConfigName and AgentName set; Late and DueAt not
}

// Choices returns actor's configurations and at most recent of their newest
// completed backups, in three queries that do not grow with the history.
func (s *Service) Choices(ctx context.Context, actor store.User, recent int) (Choices, error) {
	cs, err := s.st.ListConfigs(ctx, actor.ID)
	if err != nil {
		return Choices{}, fmt.Errorf("list configurations to restore from: %w", err)
	}
	runs, err := s.st.ListRuns(ctx, store.RunFilter{UserID: actor.ID, Status: store.RestoreCompleted, Limit: recent})
	if err != nil {
		return Choices{}, fmt.Errorf("list backups to restore from: %w", err)
	}
	as, err := s.st.ListAgents(ctx, actor.ID)
	if err != nil {
		return Choices{}, fmt.Errorf("list agents of backups to restore from: %w", err)
	}
	configNames, agentNames := make(map[string]string, len(cs)), make(map[string]string, len(as))
	for _, c := range cs {
		configNames[c.ID] = c.Name
	}
	for _, a := range as {
		agentNames[a.ID] = a.Name
	}
	out := Choices{Configs: cs, Runs: make([]store.RunRecord, len(runs))}
	for i, r := range runs {
		out.Runs[i] = store.RunRecord{Run: r, ConfigName: configNames[r.ConfigID], AgentName: agentNames[r.AgentID]}
	}
	return out, nil
}

// Targets lists the agents that may restore run's files: its owner's agents that
// are not revoked, as Start accepts them.
func (s *Service) Targets(ctx context.Context, run store.Run) ([]store.Agent, error) {
	as, err := s.st.ListAgents(ctx, run.UserID)
	if err != nil {
		return nil, fmt.Errorf("list agents that may restore run %s: %w", run.ID, err)
	}
	out := as[:0]
	for _, a := range as {
		if !a.Revoked {
			out = append(out, a)
		}
	}
	return out, nil
}
