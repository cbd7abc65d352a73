package store

import (
	"context"
	"time"
)

// Estimate statuses: pending until the agent's heartbeat takes it, running until the
// agent reports, then done or failed.
const (
	EstimatePending = "pending"
	EstimateRunning = "running"
	EstimateDone    = "done"
	EstimateFailed  = "failed"
)

// Estimate is the latest backup size estimate of a configuration: a scan of its
// sources with its patterns by the agent that runs it, without reading contents.
type Estimate struct {
	ID       string
	ConfigID string
	UserID   string
	AgentID  string // the agent asked to scan; "" once it is deleted
	Status   string
	Files    int64 // regular files
	Dirs     int64
	Bytes    int64 // their sizes, hard-linked contents once
	Issues   int64 // files the scan could not read (a backup would skip them)
	// Samples are the first issues.
	Samples     []EstimateIssue
	Error       string // why a failed estimate failed
	RequestedAt time.Time
	StartedAt   *time.Time
	FinishedAt  *time.Time
	// ReportedAt is when the agent last said it was scanning (handed the command, or
	// listed it in a heartbeat): the reaper fails estimates silent too long.
	ReportedAt *time.Time
}

// Finished reports whether the estimate has reached a final status.
func (e Estimate) Finished() bool { return e.Status == EstimateDone || e.Status == EstimateFailed }

// EstimateIssue is one file a scan could not read.
type EstimateIssue struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// EstimateResult is an estimate's outcome.
type EstimateResult struct {
	Status             string // done | failed
	Files, Dirs, Bytes int64
	Issues             int64
	Samples            []EstimateIssue
	Error              string
	At                 time.Time
}

// Estimates stores the configurations' size estimates.
type Estimates interface {
	// PutEstimate makes e (status pending, a new id when empty) its configuration's
	// estimate, replacing the previous one whatever its status: a report for the
	// replaced one then finds nothing.
	PutEstimate(ctx context.Context, e *Estimate) error
	// GetEstimate returns the estimate with the given id.
	GetEstimate(ctx context.Context, id string) (Estimate, error)
	// ConfigEstimate returns a configuration's estimate; ErrNotFound when none was asked.
	ConfigEstimate(ctx context.Context, configID string) (Estimate, error)
	// PendingEstimates lists an agent's pending estimates, oldest first: every
	// heartbeat asks it.
	PendingEstimates(ctx context.Context, agentID string) ([]Estimate, error)
	// StartEstimate moves a pending estimate to running (started and reported at
	// at). It returns ErrConflict when the estimate is no longer pending, so it is
	// handed to its agent once.
	StartEstimate(ctx context.Context, id string, at time.Time) error
	// FinishEstimate records the outcome of a pending or running estimate; a finished
	// one gives ErrConflict and is left alone.
	FinishEstimate(ctx context.Context, id string, res EstimateResult) error
	// TouchEstimates records that agentID reported the estimates ids running at at,
	// and returns those of ids that are running on it (the others were replaced or
	// reaped: the agent may stop them).
	TouchEstimates(ctx context.Context, agentID string, ids []string, at time.Time) ([]string, error)
	// StaleEstimates lists running estimates last reported before before.
	StaleEstimates(ctx context.Context, before time.Time) ([]Estimate, error)
}
