package runs

import (
	"context"
	"fmt"

	"github.com/backapp/backapp/internal/store"
)

// Latest returns the newest run of each configuration (store.PerConfig) or agent
// (store.PerAgent) actor may see, by that configuration's or agent's id, in one
// query however long the history is.
func (s *Service) Latest(ctx context.Context, actor store.User, per store.RunsPer) (map[string]store.Run, error) {
	runs, err := s.st.LatestRuns(ctx, per, actor.Scope())
	if err != nil {
		return nil, fmt.Errorf("latest runs: %w", err)
	}
	out := make(map[string]store.Run, len(runs))
	for _, r := range runs {
		key := r.ConfigID
		if per == store.PerAgent {
			key = r.AgentID
		}
		out[key] = r
	}
	return out, nil
}
