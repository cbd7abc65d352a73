package store

import (
	"context"
	"encoding/json"
	"time"
)

// Run is one execution of a backup (a backup_logs row).
type Run struct {
	ID        string
	ConfigID  string
	UserID    string
	AgentID   string // the agent that executes it ("" in server mode)
	StartTime time.Time
	EndTime   *time.Time
	Status    string // queued | running | completed | failed | cancelled
	// CancelRequested is set when a user asks to cancel a running run; the agent
	// learns it from its next progress report or heartbeat.
	CancelRequested bool
	Full            bool   // a full backup (else incremental on PreviousRunID)
	PreviousRunID   string // the run this incremental builds on
	DestinationID   string
	S3Path          string // archive object key
	ManifestKey     string
	ArchiveUploadID string // open multipart uploads while running
	ManifestUpload  string
	ArchiveSHA256   string
	ArchiveSize     int64 // 0 (and no SHA-256) when an unchanged incremental stored no archive
	ManifestSHA256  string
	ManifestSize    int64
	CatalogSize     int64 // the server's catalog copy (encrypted runs), 0 when none
	Encrypted       bool
	FilesProcessed  int64
	FilesSkipped    int64
	TotalBytes      int64
	BytesTransfer   int64
	Errors          json.RawMessage // [{"path","message"}] or {"message"}
	DurationMS      *int64
	ProgressAt      *time.Time // last progress report: the reaper fails runs silent too long
	CreatedAt       time.Time
}

// Orders of ListRunRecords (RunFilter.Sort); each breaks ties by id, in the same
// direction.
const (
	RunsByStart    = "started"  // start time (the default, also "")
	RunsByDuration = "duration" // as reported, else end minus start; unfinished runs last
	RunsBySize     = "size"     // bytes read (TotalBytes)
	RunsByStatus   = "status"   // status word, then start time
)

// RunSorts are the orders ListRunRecords knows, RunsByStart first.
var RunSorts = []string{RunsByStart, RunsByDuration, RunsBySize, RunsByStatus}

// RunFilter selects runs; zero fields do not filter. Newest first.
type RunFilter struct {
	UserID   string
	ConfigID string
	AgentID  string
	Status   string
	Since    time.Time
	Until    time.Time
	Limit    int // <= 0 means 50
	Offset   int
	// CountUpTo, when > 0, stops ListRunRecords' count at that many matches: counting
	// every match is linear in their number. 0 counts them all.
	CountUpTo int
	NoTotal   bool // ListRunRecords leaves the total 0 rather than count the matches
	// Sort is ListRunRecords' order, one of RunSorts (another or "" is taken
	// as RunsByStart), descending unless Asc. ListRuns is always newest first.
	Sort string
	Asc  bool
}

// RunProgress is a progress report.
type RunProgress struct {
	Time           time.Time
	FilesProcessed int64
	FilesSkipped   int64
	TotalBytes     int64
	BytesTransfer  int64
}

// RunExpired is the status of a run whose objects retention deleted. The row stays
// so the history keeps the story; Run.Status is one of queued, running, completed,
// failed, cancelled or expired.
const RunExpired = "expired"

// RunRecord is a run with what history pages show beside it.
type RunRecord struct {
	Run
	// Late is set when the run was queued after its slot had passed (missed slots,
	// an offline agent); DueAt is the first slot it stands for (nil for manual runs).
	Late      bool
	DueAt     *time.Time
	ExpiredAt *time.Time // when retention deleted its objects
	// ConfigName and AgentName are the names now ("" for a deleted agent).
	ConfigName string
	AgentName  string
}

// ScheduledConfig is an enabled config with a schedule, as the scheduler sees it.
type ScheduledConfig struct {
	ID            string
	UserID        string
	AgentID       string // "" in server mode: the built-in agent claims its runs
	Name          string
	Schedule      json.RawMessage
	LastScheduled *time.Time
	// Since is when the current schedule took effect: the config's creation, or the
	// last update that changed its schedule or enabled (kept by a trigger).
	Since time.Time
}

// ScheduledRun is a run the scheduler queues for a slot.
type ScheduledRun struct {
	Run   *Run // Status queued; on success it holds what was stored
	Slot  time.Time
	DueAt time.Time
	Late  bool
	// Alert, when set, is stored in the same transaction (a late run's alert).
	Alert *Alert
}

// RunsPer names what LatestRuns groups runs by.
type RunsPer int

const (
	PerConfig RunsPer = iota // each configuration
	PerAgent                 // each agent
)

// Runs stores runs: what the run lifecycle, scheduling, run history and retention
// read and write.
type Runs interface {
	// CreateRun inserts a run. At most one run of a config may be queued or running:
	// a second one gives ErrConflict (enforced by the database, so racing servers agree).
	CreateRun(ctx context.Context, r *Run) error
	GetRun(ctx context.Context, id string) (Run, error)
	ListRuns(ctx context.Context, f RunFilter) ([]Run, error)
	// UpdateRun writes every field of r (status transitions, upload ids, results).
	UpdateRun(ctx context.Context, r *Run) error
	RecordRunProgress(ctx context.Context, id string, p RunProgress) error
	// LastCompletedRun is the newest completed run of a config (ErrNotFound if none).
	LastCompletedRun(ctx context.Context, configID string) (Run, error)
	// StaleRuns lists running runs whose last progress (or start) is before cutoff.
	StaleRuns(ctx context.Context, cutoff time.Time) ([]Run, error)
	// ActiveRuns lists an agent's queued and running runs, oldest first, in one
	// indexed query: every heartbeat asks it. Whoever queues a run of an agent's
	// config sets Run.AgentID.
	ActiveRuns(ctx context.Context, agentID string) ([]Run, error)

	// ScheduledConfigs lists the enabled configs that have a schedule document.
	ScheduledConfigs(ctx context.Context) ([]ScheduledConfig, error)
	// QueueScheduledRun inserts q.Run and records q.Slot as its config's last
	// scheduled slot, in one transaction, only if the recorded slot is before q.Slot.
	// It returns ErrConflict, changing nothing, when the slot was already recorded
	// or the config has a queued or running run.
	QueueScheduledRun(ctx context.Context, q ScheduledRun) error
	// SkipSlot records slot as the config's last scheduled slot if the recorded one
	// is before it (else it does nothing and reports false). Then a queued run of
	// the config not yet flagged late is flagged late with dueAt, alert is stored,
	// and it reports true.
	// The alert is made by alert from the flagged run's own due time.
	SkipSlot(ctx context.Context, configID string, slot, dueAt time.Time, alert func(runDueAt time.Time) Alert) (flagged bool, err error)
	// FlagLateQueued flags late every scheduled run (one with a due slot) still queued
	// with its slot before cutoff (its agent has not picked it up), storing an alert
	// for each, made by alert from the run and its config's name. It returns the runs
	// it flagged.
	FlagLateQueued(ctx context.Context, cutoff time.Time, alert func(r RunRecord) Alert) ([]RunRecord, error)
	// CancelRun cancels a queued run at once (status cancelled, end time at) or asks
	// a running one to stop (CancelRequested); other runs are left alone. It returns
	// the run as it is afterwards.
	CancelRun(ctx context.Context, id string, at time.Time) (Run, error)
	GetRunRecord(ctx context.Context, id string) (RunRecord, error)
	// LatestRuns returns the newest run (by start time, then id) of each of userID's
	// configurations, or of each of userID's agents (every user's when userID is ""),
	// in one query that does not grow with the history. Those without runs are left
	// out; the order is unspecified.
	LatestRuns(ctx context.Context, per RunsPer, userID string) ([]Run, error)
	// ListRunRecords lists runs matching f, newest first, and counts all that match
	// (at most f.CountUpTo when it is set).
	ListRunRecords(ctx context.Context, f RunFilter) ([]RunRecord, int, error)
	// ExpireRun marks a finished run expired (its objects are gone). A queued or
	// running run gives ErrConflict.
	ExpireRun(ctx context.Context, id string, at time.Time) error
}
