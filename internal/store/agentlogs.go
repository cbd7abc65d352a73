package store

import (
	"context"
	"time"
)

// AgentLog is one log line an agent shipped.
type AgentLog struct {
	ID        string
	AgentID   string
	Level     string // info | warning | error
	Message   string
	Metadata  map[string]string
	Timestamp time.Time
}

// AgentLogFilter selects log lines; zero fields do not filter.
type AgentLogFilter struct {
	AgentID string // required
	Level   string
	Since   time.Time
	Until   time.Time
	Limit   int // newest first; <= 0 means 100
}

// AgentLogs stores the log lines agents ship.
type AgentLogs interface {
	AddAgentLogs(ctx context.Context, logs []AgentLog) error
	ListAgentLogs(ctx context.Context, f AgentLogFilter) ([]AgentLog, error)
}
