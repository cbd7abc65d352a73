package store

import (
	"context"
	"time"
)

// Agent statuses. Offline is computed from LastSeen by the caller (no heartbeat for
// five minutes), so it is right even when no background job ran.
const (
	AgentOnline  = "online"
	AgentOffline = "offline"
	AgentError   = "error"
)

// Agent is a machine that runs backups. Only the SHA-256 of its key is stored.
type Agent struct {
	ID         string
	UserID     string
	Name       string
	KeyHash    string // hex SHA-256 of the full key; unique
	KeyPrefix  string // first characters of the key, shown to identify it ("bak_3f9a…")
	Revoked    bool   // a revoked agent's key is refused
	Builtin    bool   // the server itself (internal/builtin): its key never leaves the process; read-only to people
	LastSeen   *time.Time
	Status     string // as last reported/stored; see the Agent* constants
	Platform   string
	Arch       string
	Version    string
	Hostname   string
	EnrolledAt *time.Time // first /api/agent/register
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// AgentHeartbeat is what a heartbeat updates.
type AgentHeartbeat struct {
	Time     time.Time
	Platform string
	Arch     string
	Version  string
	Hostname string
	// Status is what the heartbeat records: "" is online; AgentOffline is an agent
	// that said it is stopping (it counts as offline until it is heard again).
	Status string
}

// Agents stores the machines that run backups.
type Agents interface {
	CreateAgent(ctx context.Context, a *Agent) error
	GetAgent(ctx context.Context, id string) (Agent, error)
	// GetAgentByKeyHash finds the agent of a key (revoked ones too; the caller refuses).
	GetAgentByKeyHash(ctx context.Context, keyHash string) (Agent, error)
	// ListAgents lists a user's agents, or every agent when userID is "".
	ListAgents(ctx context.Context, userID string) ([]Agent, error)
	RenameAgent(ctx context.Context, id, name string, now time.Time) error
	// SetAgentKey replaces the key (rotation); the old hash stops working at once.
	SetAgentKey(ctx context.Context, id, keyHash, keyPrefix string, now time.Time) error
	RevokeAgent(ctx context.Context, id string, now time.Time) error
	DeleteAgent(ctx context.Context, id string) error
	// RecordHeartbeat sets LastSeen, status online and the host facts.
	RecordHeartbeat(ctx context.Context, id string, hb AgentHeartbeat) error
	MarkAgentEnrolled(ctx context.Context, id string, at time.Time) error
}
