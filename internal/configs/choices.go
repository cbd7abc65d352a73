package configs

import (
	"context"
	"fmt"

	"github.com/backapp/backapp/internal/store"
)

// Choices are what a configuration may use: its owner's agents (revoked ones too,
// which saving refuses with a reason) and the destinations its owner may write to
// (the shared ones first, then the owner's own). They follow the rules saving
// checks (checkAgent, checkDestination).
type Choices struct {
	Agents       []store.Agent
	Destinations []store.Destination
}

// Choices returns what configuration id may use as actor edits it, or what a new
// configuration of actor's may use when id is "". Another user's configuration is
// NotFound, unless actor is an administrator: then it is that user's agents and
// destinations, not the administrator's.
func (s *Service) Choices(ctx context.Context, actor store.User, id string) (Choices, error) {
	owner := actor.ID
	if id != "" {
		c, err := s.get(ctx, actor, id)
		if err != nil {
			return Choices{}, err
		}
		owner = c.UserID
	}
	as, err := s.st.ListAgents(ctx, owner)
	if err != nil {
		return Choices{}, fmt.Errorf("list the agents a configuration may use: %w", err)
	}
	ds, err := s.st.ListDestinations(ctx, owner)
	if err != nil {
		return Choices{}, fmt.Errorf("list the destinations a configuration may use: %w", err)
	}
	return Choices{Agents: as, Destinations: ds}, nil
}
