package store

import (
	"context"
	"encoding/json"
	"time"
)

// BackupConfig is a backup configuration. Sources, Destination, Schedule and Options
// are the seed's JSON documents, kept as JSON so the store does not need to change
// when their fields grow; internal/configs (issue 5) owns their Go shape.
type BackupConfig struct {
	ID            string
	UserID        string
	Name          string
	Enabled       bool
	ExecutionMode string // agent | server
	AgentID       string // "" when none
	Sources       json.RawMessage
	Destination   json.RawMessage // {"destinationId": "…"}
	Schedule      json.RawMessage // may be nil
	Options       json.RawMessage
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Configs stores backup configurations.
type Configs interface {
	CreateConfig(ctx context.Context, c *BackupConfig) error
	GetConfig(ctx context.Context, id string) (BackupConfig, error)
	// ListConfigs lists a user's configs, or every config when userID is "".
	ListConfigs(ctx context.Context, userID string) ([]BackupConfig, error)
	ListAgentConfigs(ctx context.Context, agentID string) ([]BackupConfig, error)
	UpdateConfig(ctx context.Context, c *BackupConfig) error
	DeleteConfig(ctx context.Context, id string) error
}
