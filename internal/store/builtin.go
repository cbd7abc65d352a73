package store

import (
	"context"
	"time"
)

// BuiltinAgent is an agent row that stands for the server itself: it runs the
// server-mode configurations of its owner inside the server process (internal/builtin).
// Each owner of server-mode configurations has at most one.
type BuiltinAgent struct {
	ID     string
	UserID string
}

// Builtin stores the built-in agents. They are ordinary agent rows with the builtin
// flag, so the agent API, runs and history treat them like any agent.
type Builtin interface {
	// EnsureBuiltinAgent returns userID's built-in agent with the given key hash and
	// prefix, creating it named name when it does not exist (racing replicas agree on
	// one row). An existing one gets the new key and is un-revoked; its name is kept.
	EnsureBuiltinAgent(ctx context.Context, userID, name, keyHash, keyPrefix string, now time.Time) (Agent, error)
	// BuiltinAgents lists every built-in agent.
	BuiltinAgents(ctx context.Context) ([]BuiltinAgent, error)
	// ClaimServerRuns gives each queued run of a server-mode configuration that has no
	// agent to its owner's built-in agent, and returns the ids of the agents that got
	// work. Runs of owners without a built-in agent stay unassigned.
	ClaimServerRuns(ctx context.Context) ([]string, error)
	// UnclaimedServerRunOwners lists the owners of queued server-mode runs that no
	// built-in agent can take because the owner has none yet.
	UnclaimedServerRunOwners(ctx context.Context) ([]string, error)
}
