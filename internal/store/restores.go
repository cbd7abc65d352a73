package store

import (
	"context"
	"time"
)

// Restore statuses: a restore is queued until its agent's heartbeat takes it, running
// until the agent reports, then completed, failed or cancelled.
const (
	RestoreQueued    = "queued"
	RestoreRunning   = "running"
	RestoreCompleted = "completed"
	RestoreFailed    = "failed"
	RestoreCancelled = "cancelled"
)

// What a restore does with names the target's file system cannot hold: restore them
// under an escaped name, or leave them out; either way the restore lists them.
const (
	UnportableRename = "rename"
	UnportableSkip   = "skip"
)

// Restore is a restore a user asked for: files of a run, written by an agent (the
// run's own or another of the user's) into a directory on that agent's machine.
type Restore struct {
	ID        string
	UserID    string
	RunID     string
	AgentID   string // the target agent; "" once that agent is deleted
	TargetDir string
	Paths     []string // archive names (no leading slash) to restore; empty: everything
	Overwrite bool
	// UnportableNames is what the agent does with names its file system cannot hold
	// (Windows: CON, a:b, q?, …): UnportableRename or UnportableSkip; "" is stored
	// as UnportableRename.
	UnportableNames string
	Status          string
	// CancelRequested is set when a user cancels a running restore; the agent
	// learns it from its next heartbeat.
	CancelRequested bool
	Error           string
	FilesWritten    int64
	BytesWritten    int64
	CreatedAt       time.Time
	StartedAt       *time.Time
	FinishedAt      *time.Time
	// ReportedAt is when the agent last said it was restoring (handed the command, or
	// listed it in a heartbeat); nil for agents too old to say so. The reaper fails
	// running restores silent too long.
	ReportedAt *time.Time
	// Identity is only written, by CreateRestore: the age identity given for the
	// restore of a backup encrypted to recipients, sealed. Reads never fill it (so no
	// page, API answer or event can carry it); RestoreIdentity reads it for the
	// hand-out. nil: none given.
	Identity *SealedIdentity
}

// SealedIdentity is an age identity given for one restore, sealed under the master
// key (restores.IdentityPurpose, the restore's id as associated data). The store keeps
// it until the agent acknowledges the restore (lists it in a heartbeat after it was
// handed out, or reports progress), the restore is cancelled or settles, or Until
// passes, whichever comes first; then it is erased.
type SealedIdentity struct {
	Sealed []byte
	Until  time.Time
}

// Finished reports whether the restore has reached a final status.
func (r Restore) Finished() bool {
	return r.Status == RestoreCompleted || r.Status == RestoreFailed || r.Status == RestoreCancelled
}

// Unacknowledged reports whether r is running but its agent has not said it has it
// since it was handed out: no heartbeat listed it and no progress came (ReportedAt is
// StartedAt, as the hand-out sets it, or nil). The hand-out's answer can be lost (the
// database failed after the restore was marked running, before the heartbeat was
// answered; the connection dropped): a later heartbeat of an agent that lists its
// restores and does not list this one is handed it again.
func (r Restore) Unacknowledged() bool {
	return r.Status == RestoreRunning && r.StartedAt != nil && (r.ReportedAt == nil || !r.ReportedAt.After(*r.StartedAt))
}

// RestoreResult is what an agent reports at the end of a restore.
type RestoreResult struct {
	Status       string // completed | failed | cancelled
	Error        string
	FilesWritten int64
	BytesWritten int64
	At           time.Time
}

// Restores stores restores.
// Orders of ListRestores (RestoreFilter.Sort); each breaks ties by id, in the same
// direction.
const (
	RestoresByCreated = "created" // when it was asked for (the default, also "")
	RestoresByStatus  = "status"  // status word, then creation time
	RestoresByTarget  = "target"  // target directory, then creation time
)

// RestoreSorts are the orders ListRestores knows, RestoresByCreated first.
var RestoreSorts = []string{RestoresByCreated, RestoresByStatus, RestoresByTarget}

// RestoreFilter selects a page of restores.
type RestoreFilter struct {
	UserID string // "" for every user's
	Limit  int    // <= 0 means 50
	Offset int
	// Sort is one of RestoreSorts (another or "" is taken as RestoresByCreated),
	// descending unless Asc.
	Sort string
	Asc  bool
}

type Restores interface {
	// CreateRestore inserts r (status queued when empty). An empty ID gets a new UUID.
	CreateRestore(ctx context.Context, r *Restore) error
	GetRestore(ctx context.Context, id string) (Restore, error)
	// ListRestores lists f.UserID's restores (every user's when ""), in f's order
	// (newest first by default); limit <= 0 means 50.
	ListRestores(ctx context.Context, f RestoreFilter) ([]Restore, error)
	// PendingRestores lists an agent's queued restores, its running ones with a cancel
	// requested and its running ones not acknowledged (Restore.Unacknowledged), oldest
	// first, in one indexed query: every heartbeat asks it.
	PendingRestores(ctx context.Context, agentID string) ([]Restore, error)
	// StartRestore moves a queued restore to running. It returns ErrConflict when the
	// restore is no longer queued (another heartbeat took it, or it was cancelled),
	// so a restore is handed to its agent once.
	StartRestore(ctx context.Context, id string, at time.Time) error
	// FinishRestore records the outcome of a queued or running restore (and erases
	// its identity); a finished one gives ErrConflict and is left alone.
	FinishRestore(ctx context.Context, id string, res RestoreResult) error
	// CancelRestore cancels a queued restore at once or asks a running one to stop,
	// erasing its identity either way (a cancelled restore needs none); finished ones
	// are left alone. It returns the restore as it is afterwards.
	CancelRestore(ctx context.Context, id string, at time.Time) (Restore, error)
	// ProgressRestore records a running restore's files and bytes written so far, as
	// its agent agentID reports them at at (which also counts as a report for the
	// reaper) and erases its identity: the agent has the restore. A restore not
	// running, or not agentID's, gives ErrConflict.
	ProgressRestore(ctx context.Context, id, agentID string, files, bytes int64, at time.Time) error
	// TouchRestores records that agentID reported the running restores ids at at. A
	// report after a restore's hand-out acknowledges it and erases its identity; the
	// one the hand-out itself records (at its StartedAt) does not.
	TouchRestores(ctx context.Context, agentID string, ids []string, at time.Time) error
	// StaleRestores lists running restores last reported before before; restores
	// never reported (older agents) are not listed.
	StaleRestores(ctx context.Context, before time.Time) ([]Restore, error)
	// RestoreIdentity returns the sealed identity kept for restore id (see
	// Restore.Identity), for every hand-out of the restore until its agent
	// acknowledges it. ErrNotFound: none kept (none given, already erased, or expired
	// at now, which erases it).
	RestoreIdentity(ctx context.Context, id string, now time.Time) ([]byte, error)
	// EraseExpiredRestoreIdentities erases the identities kept past their Until at
	// now and returns how many it erased.
	EraseExpiredRestoreIdentities(ctx context.Context, now time.Time) (int, error)
}
